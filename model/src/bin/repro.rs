//! The repro tool: turns a fuzz artifact or a soak episode seed into a
//! shrunk op trace and a regression test, printed or (with `--write`)
//! appended to `model/tests/regressions.rs`.
//!
//! ```text
//! cargo run --release -p regions-model --features small-generations --bin repro -- --artifact fuzz/artifacts/ops/crash-…
//! cargo run --release -p regions-model --bin repro -- --seed S [--ops N] [--shrink-seconds N] [--write [NAME]]
//! ```
//!
//! An artifact is decoded exactly as the fuzz target decodes its input
//! (`driver::decode_ops(bytes, MAX_FUZZ_OPS)`); a seed regenerates the soak episode
//! (`episode_ops(seed, N)`, N defaulting to the soak runner's default). The
//! fuzz target builds the core with small generations, so replay its
//! artifacts with `--features small-generations`.
//!
//! Exits 1 when the trace fails (reproduced; the test was written if
//! `--write` asked for it), 0 when it passes, 2 on bad usage, an unreadable
//! artifact, or a test `--write` could not write.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use regions_model::driver::{decode_ops, format_trace, MAX_FUZZ_OPS};
use regions_model::engine::{
    capture_panics, episode_ops, free_test_name, regression_test, regressions_file, run_caught,
    shrink_finding, write_regression_test, Flags, FlagsError, ShrinkEnd,
    BUILT_WITH_SMALL_GENERATIONS, DEFAULT_OPS_PER_EPISODE, DEFAULT_SHRINK_SECONDS,
};
use regions_model::op::Op;

const USAGE: &str = "\
usage: repro --artifact PATH [--name NAME] [--shrink-seconds N] [--write [NAME]]
       repro --seed S [--ops N] [--name NAME] [--shrink-seconds N] [--write [NAME]]

  --artifact PATH     a fuzz input (fuzz/artifacts/ops/crash-…), decoded like the fuzz target does
  --seed S            a soak episode seed (printed by the soak runner as `episode seed`)
  --ops N             ops in the soak episode (default 1000, the soak runner's default)
  --name NAME         name of the generated #[test] (default from the artifact or seed)
  --shrink-seconds N  time budget for shrinking (default 30; 0: no shrinking); when it
                      runs out, the shortest failing trace found so far is used
  --write [NAME]      append the #[test] (named NAME, else as --name) to
                      model/tests/regressions.rs and rustfmt it; refused if the name is taken

Exits 1 when the trace fails (reproduced), 0 when it passes, 2 on bad usage
or when --write could not write the test.";

/// The trace to reproduce, where it came from, and the default test name.
struct Input {
    ops: Vec<Op>,
    origin: String,
    name: String,
    shrink_budget: Duration,
    /// Whether to append the test to the regressions file.
    write: bool,
}

/// Why there is nothing to run.
enum Usage {
    /// `--help`.
    Help,
    /// A bad command line or an unreadable artifact.
    Error(String),
}

impl From<FlagsError> for Usage {
    fn from(error: FlagsError) -> Self {
        match error {
            FlagsError::Help => Usage::Help,
            other => Usage::Error(other.to_string()),
        }
    }
}

fn input() -> Result<Input, Usage> {
    let flags = Flags::parse_with_optional(
        std::env::args().skip(1),
        &[
            "--artifact",
            "--seed",
            "--ops",
            "--name",
            "--shrink-seconds",
        ],
        &["--write"],
    )?;
    let (ops, origin, default_name) = match (
        flags.get::<String>("--artifact")?,
        flags.get::<u64>("--seed")?,
    ) {
        (Some(path), None) => {
            let bytes = std::fs::read(&path)
                .map_err(|e| Usage::Error(format!("cannot read {path}: {e}")))?;
            let file = Path::new(&path)
                .file_name()
                .map_or(path.clone(), |f| f.to_string_lossy().into_owned());
            (
                decode_ops(&bytes, MAX_FUZZ_OPS),
                format!("cargo fuzz target `ops`, artifact {file}"),
                format!("fuzz_{file}"),
            )
        }
        (None, Some(seed)) => {
            let count = flags.get("--ops")?.unwrap_or(DEFAULT_OPS_PER_EPISODE);
            (
                episode_ops(seed, count),
                format!("soak episode seed {seed}, {count} ops"),
                format!("soak_seed_{seed}"),
            )
        }
        _ => {
            return Err(Usage::Error(
                "give exactly one of --artifact and --seed".into(),
            ))
        }
    };
    let seconds = flags
        .get("--shrink-seconds")?
        .unwrap_or(DEFAULT_SHRINK_SECONDS);
    let shrink_budget = Duration::try_from_secs_f64(seconds)
        .map_err(|e| Usage::Error(format!("`--shrink-seconds {seconds}`: {e}")))?;
    let name = flags.get("--name")?.unwrap_or(default_name);
    // `--write NAME` names the test; a bare `--write` keeps `name`.
    let write = flags.get::<String>("--write")?;
    Ok(Input {
        ops,
        origin,
        name: write.clone().filter(|n| !n.is_empty()).unwrap_or(name),
        shrink_budget,
        write: write.is_some(),
    })
}

fn main() -> ExitCode {
    let Input {
        ops,
        origin,
        name,
        shrink_budget,
        write,
    } = match input() {
        Ok(input) => input,
        Err(Usage::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(Usage::Error(message)) => {
            eprintln!("repro: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let regressions = regressions_file();
    if write {
        // A taken name is refused before the shrink, not after it.
        if let Err(error) = free_test_name(&regressions, &name) {
            eprintln!("repro: --write: {error}");
            return ExitCode::from(2);
        }
    }
    capture_panics();
    println!(
        "repro: {origin}: {} ops (small-generations {})",
        ops.len(),
        if BUILT_WITH_SMALL_GENERATIONS {
            "on"
        } else {
            "off"
        }
    );
    let finding = match run_caught(&ops) {
        Ok(outcome) => {
            println!(
                "repro: the trace PASSES ({} ops, {} objects and {} regions alive at the end): nothing to reproduce",
                outcome.report.ops, outcome.live_objects, outcome.live_regions
            );
            if !BUILT_WITH_SMALL_GENERATIONS {
                println!("repro: fuzz artifacts were found with small generations: try --features small-generations");
            }
            return ExitCode::SUCCESS;
        }
        Err(finding) => finding,
    };
    println!("repro: the trace FAILS:\n{finding}");
    println!(
        "repro: shrinking the {} ops up to the failure (budget {} s)…",
        finding.op_index() + usize::from(finding.during_an_op()),
        shrink_budget.as_secs_f64()
    );
    let shrunk = shrink_finding(&ops, &finding, shrink_budget);
    println!("repro: {}", shrunk.summary());
    if shrunk.end != ShrinkEnd::Skipped {
        println!(
            "repro: the trace it ends with fails with:\n{}",
            shrunk.finding
        );
    }
    println!(
        "repro: the op trace ({} ops):\n{}",
        shrunk.ops.len(),
        format_trace(&shrunk.ops)
    );
    let origin = match shrunk.end {
        ShrinkEnd::Finished => origin,
        ShrinkEnd::OutOfTime | ShrinkEnd::Skipped => format!(
            "{origin}; not minimal, {} of {} ops ({})",
            shrunk.ops.len(),
            shrunk.unshrunk_len,
            if shrunk.end == ShrinkEnd::Skipped {
                "not shrunk".to_owned()
            } else {
                format!("shrinking ran out of its {} s", shrink_budget.as_secs_f64())
            }
        ),
    };
    if !write {
        println!("repro: regression test (or rerun with --write to append it):\n");
        print!("{}", regression_test(&name, &origin, &shrunk.ops));
        return ExitCode::FAILURE;
    }
    match write_regression_test(&regressions, &name, &origin, &shrunk.ops) {
        Ok(ident) => {
            println!(
                "repro: appended `fn {ident}` to {}; fill in its POSTMORTEM line, then check that\n  cargo test -p regions-model{} --test regressions {ident}\nfails until the bug is fixed",
                regressions.display(),
                if BUILT_WITH_SMALL_GENERATIONS { " --features small-generations" } else { "" },
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("repro: --write: {error}; the test, to paste by hand:\n");
            print!("{}", regression_test(&name, &origin, &shrunk.ops));
            ExitCode::from(2)
        }
    }
}

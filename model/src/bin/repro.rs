//! The repro tool: turns a fuzz artifact or a soak episode seed into a
//! shrunk op trace and a ready-to-paste regression test.
//!
//! ```text
//! cargo run --release -p regions-model --features small-generations --bin repro -- --artifact fuzz/artifacts/ops/crash-…
//! cargo run --release -p regions-model --bin repro -- --seed S [--ops N]
//! ```
//!
//! An artifact is decoded exactly as the fuzz target decodes its input
//! (`decode_ops(bytes, MAX_FUZZ_OPS)`); a seed regenerates the soak episode
//! (`episode_ops(seed, N)`, N defaulting to the soak runner's default). The
//! fuzz target builds the core with small generations, so replay its
//! artifacts with `--features small-generations`.
//!
//! Exits 1 when the trace fails (reproduced), 0 when it passes, 2 on bad
//! usage or an unreadable artifact.

use std::path::Path;
use std::process::ExitCode;

use regions_model::driver::{format_trace, MAX_FUZZ_OPS};
use regions_model::engine::{
    capture_panics, episode_ops, regression_test, run_caught, shrink_finding, Flags, FlagsError,
    BUILT_WITH_SMALL_GENERATIONS, DEFAULT_OPS_PER_EPISODE,
};
use regions_model::op::{decode_ops, Op};

const USAGE: &str = "\
usage: repro --artifact PATH [--name NAME]
       repro --seed S [--ops N] [--name NAME]

  --artifact PATH  a fuzz input (fuzz/artifacts/ops/crash-…), decoded like the fuzz target does
  --seed S         a soak episode seed (printed by the soak runner as `episode seed`)
  --ops N          ops in the soak episode (default 1000, the soak runner's default)
  --name NAME      name of the generated #[test] (default from the artifact or seed)

Exits 1 when the trace fails (reproduced), 0 when it passes, 2 on bad usage.";

/// The trace to reproduce, where it came from, and the default test name.
struct Input {
    ops: Vec<Op>,
    origin: String,
    name: String,
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
    let flags = Flags::parse(
        std::env::args().skip(1),
        &["--artifact", "--seed", "--ops", "--name"],
    )?;
    let input = match (
        flags.get::<String>("--artifact")?,
        flags.get::<u64>("--seed")?,
    ) {
        (Some(path), None) => {
            let bytes = std::fs::read(&path)
                .map_err(|e| Usage::Error(format!("cannot read {path}: {e}")))?;
            let file = Path::new(&path)
                .file_name()
                .map_or(path.clone(), |f| f.to_string_lossy().into_owned());
            Input {
                ops: decode_ops(&bytes, MAX_FUZZ_OPS),
                origin: format!("cargo fuzz target `ops`, artifact {file}"),
                name: format!("fuzz_{file}"),
            }
        }
        (None, Some(seed)) => {
            let count = flags.get("--ops")?.unwrap_or(DEFAULT_OPS_PER_EPISODE);
            Input {
                ops: episode_ops(seed, count),
                origin: format!("soak episode seed {seed}, {count} ops"),
                name: format!("soak_seed_{seed}"),
            }
        }
        _ => {
            return Err(Usage::Error(
                "give exactly one of --artifact and --seed".into(),
            ))
        }
    };
    Ok(Input {
        name: flags.get("--name")?.unwrap_or(input.name),
        ..input
    })
}

fn main() -> ExitCode {
    let Input { ops, origin, name } = match input() {
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
    let (shrunk, shrunk_finding) = shrink_finding(&ops, &finding);
    println!(
        "repro: shrunk from {} to {} ops; the shrunk trace fails with:\n{shrunk_finding}",
        ops.len(),
        shrunk.len()
    );
    println!("repro: shrunk op trace:\n{}", format_trace(&shrunk));
    println!("repro: regression test:\n");
    print!("{}", regression_test(&name, &origin, &shrunk));
    ExitCode::FAILURE
}

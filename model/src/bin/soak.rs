//! The soak runner: seeded random episodes through the differential driver,
//! on the stable toolchain, for a time or an op budget.
//!
//! ```text
//! cargo run --release -p regions-model --bin soak -- [--seconds N | --ops N] [--seed S] [--ops-per-run N] [--shrink-seconds N]
//! ```
//!
//! Each episode is a fresh driver over `episode_ops(seed, ops_per_run)`
//! (see `regions_model::engine`), with episode seeds drawn from the master
//! seed. Every few seconds it prints one progress line; on the first
//! failure it prints the seeds, the failure, the trace shrunk within
//! `--shrink-seconds` (how the shrink ended, and the unshrunk length) and
//! the repro command, and exits with status 1.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use regions_model::driver::format_trace;
use regions_model::engine::{
    capture_panics, episode_ops, episode_seeds, run_caught, shrink_finding, Finding, Flags,
    FlagsError, Progress, ShrinkEnd, BUILT_WITH_SMALL_GENERATIONS, DEFAULT_OPS_PER_EPISODE,
    DEFAULT_SHRINK_SECONDS,
};
use regions_model::op::Op;

const USAGE: &str = "\
usage: soak [--seconds N | --ops N] [--seed S] [--ops-per-run N] [--progress-every SECONDS]
            [--shrink-seconds N]

  --seconds N         stop after N seconds (default 60 when --ops is not given)
  --ops N             stop after at least N ops (whole episodes)
  --seed S            master seed (default: random, printed)
  --ops-per-run N     ops per episode (default 1000)
  --progress-every S  seconds between progress lines (default 5)
  --shrink-seconds N  time budget for shrinking a failure (default 30; 0: no shrinking);
                      when it runs out, the shortest failing trace found so far is printed

Exits 0 when every episode passed, 1 on a divergence or panic, 2 on bad usage.";

/// When to stop.
struct Budget {
    seconds: Option<u64>,
    ops: Option<u64>,
}

impl Budget {
    fn exhausted(&self, elapsed: Duration, ops: u64) -> bool {
        self.seconds
            .is_some_and(|s| elapsed.as_secs_f64() >= s as f64)
            || self.ops.is_some_and(|n| ops >= n)
    }
}

struct Settings {
    budget: Budget,
    master: u64,
    ops_per_run: usize,
    progress_every: Duration,
    shrink_budget: Duration,
}

fn settings() -> Result<Settings, FlagsError> {
    let flags = Flags::parse(
        std::env::args().skip(1),
        &[
            "--seconds",
            "--ops",
            "--seed",
            "--ops-per-run",
            "--progress-every",
            "--shrink-seconds",
        ],
    )?;
    let ops = flags.get("--ops")?;
    let seconds = flags
        .get("--seconds")?
        .or(if ops.is_none() { Some(60) } else { None });
    Ok(Settings {
        budget: Budget { seconds, ops },
        master: flags.get("--seed")?.unwrap_or_else(rand::random),
        ops_per_run: flags
            .get("--ops-per-run")?
            .unwrap_or(DEFAULT_OPS_PER_EPISODE)
            .max(1),
        progress_every: Duration::from_secs_f64(
            flags.get("--progress-every")?.unwrap_or(5.0_f64).max(0.1),
        ),
        shrink_budget: shrink_budget(&flags)?,
    })
}

fn main() -> ExitCode {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(FlagsError::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("soak: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    capture_panics();
    let Settings {
        budget,
        master,
        ops_per_run,
        progress_every,
        shrink_budget,
    } = settings;
    let limits: Vec<String> = [
        budget.seconds.map(|s| format!("{s} s")),
        budget.ops.map(|n| format!("{n} ops")),
    ]
    .into_iter()
    .flatten()
    .collect();
    println!(
        "soak: master seed {master}, {ops_per_run} ops per episode, budget {}, small-generations {}",
        limits.join(" or "),
        if BUILT_WITH_SMALL_GENERATIONS { "on" } else { "off" },
    );

    let started = Instant::now();
    let mut next_line = progress_every;
    let mut progress = Progress::default();
    let mut printed_at_ops = None;
    for (episode, seed) in episode_seeds(master).enumerate() {
        if budget.exhausted(started.elapsed(), progress.totals.ops) {
            break;
        }
        let ops = episode_ops(seed, ops_per_run);
        match run_caught(&ops) {
            Ok(outcome) => progress.record(&outcome),
            Err(finding) => {
                println!("{}", progress.line(started.elapsed()));
                report_failure(master, episode, seed, &ops, &finding, shrink_budget);
                return ExitCode::FAILURE;
            }
        }
        if started.elapsed() >= next_line {
            println!("{}", progress.line(started.elapsed()));
            printed_at_ops = Some(progress.totals.ops);
            while next_line <= started.elapsed() {
                next_line += progress_every;
            }
        }
    }
    if printed_at_ops != Some(progress.totals.ops) {
        println!("{}", progress.line(started.elapsed()));
    }
    println!(
        "soak: PASS: {} episodes, {} ops, no divergence (master seed {master})",
        progress.episodes, progress.totals.ops
    );
    ExitCode::SUCCESS
}

/// `--shrink-seconds`: a time budget of whole or fractional seconds.
fn shrink_budget(flags: &Flags) -> Result<Duration, FlagsError> {
    let seconds = flags
        .get("--shrink-seconds")?
        .unwrap_or(DEFAULT_SHRINK_SECONDS);
    Duration::try_from_secs_f64(seconds).map_err(|e| FlagsError::Invalid {
        flag: "--shrink-seconds".into(),
        value: seconds.to_string(),
        reason: e.to_string(),
    })
}

/// Prints everything needed to reproduce and fix the failure.
fn report_failure(
    master: u64,
    episode: usize,
    seed: u64,
    ops: &[Op],
    finding: &Finding,
    shrink_budget: Duration,
) {
    println!(
        "soak: FAIL in episode {episode} (master seed {master}, episode seed {seed}, {} ops)",
        ops.len()
    );
    print!("{finding}");
    println!(
        "soak: shrinking the {} ops up to the failure (budget {} s)…",
        finding.op_index() + usize::from(finding.during_an_op()),
        shrink_budget.as_secs_f64()
    );
    let shrunk = shrink_finding(ops, finding, shrink_budget);
    println!("soak: {}", shrunk.summary());
    if shrunk.end != ShrinkEnd::Skipped {
        println!("soak: the trace it ends with fails with:");
        print!("{}", shrunk.finding);
    }
    println!(
        "soak: the trace ({} ops; `use regions_model::op::prelude::*;` makes it Rust):",
        shrunk.ops.len()
    );
    print!("{}", format_trace(&shrunk.ops));
    println!(
        "soak: reproduce and write a regression test with:\n  cargo run --release -p regions-model{} --bin repro -- --seed {seed} --ops {}{} --write",
        if BUILT_WITH_SMALL_GENERATIONS { " --features small-generations" } else { "" },
        ops.len(),
        if shrunk.end == ShrinkEnd::Finished { String::new() } else { " --shrink-seconds 300".to_owned() },
    );
}

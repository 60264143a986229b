//! Every fuzzing and soak entry point, briefly, under `cargo test`: the
//! fuzz target's `fuzz_ops` on pseudo-random inputs for about a second and
//! on every file of the committed corpus `corpus/ops/`, and a handful of
//! soak episodes. A harness change that breaks an engine fails here, not in
//! the next nightly campaign.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use regions_model::driver::{decode_ops, fuzz_ops, Report, MAX_FUZZ_OPS};
use regions_model::engine::{episode_ops, episode_seeds, run_caught, Progress};
use regions_model::op::OP_KINDS;

/// How long the random-input smoke test feeds the fuzz entry point.
const SMOKE_TIME: Duration = Duration::from_secs(1);

/// The committed seed corpus, sorted by name.
fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/ops");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn fuzz_entry_point_survives_a_second_of_random_inputs() {
    let mut rng = StdRng::seed_from_u64(0x5eed_f022);
    let started = Instant::now();
    let mut inputs = 0;
    while started.elapsed() < SMOKE_TIME {
        // Mostly short inputs, like a fuzzer's; now and then a full one.
        let len = if rng.random_ratio(1, 8) {
            rng.random_range(0..4096)
        } else {
            rng.random_range(0..256)
        };
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        fuzz_ops(&bytes);
        inputs += 1;
    }
    assert!(inputs > 10, "only {inputs} inputs in {SMOKE_TIME:?}");
}

#[test]
fn every_committed_corpus_file_replays() {
    let files = corpus_files();
    assert!(!files.is_empty(), "corpus/ops/ is empty");
    for path in files {
        // Printed before the run, so a failure's captured output names the file.
        println!("replaying {}", path.display());
        fuzz_ops(&fs::read(&path).expect("a readable corpus file"));
    }
}

#[test]
fn committed_corpus_covers_every_op_kind() {
    let kinds: BTreeSet<&str> = corpus_files()
        .iter()
        .flat_map(|path| decode_ops(&fs::read(path).expect("readable"), MAX_FUZZ_OPS))
        .map(|op| op.kind_name())
        .collect();
    assert_eq!(
        kinds.len(),
        OP_KINDS,
        "the seed corpus covers only {kinds:?}; regenerate it (docs/TESTING.md, Fuzzing)"
    );
}

#[test]
fn soak_episodes_pass_and_reach_region_deaths_with_promotions() {
    let mut progress = Progress::default();
    for seed in episode_seeds(1).take(4) {
        match run_caught(&episode_ops(seed, 250)) {
            Ok(outcome) => progress.record(&outcome),
            Err(finding) => panic!("soak episode seed {seed} failed:\n{finding}"),
        }
    }
    assert_eq!(progress.episodes, 4);
    assert_eq!(progress.totals.ops, 1000);
    assert!(
        progress.totals.reach.deaths_with_promotions > 0,
        "{}",
        progress.line(Duration::from_secs(1))
    );
}

/// The failure paths of `docs/SEMANTICS.md` ("Budgets", "Destructors") that
/// the committed corpus must reach, so that every fuzzing campaign starts
/// from inputs that exercise them.
#[test]
fn committed_corpus_reaches_the_failure_paths() {
    let mut report = Report::default();
    for path in corpus_files() {
        let ops = decode_ops(&fs::read(&path).expect("readable"), MAX_FUZZ_OPS);
        match run_caught(&ops) {
            Ok(outcome) => report.merge(&outcome.report),
            Err(finding) => panic!("{} fails: {finding}", path.display()),
        }
    }
    let rejected = |kind: &str| report.rejections.keys().any(|r| r.contains(kind));
    let goals = [
        ("BudgetExceeded", rejected("BudgetExceeded")),
        ("SizeOverflow", rejected("SizeOverflow")),
        ("RefcountOverflow", rejected("RefcountOverflow")),
        (
            "a panicking destructor",
            report.panicking_destructor_ops > 0,
        ),
        (
            "a stored reference given back by its container's death",
            report.reach.stored_references_released_by_death > 0,
        ),
        ("an unstore", report.reach.unstores > 0),
        ("NotStored", rejected("NotStored")),
        (
            "an iteration that listed objects",
            report.nonempty_iterations > 0,
        ),
        (
            "an alloc_with whose init panicked",
            report.panicked_fills > 0,
        ),
        ("an injected OutOfMemory", report.injected_failures > 0),
        (
            "a serialization round trip that copied objects",
            report.reach.objects_copied > 0,
        ),
        ("Unserializable", rejected("Unserializable")),
        (
            "a promotion refused by the budget of a region holding objects",
            report.promotions_refused_by_an_occupied_budget > 0,
        ),
        (
            "an unstore of a moved object beside another of its region",
            report.unstores_beside_a_neighbour > 0,
        ),
    ];
    let missed: Vec<&str> = goals
        .iter()
        .filter(|(_, reached)| !reached)
        .map(|(goal, _)| *goal)
        .collect();
    assert!(
        missed.is_empty(),
        "the seed corpus never reaches {missed:?}; regenerate it (docs/TESTING.md, Fuzzing)"
    );
}

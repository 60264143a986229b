//! The differential driver's traces, sized for Miri: every file of the
//! committed corpus `corpus/ops/` decoded as the fuzz target decodes it and
//! replayed through the driver with full comparisons only at the end. (The
//! soak's generated traces are not: proptest's generation alone takes
//! Miri tens of minutes.) Under `cargo test` it is one more
//! replay; its point is `bash ci/miri.sh`, which runs it under Miri, so
//! aliasing and provenance bugs on paths only random traces reach (region
//! deaths with promotions, forwarding, compaction, slices, serialization,
//! injected allocation failures) are caught as well as those in the core's
//! own tests. Miri needs `-Zmiri-disable-isolation` to read the corpus.

use std::fs;
use std::path::{Path, PathBuf};

use regions_model::driver::{run_fuzz_input, MAX_FUZZ_OPS};

/// Full comparisons at the end of each trace only: Miri runs about a
/// thousand times slower than native code, and the per-op checks already
/// touch everything an op changed.
const NO_PERIODIC_FULL_CHECK: usize = usize::MAX;

/// Every file, under Miri too: since the corpus keeps its inputs to 48
/// bytes (a few ops each), all of them fit in the quarter of an hour a
/// 2-core CI machine allows (docs/TESTING.md, "Miri over the harness's
/// traces"). Raise it to 2 (every other file, sorted by name) if the
/// corpus grows heavier.
const MIRI_STRIDE: usize = 1;

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
fn the_committed_corpus_replays_through_the_driver() {
    let files = corpus_files();
    assert!(!files.is_empty(), "corpus/ops/ is empty");
    for path in files.into_iter().step_by(MIRI_STRIDE) {
        println!("replaying {}", path.display());
        let data = fs::read(&path).expect("a readable file");
        let mut ops = Vec::new();
        if let Err(failure) = run_fuzz_input(&data, MAX_FUZZ_OPS, NO_PERIODIC_FULL_CHECK, &mut ops)
        {
            panic!("{}: {failure}", path.display());
        }
    }
}

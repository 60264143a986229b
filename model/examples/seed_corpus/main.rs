//! Writes the seed corpus of the fuzz target `ops`: planted inputs that
//! spell histories random bytes rarely do (`plans.rs`), then random byte
//! strings (and, with `--also DIR`, an older corpus), decoded as the target
//! decodes them, greedily chosen so that together they cover every op kind
//! and the states where bugs hide, each at most [`MAX_FILE_LEN`] bytes.
//!
//! ```text
//! cargo run --release -p regions-model --features small-generations --example seed_corpus -- \
//!   --out /tmp/seeds --candidates 150000 --also corpus/ops
//! rm -r corpus/ops && mv /tmp/seeds corpus/ops
//! ```
//!
//! Each candidate input is run through the driver; its *features* are the
//! op kinds it contains, the rejection kinds it provoked, and the reach
//! goals it hit (a region death with promotion, a destructor on death,
//! stale, fabricated and mistyped handles rejected, nested regions, a
//! forwarding chain, a recycled or retired id, a compaction that moved
//! objects or released a block, a bulk allocation of 2 or more objects, a
//! slice allocated, the elements of a destroyed tracked slice dropped, a
//! mistyped slice read rejected, and more: see `features`). The tool keeps
//! picking the candidate that covers the most features per byte among
//! those still covered fewer than `--cover` times, so every feature ends up
//! in `--cover` different files, and shrinks a pick that is too long. The
//! files stay short because libFuzzer mutates at the length of the longest
//! seed, and its speed follows (docs/TESTING.md, "Throughput"). The result
//! is not minimized with `cargo fuzz cmin`, which keeps inputs by coverage
//! and would drop planted inputs, whose point is a state. A candidate that
//! fails is a bug: the tool prints it and exits with status 1.

mod plans;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use regions_model::driver::{decode_ops, Report, MAX_FUZZ_OPS};
use regions_model::engine::{run_caught, Flags, FlagsError};
use regions_model::op::OP_KINDS;

const USAGE: &str =
    "usage: seed_corpus --out DIR [--candidates N] [--cover K] [--seed S] [--also DIR]";

/// Input lengths tried, in bytes (about 3 bytes make an op). libFuzzer
/// starts mutating at the length of the longest corpus file and lengthens
/// inputs only when it stops finding coverage, so these lengths set the
/// fuzzer's speed: with 64-byte seeds it runs twice as many inputs a second
/// as with 128-byte ones (docs/TESTING.md, "Throughput").
const LENGTHS: [usize; 8] = [8, 16, 24, 32, 40, 48, 96, 192];

/// The longest file the tool writes: a longer pick is shrunk below it (see
/// [`shrink_keeping`]), or left out if it cannot be.
const MAX_FILE_LEN: usize = 48;

/// The features of one passing run.
fn features(report: &Report) -> BTreeSet<String> {
    let mut features: BTreeSet<String> = report
        .ops_by_kind
        .keys()
        .map(|kind| format!("op {kind}"))
        .collect();
    features.extend(report.rejections.keys().map(|r| format!("rejection {r}")));
    let goals = [
        (
            "region death with promotion",
            report.reach.deaths_with_promotions > 0,
        ),
        (
            "destructor on region death",
            report.destructor_calls_on_region_death > 0,
        ),
        (
            "weakly held object destroyed by region death",
            report.reach.weakly_held_destroyed_by_death > 0,
        ),
        ("stale handle rejected", report.stale_rejections > 0),
        (
            "fabricated handle rejected",
            report.fabricated_rejections > 0,
        ),
        (
            "mistyped access rejected",
            report.type_mismatch_rejections > 0,
        ),
        ("regions nested 3 deep", report.max_region_depth >= 3),
        (
            "object promoted twice",
            report.reach.max_promotions_of_one_object >= 2,
        ),
        (
            "resolution through a forwarding record",
            report.forwarded_resolutions > 0,
        ),
        ("region id recycled", report.region_id_recycles > 0),
        ("retired id seen", report.retired_ids_seen > 0),
        (
            "compaction moved objects",
            report.compactions_that_moved > 0,
        ),
        (
            "compaction released a block",
            report.blocks_released_by_compaction > 0,
        ),
        (
            "bulk allocation of 2 or more",
            report.largest_bulk_allocation >= 2,
        ),
        ("slice allocated", report.slices_allocated > 0),
        (
            "tracked slice elements dropped",
            report.tracked_slice_elements_dropped > 0,
        ),
        (
            "mistyped slice read rejected",
            report.slice_type_mismatches > 0,
        ),
        ("panicking destructor", report.panicking_destructor_ops > 0),
        ("injected OutOfMemory", report.injected_failures > 0),
        (
            "stored reference released by its container's death",
            report.reach.stored_references_released_by_death > 0,
        ),
        ("stored reference unstored", report.reach.unstores > 0),
        ("iteration listed objects", report.nonempty_iterations > 0),
        ("iter_mut changed values", report.mutating_iterations > 0),
        ("alloc_with init panicked", report.panicked_fills > 0),
        (
            "promotion refused by an occupied region's budget",
            report.promotions_refused_by_an_occupied_budget > 0,
        ),
        (
            "moved object unstored beside another of its region",
            report.unstores_beside_a_neighbour > 0,
        ),
        (
            "serialization round trip copied objects",
            report.reach.objects_copied > 0,
        ),
    ];
    features.extend(
        goals
            .iter()
            .filter(|(_, reached)| *reached)
            .map(|(goal, _)| goal.to_string()),
    );
    features
}

/// The features of the input `bytes`, or `None` if it fails (a bug: the
/// caller reports it).
fn features_of(bytes: &[u8]) -> Result<BTreeSet<String>, String> {
    let ops = decode_ops(bytes, MAX_FUZZ_OPS);
    run_caught(&ops)
        .map(|outcome| features(&outcome.report))
        .map_err(|finding| finding.to_string())
}

/// `bytes` made at most [`MAX_FILE_LEN`] long by removing runs of bytes
/// (halving the run length down to one byte) while the input keeps every
/// feature of `wanted`; with its features, or `None` if it stays too long.
/// The decoder reads an input front to back, so a removed run drops or
/// changes the ops it held and leaves the rest decodable.
fn shrink_keeping(
    mut bytes: Vec<u8>,
    wanted: &BTreeSet<String>,
) -> Option<(Vec<u8>, BTreeSet<String>)> {
    let keeps = |candidate: &[u8]| {
        features_of(candidate)
            .ok()
            .filter(|found| wanted.is_subset(found))
    };
    let mut features = keeps(&bytes)?;
    let mut run = bytes.len().next_power_of_two() / 2;
    while run > 0 && bytes.len() > MAX_FILE_LEN {
        let mut start = 0;
        while start < bytes.len() && bytes.len() > MAX_FILE_LEN {
            let end = (start + run).min(bytes.len());
            let mut candidate = bytes[..start].to_vec();
            candidate.extend_from_slice(&bytes[end..]);
            match keeps(&candidate) {
                Some(found) => (bytes, features) = (candidate, found),
                None => start += run,
            }
        }
        run /= 2;
    }
    (bytes.len() <= MAX_FILE_LEN).then_some((bytes, features))
}

/// The contents of every file in `dir`.
fn read_inputs(dir: &str) -> Result<Vec<Vec<u8>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {dir}: {e}"))?;
    entries
        .map(|entry| {
            let path = entry.map_err(|e| format!("cannot list {dir}: {e}"))?.path();
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        })
        .collect()
}

/// FNV-1a, for stable file names.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

struct Settings {
    out: String,
    candidates: usize,
    cover: usize,
    seed: u64,
    /// Files to consider besides the random candidates (the corpus being
    /// replaced, whose inputs reach goals random bytes rarely do).
    also: Option<String>,
}

fn settings() -> Result<Settings, FlagsError> {
    let flags = Flags::parse(
        std::env::args().skip(1),
        &["--out", "--candidates", "--cover", "--seed", "--also"],
    )?;
    Ok(Settings {
        out: flags
            .get("--out")?
            .ok_or_else(|| FlagsError::MissingValue("--out".into()))?,
        candidates: flags.get("--candidates")?.unwrap_or(30_000),
        cover: flags.get("--cover")?.unwrap_or(2),
        seed: flags.get("--seed")?.unwrap_or(0),
        also: flags.get("--also")?,
    })
}

fn main() -> ExitCode {
    let Settings {
        out,
        candidates,
        cover,
        seed,
        also,
    } = match settings() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("seed_corpus: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let mut rng = StdRng::seed_from_u64(seed);
    let mut pool: Vec<(Vec<u8>, BTreeSet<String>)> = Vec::new();
    let existing = match also.as_deref().map(read_inputs).transpose() {
        Ok(existing) => existing.unwrap_or_default(),
        Err(error) => {
            eprintln!("seed_corpus: {error}");
            return ExitCode::from(2);
        }
    };
    let mut planted = Vec::new();
    for plan in plans::plans() {
        match plans::encode(&plan, &mut rng) {
            Some(bytes) => {
                println!(
                    "seed_corpus: planted `{}` in {} bytes",
                    plan.name,
                    bytes.len()
                );
                planted.push(bytes);
            }
            None => {
                eprintln!("seed_corpus: found no bytes for a step of `{}`", plan.name);
                return ExitCode::FAILURE;
            }
        }
    }
    let random = (0..candidates).map(|_| {
        let mut bytes = vec![0u8; LENGTHS[rng.random_range(0..LENGTHS.len())]];
        rng.fill_bytes(&mut bytes);
        bytes
    });
    // Planted inputs are kept whatever they cover: their point is a state,
    // which the features may not name.
    let mut covered: BTreeMap<String, usize> = BTreeMap::new();
    let mut chosen = Vec::new();
    for bytes in planted {
        match features_of(&bytes) {
            Ok(found) => {
                for feature in found {
                    *covered.entry(feature).or_default() += 1;
                }
                chosen.push(bytes);
            }
            Err(finding) => {
                eprintln!("seed_corpus: a planted input fails; reproduce it with the repro tool:\n{finding}");
                return ExitCode::FAILURE;
            }
        }
    }
    for bytes in existing.into_iter().chain(random) {
        match features_of(&bytes) {
            Ok(found) => pool.push((bytes, found)),
            Err(finding) => {
                eprintln!("seed_corpus: a candidate input fails; reproduce it with the repro tool:\n{finding}");
                return ExitCode::FAILURE;
            }
        }
    }

    loop {
        let gain = |features: &BTreeSet<String>| {
            features
                .iter()
                .filter(|f| covered.get(*f).copied().unwrap_or(0) < cover)
                .count()
        };
        let best = pool
            .iter()
            .enumerate()
            .map(|(i, (bytes, features))| (gain(features) * 1_000_000 / bytes.len(), i))
            .max();
        let Some((_, index)) = best.filter(|&(per_byte, _)| per_byte > 0) else {
            break;
        };
        let (bytes, features) = pool.swap_remove(index);
        let wanted: BTreeSet<String> = features
            .iter()
            .filter(|f| covered.get(*f).copied().unwrap_or(0) < cover)
            .cloned()
            .collect();
        let Some((bytes, features)) = shrink_keeping(bytes, &wanted) else {
            continue;
        };
        let gained = gain(&features);
        for feature in &features {
            *covered.entry(feature.clone()).or_default() += 1;
        }
        println!(
            "seed_corpus: pick {} bytes, +{gained} features ({} total)",
            bytes.len(),
            covered.len()
        );
        chosen.push(bytes);
    }

    let kinds = covered.keys().filter(|f| f.starts_with("op ")).count();
    if kinds < OP_KINDS {
        eprintln!("seed_corpus: only {kinds} of {OP_KINDS} op kinds covered; raise --candidates");
        return ExitCode::FAILURE;
    }
    if let Err(error) = std::fs::create_dir_all(&out) {
        eprintln!("seed_corpus: cannot create {out}: {error}");
        return ExitCode::from(2);
    }
    for bytes in &chosen {
        let path = format!("{out}/seed-{:016x}", fnv(bytes));
        if let Err(error) = std::fs::write(&path, bytes) {
            eprintln!("seed_corpus: cannot write {path}: {error}");
            return ExitCode::from(2);
        }
    }
    println!(
        "seed_corpus: wrote {} files to {out}, covering {} features:",
        chosen.len(),
        covered.len()
    );
    for (feature, count) in &covered {
        println!("  {feature}: {count}");
    }
    ExitCode::SUCCESS
}

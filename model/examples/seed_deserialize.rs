//! Writes a seed corpus for the fuzz target `deserialize`: streams of
//! `Registry::serialize`, valid and damaged.
//!
//! ```text
//! cargo run --release -p regions-model --example seed_deserialize -- --out corpus/deserialize
//! cd fuzz && cargo +nightly fuzz cmin deserialize ../corpus/deserialize
//! ```
//!
//! The streams come from the fixture's populated registries
//! (`regions_model::serial_fixture`) of several seeds and sizes, with and
//! without typed objects: every live region's subtree is serialized (the
//! root's too, when it holds no unserializable object), so they hold
//! nested regions, budgets, refcounts, forwarded objects' old handles,
//! stored references and `Persist` values linking to each other; and
//! `serial_fixture::extreme_streams` (many of one small thing). Each valid
//! stream must deserialize into the fuzz target's registry, or be refused
//! by the decoder's expansion limit (else the tool fails: that is a bug);
//! it is written together with truncated and bit-flipped variants of it. Every file written is first run through
//! `check_deserialize`, the fuzz target's checks, so a seed that would
//! crash the target makes the tool panic instead.

use std::collections::BTreeSet;
use std::process::ExitCode;

use regions::{Error, ErrorKind};
use regions_model::engine::{Flags, FlagsError};
use regions_model::serial_fixture::{
    check_deserialize, extreme_streams, populated_registry, populated_registry_with, Shape,
};

/// Why the decoder refuses a stream whose copy would take far more memory
/// than its length (`docs/FORMAT.md`, "Limits").
const EXPANSION_REFUSAL: &str = "the objects would take far more memory than the stream";

const USAGE: &str = "usage: seed_deserialize --out DIR [--seed S]";

/// Random objects of the fixture registries serialized.
const SIZES: [usize; 3] = [0, 4, 16];
/// How many of one thing the extreme subtrees hold.
const EXTREME_COUNTS: [usize; 1] = [16];
/// Fixture seeds per size.
const SEEDS: u64 = 1;

/// FNV-1a, for stable file names.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// xorshift64*, for the damage.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }
}

/// Every valid stream of the fixture registries, with its origin.
fn valid_streams() -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut shapes = vec![Shape::default()];
    for &objects in &SIZES {
        for seed in 0..SEEDS {
            for typed in [true, false] {
                shapes.push(Shape {
                    seed: seed * 1000 + objects as u64,
                    objects,
                    typed,
                    unserializable: false,
                });
            }
        }
    }
    let mut streams = Vec::new();
    for &count in &EXTREME_COUNTS {
        streams.extend(extreme_streams(count));
    }
    for shape in shapes {
        let reg = populated_registry_with(shape);
        for region in reg.live_regions() {
            match reg.serialize(region) {
                Ok(bytes) => streams.push((format!("{shape:?} region {region}"), bytes)),
                Err(error) if error.kind() == ErrorKind::Unserializable => {}
                Err(error) => return Err(format!("serializing {region} of {shape:?}: {error}")),
            }
        }
    }
    Ok(streams)
}

fn main() -> ExitCode {
    let flags = match Flags::parse(std::env::args().skip(1), &["--out", "--seed"]) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("seed_deserialize: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (out, seed) = match (flags.get::<String>("--out"), flags.get::<u64>("--seed")) {
        (Ok(Some(out)), Ok(seed)) => (out, seed.unwrap_or(1)),
        (Ok(None), _) => {
            eprintln!(
                "seed_deserialize: {}\n{USAGE}",
                FlagsError::MissingValue("--out".into())
            );
            return ExitCode::from(2);
        }
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("seed_deserialize: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let streams = match valid_streams() {
        Ok(streams) => streams,
        Err(error) => {
            eprintln!("seed_deserialize: {error}");
            return ExitCode::FAILURE;
        }
    };

    let mut rng = Rng(seed | 1);
    let mut files: BTreeSet<Vec<u8>> = BTreeSet::new();
    let (mut valid, mut damaged, mut expansive) = (0, 0, 0);
    for (origin, bytes) in &streams {
        // A valid stream loads into the fuzz target's registry, unless the
        // copy would take too much memory for the stream's length (the
        // decoder's documented expansion limit; such a stream is a seed
        // too: it reaches that check).
        let mut reg = populated_registry();
        let root = reg.root();
        match reg.deserialize(root, bytes) {
            Ok(_) => {}
            Err(Error::CorruptInput { reason, .. }) if reason == EXPANSION_REFUSAL => {
                expansive += 1;
            }
            Err(error) => {
                eprintln!(
                    "seed_deserialize: the stream of {origin} ({} bytes) does not load: {error}",
                    bytes.len()
                );
                return ExitCode::FAILURE;
            }
        }
        if files.insert(bytes.clone()) {
            valid += 1;
        }
        let mut variants = Vec::new();
        // Truncated at a random point.
        variants.push(bytes[..rng.below(bytes.len())].to_vec());
        // Bit-flipped: in the header and type table, and anywhere.
        for span in [bytes.len().min(96), bytes.len()] {
            let mut flipped = bytes.clone();
            let at = rng.below(span);
            flipped[at] ^= 1 << rng.below(8);
            variants.push(flipped);
        }
        for variant in variants {
            if files.insert(variant) {
                damaged += 1;
            }
        }
    }

    if let Err(error) = std::fs::create_dir_all(&out) {
        eprintln!("seed_deserialize: cannot create {out}: {error}");
        return ExitCode::from(2);
    }
    let mut total = 0;
    for bytes in &files {
        check_deserialize(bytes);
        let path = format!("{out}/seed-{:016x}", fnv(bytes));
        if let Err(error) = std::fs::write(&path, bytes) {
            eprintln!("seed_deserialize: cannot write {path}: {error}");
            return ExitCode::from(2);
        }
        total += bytes.len();
    }
    println!(
        "seed_deserialize: wrote {} files ({valid} valid streams from {} subtrees, \
         {expansive} of them refused as too expansive, {damaged} damaged), {total} bytes, to {out}",
        files.len(),
        streams.len()
    );
    ExitCode::SUCCESS
}

//! Planted seeds: fuzz inputs written to decode to a planned history.
//!
//! Some states the contract singles out take a history that random bytes
//! almost never spell: an object stored by a region and moved by a death
//! next to another object of its region, or one region id dying three times
//! with a survivor each time. A random 64-byte input reaches neither in
//! 400,000 tries, and inputs long enough to reach them by chance slow the
//! fuzzer down (its mutations keep to the length of the longest seed). So
//! each such history is a [`Plan`]: the ops it takes, each given by the
//! kind and operands it must have. [`encode`] finds, op by op, a few bytes
//! that decode to an op of the plan's shape in the state the ops before it
//! left, and that the run accepts, so the input decodes to the plan as the
//! fuzz target decodes it.
//!
//! Plans are named after states of the contract (docs/SEMANTICS.md), not
//! after any one bug: each is a history that several kinds of bug would
//! need.

use rand::rngs::StdRng;
use rand::{Rng, RngExt};
use regions_model::driver::{fuzz_driver, Applied, Driver, FUZZ_FULL_CHECK_EVERY, MAX_FUZZ_OPS};
use regions_model::op::prelude::*;
use regions_model::op::{configure_from_byte, Op, OpDecoder, RegionRef, TableLens};

/// What one planned op must look like, with its indices taken modulo the
/// tables' lengths (so `Region(1)` is the first region made) and the root
/// always named `Root`.
type Shape = fn(&Op) -> bool;

/// A planned history.
pub struct Plan {
    /// The state it reaches.
    pub name: &'static str,
    /// The registry configuration it needs (the input's first byte), if
    /// any: page sizes decide when a page fills up.
    config: Option<Shape>,
    /// The ops, each of which must run without being rejected...
    steps: Vec<Shape>,
    /// ...but for the last one, if this is set: a refusal is the point.
    last_refused: bool,
}

/// Random byte strings tried for one step before the plan is given up.
const ATTEMPTS_PER_STEP: usize = 4_000_000;

/// The longest byte string tried for one op (a few fields of a few bytes).
const MAX_OP_BYTES: usize = 32;

/// Encodings of a step compared to keep the shortest: the planted inputs
/// must stay within the corpus's length limit.
const ENCODINGS_COMPARED: usize = 24;

/// The planned histories.
pub fn plans() -> Vec<Plan> {
    vec![
        Plan {
            name: "moved object unstored beside another of its region",
            config: None,
            steps: vec![
                |op| matches!(op, CreateRegion { parent: Root }),
                |op| matches!(op, CreateRegion { parent: Root }),
                |op| allocates_in(op, 1),
                |op| allocates_in(op, 1),
                |op| {
                    matches!(
                        op,
                        StoreHandle {
                            container: Region(2),
                            object: Object(0)
                        }
                    )
                },
                |op| {
                    matches!(
                        op,
                        StoreHandle {
                            container: Region(2),
                            object: Object(1)
                        }
                    )
                },
                // The death moves both stored objects to the root.
                |op| matches!(op, ReleaseRegion { region: Region(1) }),
                |op| {
                    matches!(
                        op,
                        Unstore {
                            container: Region(2),
                            object: Object(2)
                        }
                    )
                },
            ],
            last_refused: false,
        },
        Plan {
            name: "one region id dead three times, a survivor of each death alive",
            config: None,
            steps: three_deaths_with_survivors(),
            last_refused: false,
        },
        Plan {
            name: "a death that keeps a strongly held object and destroys a weakly held one",
            config: None,
            steps: vec![
                |op| matches!(op, CreateRegion { parent: Root }),
                |op| allocates_in(op, 1),
                |op| allocates_in(op, 1),
                |op| matches!(op, Retain { object: Object(0) }),
                |op| matches!(op, Downgrade { object: Object(1) }),
                // A death with a survivor sorts its objects one by one (a
                // region with none takes a shortcut): the first moves, the
                // second is destroyed, and its weak handle upgrades to
                // nothing.
                |op| matches!(op, ReleaseRegion { region: Region(1) }),
            ],
            last_refused: false,
        },
        Plan {
            name: "a stale handle of a slot's earlier occupant, after a death moved two objects",
            config: None,
            steps: vec![
                |op| matches!(op, CreateRegion { parent: Root }),
                |op| allocates_in(op, 1),
                |op| allocates_in(op, 1),
                |op| matches!(op, Free { object: Object(1) }),
                // The freed slot, taken again with a new generation.
                |op| allocates_in(op, 1),
                |op| matches!(op, Retain { object: Object(0) }),
                |op| matches!(op, Retain { object: Object(2) }),
                // The death moves both and leaves a forwarding record for
                // each slot (a region's second record goes to the shared
                // map, not the region's own); the freed occupant's handle
                // must stay stale (the target's closing sweep tries every
                // handle ever seen).
                |op| matches!(op, ReleaseRegion { region: Region(1) }),
            ],
            last_refused: false,
        },
        Plan {
            name: "a slab page filling up while an older page of its pool has room",
            // 4 KiB pages, no nursery: four 1,024-byte chunks to a page.
            config: Some(|op| {
                matches!(
                    op,
                    Configure {
                        arena_block_log2: 12,
                        nursery_log2: 0,
                        ..
                    }
                )
            }),
            steps: vec![
                |op| matches!(op, CreateRegion { parent: Root }),
                // Two full pages of the 1,024-byte class.
                |op| {
                    matches!(
                        op,
                        AllocBulk {
                            region: Region(1),
                            size: 897..=1024,
                            align_log2: 0..=4,
                            count: 8,
                            mismatched_len: false,
                            ..
                        }
                    )
                },
                // A chunk freed in the first page, then one in the second:
                // the second reopens at the head of the pool's list, the
                // first behind it.
                |op| matches!(op, Free { object: Object(0) }),
                |op| matches!(op, Free { object: Object(4) }),
                // Taken from the second page, which fills up again: the
                // object must be recorded in it, not in the page behind.
                |op| {
                    matches!(
                        op,
                        Alloc {
                            region: Region(1),
                            size: 897..=1024,
                            align_log2: 0..=4,
                            mismatched_len: false,
                            ..
                        }
                    )
                },
            ],
            last_refused: false,
        },
        Plan {
            name: "promotion refused by the budget of a region holding objects",
            config: None,
            steps: vec![
                |op| {
                    matches!(
                        op,
                        CreateRegionWithBudget {
                            parent: Root,
                            budget: 64..=512
                        }
                    )
                },
                |op| allocates_in(op, 1),
                |op| {
                    matches!(
                        op,
                        Alloc {
                            region: Root,
                            size: 512..=4096,
                            mismatched_len: false,
                            ..
                        }
                    )
                },
                |op| {
                    matches!(
                        op,
                        Promote {
                            object: Object(1),
                            target: Region(1)
                        }
                    )
                },
            ],
            last_refused: true,
        },
    ]
}

/// Three scopes under the root, one after the other, each keeping its
/// object: each scope is a region (the id of the one before, recycled with
/// the next generation) whose death moves the kept object to the root and
/// gives it a new handle. Every handle of the three survivors must still
/// resolve at the end (the fuzz target's last full comparison tries each),
/// the first ones through the records of incarnations two and one deaths
/// back.
fn three_deaths_with_survivors() -> Vec<Shape> {
    let scope_keeping_its_object: Shape = |op| {
        matches!(
            op,
            WithRegion {
                parent: Root,
                keep: true,
                ..
            }
        )
    };
    vec![scope_keeping_its_object; 3]
}

/// Whether `op` makes one object in the region of index `region` (any of
/// the allocations: the plans need an object, not a particular one).
fn allocates_in(op: &Op, region: u16) -> bool {
    match op {
        Alloc { region: r, .. }
        | AllocTyped { region: r, .. }
        | AllocConvenient { region: r, .. } => *r == Region(region),
        _ => false,
    }
}

/// `op` with each index taken modulo its table's length in `lens`, and the
/// root's index written `Root`.
fn effective(op: &Op, lens: TableLens) -> Op {
    let plain = op.map_indices(|table, i| {
        let len = lens.of(table);
        if len == 0 {
            i
        } else {
            (usize::from(i) % len) as u16
        }
    });
    plain.map_operands(
        |r| match *r {
            RegionRef::Region(0) => RegionRef::Root,
            other => other,
        },
        |o| *o,
        |w| *w,
    )
}

/// How a replayed input ended: the ops it ran, whether the last one ran
/// without being rejected, and the tables' lengths after it.
struct Replay {
    ops: Vec<Op>,
    last_accepted: bool,
    lens: TableLens,
}

/// Runs `bytes` as the fuzz target does, noting whether its last op ran
/// without being rejected; `None` if the run fails.
fn replay(bytes: &[u8]) -> Option<Replay> {
    let mut driver = fuzz_driver(FUZZ_FULL_CHECK_EVERY);
    let mut decoder = OpDecoder::new(bytes, MAX_FUZZ_OPS);
    let (mut ops, mut last_accepted) = (Vec::new(), false);
    while let Some(op) = decoder.next_op(driver.reference().table_lens()) {
        let rejected_before = rejections(&driver);
        let applied = driver.apply(&op).ok()?;
        last_accepted = applied == Applied::Ran && rejections(&driver) == rejected_before;
        ops.push(op);
    }
    let lens = driver.reference().table_lens();
    Some(Replay {
        ops,
        last_accepted,
        lens,
    })
}

fn rejections(driver: &Driver) -> u64 {
    driver.report().rejections.values().sum()
}

/// An input that decodes to `plan` (after a random configuration byte), or
/// `None` if some step found no bytes in [`ATTEMPTS_PER_STEP`] tries.
///
/// An op's bytes are those it reads when more bytes follow (a field at the
/// end of an input reads what is left), and each step checks that the whole
/// input still decodes to the steps before it plus the new op.
pub fn encode(plan: &Plan, rng: &mut StdRng) -> Option<Vec<u8>> {
    let config = match plan.config {
        None => rng.random::<u8>(),
        Some(shape) => (0..=u8::MAX).find(|&byte| shape(&configure_from_byte(byte)))?,
    };
    let mut bytes = vec![config];
    let start = replay(&bytes)?;
    let (mut ops, mut lens) = (start.ops, start.lens);
    for (step, shape) in plan.steps.iter().enumerate() {
        let refusal_wanted = plan.last_refused && step + 1 == plan.steps.len();
        // The shortest of the first few encodings found.
        let mut best: Option<(Vec<u8>, Replay)> = None;
        let mut found = 0;
        for _ in 0..ATTEMPTS_PER_STEP {
            if found == ENCODINGS_COMPARED {
                break;
            }
            let mut candidate = vec![0u8; rng.random_range(2..=MAX_OP_BYTES)];
            rng.fill_bytes(&mut candidate);
            // A configuration byte first, so the decoder reads an op next.
            let framed: Vec<u8> = std::iter::once(0)
                .chain(candidate.iter().copied())
                .collect();
            let mut decoder = OpDecoder::new(&framed, 2);
            decoder.next_op(lens);
            let Some(op) = decoder.next_op(lens) else {
                continue;
            };
            if decoder.bytes_left() == 0 || !shape(&effective(&op, lens)) {
                continue;
            }
            let used = candidate.len() - decoder.bytes_left();
            if best
                .as_ref()
                .is_some_and(|(shortest, _)| shortest.len() <= bytes.len() + used)
            {
                continue;
            }
            let mut trial = bytes.clone();
            trial.extend_from_slice(&candidate[..used]);
            let Some(run) = replay(&trial) else {
                continue;
            };
            let extends = run.ops.len() == ops.len() + 1 && run.ops[..ops.len()] == ops[..];
            if extends && run.last_accepted != refusal_wanted && run.ops.last() == Some(&op) {
                found += 1;
                best = Some((trial, run));
            }
        }
        let (trial, run) = best?;
        (bytes, ops, lens) = (trial, run.ops, run.lens);
    }
    Some(bytes)
}

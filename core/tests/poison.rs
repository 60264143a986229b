//! The `poison` feature: freed memory is filled with `0xDE`; a write
//! through a stale pointer is reported by `check_invariants` and makes the
//! next reuse of that memory panic. Run with `--features poison`.
//!
//! The `caught_*` tests write through pointers to freed objects on purpose
//! (the bug the feature exists to catch). On real memory that is a plain
//! write into a block the registry still owns, but it is undefined
//! behaviour to Miri, so they do not run there; the churn test does.
#![cfg(feature = "poison")]

use core::alloc::Layout;
use std::panic::{catch_unwind, AssertUnwindSafe};

use regions::{ObjectHandle, RegionHandle, Registry, TypeTag};

mod common;
use common::{assert_consistent, scaled};

/// Offset of the stray write in a freed object: past the bytes the pools
/// keep their links in (the first 4 of a slab chunk or a slot cell, the
/// first 8 of a free large chunk's body), so it lands on poison anywhere.
const STRAY: usize = 8;

/// One kind of object: how to allocate one and reach its bytes.
struct Kind {
    name: &'static str,
    alloc: fn(&mut Registry, RegionHandle) -> ObjectHandle,
    bytes: fn(&mut Registry, ObjectHandle) -> *mut u8,
}

/// Raw objects of `N` bytes.
fn raw<const N: usize>(name: &'static str) -> Kind {
    Kind {
        name,
        alloc: |reg, region| {
            let layout = Layout::from_size_align(N, 8).unwrap();
            reg.alloc(region, layout, &[7; N], TypeTag(1)).unwrap()
        },
        bytes: |reg, h| reg.get_mut(h).unwrap().as_mut_ptr(),
    }
}

/// Typed objects of type `T`.
fn typed<T: Default + Send + 'static>(name: &'static str) -> Kind {
    Kind {
        name,
        alloc: |reg, region| reg.alloc_typed(region, T::default()).unwrap(),
        bytes: |reg, h| (reg.get_typed_mut::<T>(h).unwrap() as *mut T).cast(),
    }
}

/// A typed object too large for the slab classes.
#[allow(dead_code)] // only its size matters
struct Large([u64; 200]);

impl Default for Large {
    fn default() -> Self {
        Large([3; 200])
    }
}

fn inline_kinds() -> [Kind; 2] {
    [raw::<12>("raw inline"), typed::<[u64; 2]>("typed inline")]
}

fn slab_kinds() -> [Kind; 2] {
    [raw::<48>("raw slab"), typed::<[u64; 8]>("typed slab")]
}

fn large_kinds() -> [Kind; 2] {
    [raw::<2000>("raw large"), typed::<Large>("typed large")]
}

/// The address of the byte a stale pointer to `h`'s object writes to.
fn stray_address(reg: &mut Registry, kind: &Kind, h: ObjectHandle) -> *mut u8 {
    (kind.bytes)(reg, h).wrapping_add(STRAY)
}

/// The bug: a write through a pointer whose object is gone. The byte
/// must hold the poison pattern until then.
fn write_after_free(address: *mut u8) {
    // SAFETY: not safe, on purpose (see the module documentation): the
    // address lies in memory the registry owns and no object uses.
    unsafe {
        assert_eq!(address.read_volatile(), 0xDE, "freed memory is poisoned");
        address.write_volatile(0x5A);
    }
}

/// `check_invariants` names the stray write, as a write into `what`.
fn assert_reported(reg: &Registry, address: *mut u8, what: &str) {
    let violations = reg
        .check_invariants()
        .expect_err("check_invariants reports the write after free");
    let expected = format!("freed memory at {address:p} ");
    assert!(
        violations
            .0
            .iter()
            .any(|line| line.contains(&expected) && line.contains(what)),
        "{expected}({what}) not in {violations}"
    );
}

/// `reuse` panics with the poison message naming the stray write.
fn assert_reuse_panics(address: *mut u8, reuse: impl FnOnce()) {
    let payload = catch_unwind(AssertUnwindSafe(reuse)).expect_err("reuse must panic");
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or("(not a string)");
    assert_eq!(
        message,
        format!("regions: freed memory at {address:p} was written after free (poison feature)")
    );
}

/// For each kind: an object freed next to a live one of its kind, a write
/// through its stale pointer, the report naming `what`, and the panic of
/// the next allocation of the kind (which takes the freed memory first).
fn caught_after_free(mut reg: Registry, kinds: &[Kind], what: &str) {
    let region = reg.create_region(reg.root()).unwrap();
    for kind in kinds {
        let _neighbour = (kind.alloc)(&mut reg, region);
        let victim = (kind.alloc)(&mut reg, region);
        let address = stray_address(&mut reg, kind, victim);
        reg.free(victim).unwrap();
        assert_consistent(&reg);
        write_after_free(address);
        assert_reported(&reg, address, what);
        assert_reuse_panics(address, || {
            (kind.alloc)(&mut reg, region);
        });
        // The memory is still on its free list: the write stays reported.
        assert_reported(&reg, address, what);
        // SAFETY: as in `write_after_free`; this repairs the poison so the
        // next kind starts from a consistent registry.
        unsafe { address.write_volatile(0xDE) };
        assert_consistent(&reg);
        let _reused = (kind.alloc)(&mut reg, region);
        assert_consistent(&reg);
        eprintln!("{}: caught", kind.name);
    }
}

/// How a case makes its registry.
type NewRegistry = fn() -> Registry;

/// A registry whose regions have no nursery: heap objects go straight to
/// their slab or large pool.
fn without_nursery() -> Registry {
    Registry::builder().nursery_bytes(0).build()
}

#[test]
#[cfg_attr(miri, ignore)]
fn caught_in_a_freed_inline_cell() {
    caught_after_free(Registry::new(), &inline_kinds(), "vacant slot");
}

#[test]
#[cfg_attr(miri, ignore)]
fn caught_in_a_freed_slab_chunk() {
    caught_after_free(without_nursery(), &slab_kinds(), "free chunk at");
}

#[test]
#[cfg_attr(miri, ignore)]
fn caught_in_a_freed_large_chunk() {
    caught_after_free(without_nursery(), &large_kinds(), "free chunk at");
}

#[test]
#[cfg_attr(miri, ignore)]
fn caught_in_a_freed_nursery_object() {
    for kind in slab_kinds().iter().chain(&large_kinds()) {
        let mut reg = Registry::new();
        let region = reg.create_region(reg.root()).unwrap();
        let victim = (kind.alloc)(&mut reg, region);
        let address = stray_address(&mut reg, kind, victim);
        // A small object after it in the same nursery.
        let neighbour = raw::<24>("neighbour");
        let neighbour = (neighbour.alloc)(&mut reg, region);
        // The nursery reuses nothing while it holds objects, but a freed
        // object between live ones is checked.
        reg.free(victim).unwrap();
        write_after_free(address);
        assert_reported(&reg, address, "nursery");
        // Emptied, the nursery hands its bytes out again from the start.
        reg.free(neighbour).unwrap();
        assert_reported(&reg, address, "nursery");
        assert_reuse_panics(address, || {
            (kind.alloc)(&mut reg, region);
        });
        eprintln!("{} in the nursery: caught", kind.name);
    }
}

/// Memory of a dead region: its slot records and nursery stay for the next
/// region that takes its id and are verified piece by piece as they are
/// handed out again; its other pages go to the block cache, and a block
/// is verified whole when a region takes it. The stray write is into the
/// dead region's second object, so only the second allocation of the next
/// region reaches it piecewise, and the first must catch it in a block.
#[test]
#[cfg_attr(miri, ignore)]
fn caught_in_a_dead_regions_memory() {
    let cases: [(NewRegistry, _, _, usize); 4] = [
        (Registry::new, inline_kinds(), "spare slot records", 2),
        (Registry::new, slab_kinds(), "nursery", 2),
        (without_nursery, slab_kinds(), "cached block", 1),
        (without_nursery, large_kinds(), "cached block", 1),
    ];
    for (registry, kinds, what, allocations) in cases {
        for kind in &kinds {
            // A registry each: the memory that panicked stays poisoned
            // wrongly, and the next region would take it first.
            let mut reg = registry();
            let region = reg.create_region(reg.root()).unwrap();
            let _first = (kind.alloc)(&mut reg, region);
            let victim = (kind.alloc)(&mut reg, region);
            let address = stray_address(&mut reg, kind, victim);
            reg.release_region(region).unwrap();
            write_after_free(address);
            assert_reported(&reg, address, what);
            let next = reg.create_region(reg.root()).unwrap();
            assert_reuse_panics(address, || {
                for _ in 0..allocations {
                    (kind.alloc)(&mut reg, next);
                }
            });
            eprintln!("{} in a dead region ({what}): caught", kind.name);
        }
    }
}

/// An object that moved (promotion) left its old memory behind.
#[test]
#[cfg_attr(miri, ignore)]
fn caught_in_memory_an_object_moved_out_of() {
    let cases = [
        (Registry::new(), inline_kinds(), "vacant slot"),
        (without_nursery(), slab_kinds(), "free chunk at"),
        (without_nursery(), large_kinds(), "free chunk at"),
    ];
    for (mut reg, kinds, what) in cases {
        for kind in &kinds {
            let from = reg.create_region(reg.root()).unwrap();
            let to = reg.create_region(reg.root()).unwrap();
            let _neighbour = (kind.alloc)(&mut reg, from);
            let moving = (kind.alloc)(&mut reg, from);
            let address = stray_address(&mut reg, kind, moving);
            reg.promote(moving, to).unwrap();
            write_after_free(address);
            assert_reported(&reg, address, what);
            eprintln!("{} moved out ({what}): caught", kind.name);
        }
    }
}

/// A small deterministic generator (xorshift), so the churn is the same
/// on every run and under Miri.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Without stray writes, poisoning never reports anything: allocation of
/// every placement (nursery, inline, slab, type pools, large, dedicated,
/// bulk runs, slices), frees, promotion, region death with survivors,
/// compaction and id reuse keep `check_invariants` clean.
#[test]
fn churn_without_stray_writes_stays_clean() {
    let sizes = [0, 4, 16, 24, 48, 100, 256, 1000, 2000, 5000, 20_000];
    for reg in [Registry::new(), without_nursery()] {
        let reached = churn(reg, &sizes, scaled(3000, 150));
        eprintln!("churn reached {reached:?}");
        if !cfg!(miri) {
            assert!(reached.iter().all(|&n| n > 0), "{reached:?}");
        }
    }
}

/// Runs `steps` random operations; returns how many region deaths with
/// survivors, promotions, objects moved by compaction and frees it saw.
fn churn(mut reg: Registry, sizes: &[usize], steps: usize) -> [usize; 4] {
    let mut reached = [0; 4];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut regions = vec![reg.root()];
    let mut objects: Vec<ObjectHandle> = Vec::new();
    for step in 0..steps {
        let region = regions[rng.below(regions.len())];
        match rng.below(12) {
            0..=3 => {
                let size = sizes[rng.below(sizes.len())];
                let align = 1 << rng.below(6);
                let layout = Layout::from_size_align(size, align).unwrap();
                let bytes = vec![step as u8; size];
                objects.push(reg.alloc(region, layout, &bytes, TypeTag(2)).unwrap());
            }
            4 => objects.push(reg.alloc_typed(region, [step as u64; 8]).unwrap()),
            5 => objects.push(
                reg.alloc_slice_copy(region, &vec![step as u16; rng.below(700)])
                    .unwrap(),
            ),
            6 => {
                let layout = Layout::from_size_align(32, 16).unwrap();
                let count = rng.below(6);
                let bytes = vec![1; 32 * count];
                objects.extend(
                    reg.alloc_bulk(region, layout, TypeTag(3), count, &bytes)
                        .unwrap(),
                );
            }
            7 | 8 if !objects.is_empty() => {
                let h = objects.swap_remove(rng.below(objects.len()));
                reg.free(h).unwrap();
                reached[3] += 1;
            }
            9 if !objects.is_empty() => {
                let h = objects[rng.below(objects.len())];
                if rng.below(2) == 0 {
                    reg.retain(h).unwrap();
                } else {
                    let target = regions[rng.below(regions.len())];
                    reg.promote(h, target).unwrap();
                    reached[1] += 1;
                }
            }
            10 => {
                let report = reg.compact(region, 1 << rng.below(12)).unwrap();
                reached[2] += report.objects_moved;
            }
            _ if regions.len() < 5 || region == reg.root() => {
                regions.push(reg.create_region(region).unwrap());
            }
            _ => {
                let survivors = objects
                    .iter()
                    .filter(|&&h| reg.region_of(h) == Ok(region) && reg.strong_count(h) != Ok(0))
                    .count();
                reached[0] += usize::from(survivors > 0);
                reg.release_region(region).unwrap();
                regions.retain(|&r| r != region);
                // Objects that died with it are stale; survivors moved.
                objects.retain(|&h| reg.resolve(h).is_ok());
            }
        }
        if step % scaled(16, 10) == 0 {
            assert_consistent(&reg);
        }
    }
    assert_consistent(&reg);
    reached
}

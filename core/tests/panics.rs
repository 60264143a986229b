//! Panic safety: destructors that panic and scopes whose body panics.
//!
//! The contract (`docs/SEMANTICS.md`, "Destructors"): when a destructor
//! panics during `free`, a region death or the registry's drop, every other
//! object due for destruction still gets its destructor exactly once, the
//! registry stays consistent and usable, and the panic reaches the caller
//! afterwards.

use std::alloc::Layout;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use regions::{ObjectHandle, Registry, TypeTag};

const PANICS: TypeTag = TypeTag(1);
const QUIET: TypeTag = TypeTag(2);

/// A registry whose destructors log the first byte of each object they see;
/// the one for [`PANICS`] panics after logging.
fn logging_registry() -> (Registry, Arc<Mutex<Vec<u8>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut reg = Registry::new();
    for (tag, panics) in [(PANICS, true), (QUIET, false)] {
        let log = Arc::clone(&log);
        reg.register_destructor(
            tag,
            Box::new(move |_, bytes: &mut [u8]| {
                log.lock().unwrap().push(bytes[0]);
                if panics {
                    panic!("destructor of object {} panics", bytes[0]);
                }
            }),
        )
        .unwrap();
    }
    (reg, log)
}

fn raw(
    reg: &mut Registry,
    region: regions::RegionHandle,
    id: u8,
    size: usize,
    tag: TypeTag,
) -> ObjectHandle {
    let layout = Layout::from_size_align(size, 8).unwrap();
    reg.alloc(region, layout, &vec![id; size], tag).unwrap()
}

fn sorted(log: &Mutex<Vec<u8>>) -> Vec<u8> {
    let mut seen = log.lock().unwrap().clone();
    seen.sort_unstable();
    seen
}

#[test]
fn a_panicking_destructor_in_a_death_does_not_stop_the_others() {
    let (mut reg, log) = logging_registry();
    let r = reg.create_region(reg.root()).unwrap();
    // Inline, slab and large objects; two of them panic.
    raw(&mut reg, r, 1, 8, QUIET);
    raw(&mut reg, r, 2, 64, PANICS);
    raw(&mut reg, r, 3, 3000, QUIET);
    raw(&mut reg, r, 4, 12, PANICS);
    let kept = raw(&mut reg, r, 5, 100, QUIET);
    reg.retain(kept).unwrap();
    let released = catch_unwind(AssertUnwindSafe(|| reg.release_region(r)));
    assert!(released.is_err(), "the panic reaches the caller");
    assert_eq!(
        sorted(&log),
        [1, 2, 3, 4],
        "every doomed object once, the kept one never"
    );
    reg.check_invariants().unwrap();
    assert!(!reg.is_region_alive(r), "the death happened");
    assert_eq!(reg.get(kept).unwrap()[0], 5, "the survivor was promoted");
    let stats = reg.global_stats();
    assert_eq!(
        (stats.destroyed_by_death, stats.promotions_by_death),
        (4, 1)
    );
    // Still usable: a new region reuses the dead one's id and tables.
    let again = reg.create_region(reg.root()).unwrap();
    let h = raw(&mut reg, again, 6, 64, QUIET);
    assert_eq!(reg.get(h).unwrap(), &[6; 64]);
    reg.check_invariants().unwrap();
}

#[test]
fn a_panicking_destructor_in_free_still_frees_the_storage() {
    let (mut reg, log) = logging_registry();
    let r = reg.create_region(reg.root()).unwrap();
    for (id, size) in [(1, 8), (2, 200), (3, 3000), (4, 20_000)] {
        let h = raw(&mut reg, r, id, size, PANICS);
        let freed = catch_unwind(AssertUnwindSafe(|| reg.free(h)));
        assert!(freed.is_err(), "object {id}: the panic reaches the caller");
        assert!(reg.get(h).is_err(), "object {id} is gone");
        reg.check_invariants().unwrap();
    }
    assert_eq!(sorted(&log), [1, 2, 3, 4]);
    assert_eq!(reg.stats(r).unwrap().occupancy.objects, 0);
    assert_eq!(reg.global_stats().frees, 4);
}

#[test]
fn a_panicking_destructor_at_registry_drop_does_not_stop_the_others() {
    let (mut reg, log) = logging_registry();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(a).unwrap();
    let root = reg.root();
    raw(&mut reg, root, 1, 8, PANICS);
    raw(&mut reg, a, 2, 64, QUIET);
    raw(&mut reg, a, 3, 64, PANICS);
    raw(&mut reg, b, 4, 3000, PANICS);
    raw(&mut reg, b, 5, 30_000, QUIET);
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(reg)));
    assert!(dropped.is_err(), "the panic reaches the caller");
    assert_eq!(sorted(&log), [1, 2, 3, 4, 5]);
}

/// A typed value whose drop panics for odd ids and records every drop.
struct Fragile {
    id: u8,
    drops: Arc<Mutex<Vec<u8>>>,
}

impl Drop for Fragile {
    fn drop(&mut self) {
        self.drops.lock().unwrap().push(self.id);
        if self.id % 2 == 1 {
            panic!("dropping {} panics", self.id);
        }
    }
}

#[test]
fn panicking_drop_glue_in_a_death_does_not_stop_the_others() {
    let drops = Arc::new(Mutex::new(Vec::new()));
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    for id in 1..=6 {
        let value = Fragile {
            id,
            drops: Arc::clone(&drops),
        };
        reg.alloc_typed(r, value).unwrap();
    }
    let released = catch_unwind(AssertUnwindSafe(|| reg.release_region(r)));
    assert!(released.is_err());
    assert_eq!(sorted(&drops), [1, 2, 3, 4, 5, 6]);
    reg.check_invariants().unwrap();
    assert_eq!(reg.live_region_count(), 1);
}

#[test]
fn with_region_releases_its_region_when_the_body_panics() {
    let mut reg = Registry::new();
    let mut kept = None;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        reg.with_region(reg.root(), |reg, scratch| {
            let h = reg.alloc_typed(scratch, 41u64).unwrap();
            reg.retain(h).unwrap();
            kept = Some(h);
            reg.alloc_typed(scratch, [0u8; 64]).unwrap();
            panic!("the body fails");
        })
    }));
    assert!(outcome.is_err(), "the body's panic goes on");
    assert_eq!(reg.live_region_count(), 1, "the scoped region was released");
    let kept = kept.unwrap();
    assert_eq!(
        *reg.get_typed::<u64>(kept).unwrap(),
        41,
        "what the body retained survives"
    );
    assert_eq!(reg.region_of(kept).unwrap(), reg.root());
    assert_eq!(reg.global_stats().destroyed_by_death, 1);
    reg.check_invariants().unwrap();
}

//! Destructors run exactly once per destroyed object, never on promotion.

mod common;
use common::{assert_consistent, raw};
use core::alloc::Layout;
use regions::{ObjectHandle, RegionHandle, Registry, TypeTag};
use std::sync::{Arc, Mutex};

/// Which handles a counting destructor was called with, in order.
type CallLog = Arc<Mutex<Vec<ObjectHandle>>>;

const COUNTED: TypeTag = TypeTag(10);

fn counting_registry() -> (Registry, CallLog) {
    let mut reg = Registry::new();
    let log = CallLog::default();
    let sink = log.clone();
    reg.register_destructor(COUNTED, move |handle, bytes| {
        assert!(!bytes.is_empty(), "the destructor sees the object's bytes");
        sink.lock().unwrap().push(handle);
    })
    .unwrap();
    (reg, log)
}

fn counted(reg: &mut Registry, region: regions::RegionHandle, fill: u8) -> ObjectHandle {
    reg.alloc(region, Layout::new::<[u8; 24]>(), &[fill; 24], COUNTED)
        .unwrap()
}

fn calls(log: &CallLog) -> Vec<ObjectHandle> {
    log.lock().unwrap().clone()
}

#[test]
fn free_runs_the_destructor_once() {
    let (mut reg, log) = counting_registry();
    let h = counted(&mut reg, RegionHandle::ROOT, 1);
    let other = raw(&mut reg, RegionHandle::ROOT, &[0; 24], 1); // tag 1: no destructor
    reg.free(h).unwrap();
    assert_eq!(calls(&log), [h]);
    assert!(reg.free(h).is_err());
    reg.free(other).unwrap();
    assert_eq!(
        calls(&log),
        [h],
        "a second free and an untracked tag call nothing"
    );
    assert_consistent(&reg);
}

#[test]
fn region_death_destroys_unreferenced_objects_and_promotes_referenced_ones() {
    let (mut reg, log) = counting_registry();
    let region = reg.create_region(reg.root()).unwrap();
    let doomed = counted(&mut reg, region, 1);
    let weakly_held = counted(&mut reg, region, 2);
    let kept = counted(&mut reg, region, 3);
    reg.downgrade(weakly_held).unwrap();
    reg.retain(kept).unwrap();
    reg.release_region(region).unwrap();
    let mut called = calls(&log);
    called.sort();
    let mut expected = vec![doomed, weakly_held];
    expected.sort();
    assert_eq!(
        called, expected,
        "weak references do not keep objects alive"
    );
    assert_eq!(
        reg.get(kept).unwrap(),
        &[3; 24],
        "promotion calls no destructor"
    );
    assert_consistent(&reg);
}

#[test]
fn manual_promotion_calls_no_destructor() {
    let (mut reg, log) = counting_registry();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(reg.root()).unwrap();
    let h = counted(&mut reg, a, 4);
    let moved = reg.promote(h, b).unwrap();
    let moved_again = reg.promote(moved, reg.root()).unwrap();
    assert!(calls(&log).is_empty());
    reg.free(h).unwrap();
    assert_eq!(
        calls(&log),
        [moved_again],
        "the destructor sees the current home handle"
    );
}

#[test]
fn dropping_the_registry_destroys_every_live_object_once() {
    let (mut reg, log) = counting_registry();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(a).unwrap();
    let mut live = vec![
        counted(&mut reg, RegionHandle::ROOT, 1),
        counted(&mut reg, a, 2),
        counted(&mut reg, b, 3),
    ];
    let freed = counted(&mut reg, b, 4);
    reg.free(freed).unwrap();
    let survivor = counted(&mut reg, b, 5);
    reg.retain(survivor).unwrap();
    reg.release_region(b).unwrap(); // object 3 destroyed, survivor promoted
    let destroyed_before_drop = calls(&log).len();
    assert_eq!(destroyed_before_drop, 2);
    live.remove(2);
    let survivor_home = reg.resolve(survivor).unwrap();
    drop(reg);
    let mut at_drop = calls(&log)[destroyed_before_drop..].to_vec();
    at_drop.sort();
    live.push(survivor_home);
    live.sort();
    assert_eq!(at_drop, live);
}

/// Counts drops of a typed value.
struct Droppy(Arc<Mutex<u32>>);
impl Drop for Droppy {
    fn drop(&mut self) {
        *self.0.lock().unwrap() += 1;
    }
}

#[test]
fn typed_values_are_dropped_in_place_exactly_once() {
    let drops = Arc::new(Mutex::new(0));
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    let freed = reg.alloc_typed(region, Droppy(drops.clone())).unwrap();
    let dies_with_region = reg.alloc_typed(region, Droppy(drops.clone())).unwrap();
    let promoted = reg.alloc_typed(region, Droppy(drops.clone())).unwrap();
    let heap = reg
        .alloc_typed(region, (Droppy(drops.clone()), [0u64; 16]))
        .unwrap();
    reg.retain(promoted).unwrap();
    reg.free(freed).unwrap();
    assert_eq!(*drops.lock().unwrap(), 1);
    reg.release_region(region).unwrap();
    assert_eq!(
        *drops.lock().unwrap(),
        3,
        "two destroyed with the region, one promoted"
    );
    assert!(reg.get_typed::<Droppy>(dies_with_region).is_err());
    assert!(reg.get_typed::<(Droppy, [u64; 16])>(heap).is_err());
    assert!(reg.get_typed::<Droppy>(promoted).is_ok());
    drop(reg);
    assert_eq!(
        *drops.lock().unwrap(),
        4,
        "the promoted value is dropped with the registry"
    );
}

#[test]
fn strings_and_vectors_are_not_leaked() {
    // Miri's leak checker (and LeakSanitizer) fail this test if drop glue is skipped.
    let mut reg = Registry::new();
    let region = reg.create_region(reg.root()).unwrap();
    for i in 0..20 {
        let h = reg.alloc_typed(region, vec![i; 10]).unwrap();
        if i % 3 == 0 {
            reg.retain(h).unwrap();
        }
        reg.alloc_typed(region, format!("value {i}")).unwrap();
    }
    reg.release_region(region).unwrap();
    assert_eq!(reg.object_count(reg.root()).unwrap(), 7);
}

#[test]
fn replacing_a_destructor_drops_the_old_one_without_calling_it() {
    let (mut reg, log) = counting_registry();
    let h = counted(&mut reg, RegionHandle::ROOT, 1);
    let replaced = Arc::new(Mutex::new(0));
    let sink = replaced.clone();
    reg.register_destructor(COUNTED, move |_, _| *sink.lock().unwrap() += 1)
        .unwrap();
    reg.free(h).unwrap();
    assert!(calls(&log).is_empty());
    assert_eq!(*replaced.lock().unwrap(), 1);
}

//! Stored references: `store_handle` records which container holds which
//! reference; `unstore` gives one back; a container's death gives back all
//! of its references, after its promotions are decided.

use regions::{ErrorKind, ObjectHandle, RegionHandle, Registry};

const ROOT: RegionHandle = RegionHandle::ROOT;

mod common;
use common::assert_consistent;

fn typed(reg: &mut Registry, region: RegionHandle, value: u32) -> ObjectHandle {
    reg.alloc_typed(region, value).unwrap()
}

#[test]
fn an_object_stored_only_by_a_dead_container_dies_with_its_own_region() {
    let mut reg = Registry::new();
    let level = reg.create_region(reg.root()).unwrap();
    let shooter = reg.create_region(level).unwrap();
    let stats = typed(&mut reg, level, 7);
    assert!(reg.store_handle(shooter, stats).unwrap());
    assert_eq!(reg.strong_count(stats).unwrap(), 1);
    assert_eq!(reg.stored_in(shooter).unwrap().collect::<Vec<_>>(), [stats]);

    reg.release_region(shooter).unwrap();
    assert_eq!(reg.strong_count(stats).unwrap(), 0, "given back at death");
    reg.release_region(level).unwrap();
    assert!(
        !reg.is_alive(stats),
        "destroyed with the level, not promoted"
    );
    assert_eq!(reg.object_count(reg.root()).unwrap(), 0);
    assert_consistent(&reg);
}

#[test]
fn a_container_death_decides_its_promotions_before_giving_references_back() {
    let mut reg = Registry::new();
    let container = reg.create_region(reg.root()).unwrap();
    let other = reg.create_region(reg.root()).unwrap();
    let moved_in = typed(&mut reg, other, 1);
    let stays_out = typed(&mut reg, other, 2);
    reg.store_handle(container, moved_in).unwrap();
    reg.store_handle(container, stays_out).unwrap();
    // Stored while outside, then moved into the container itself.
    let inside = reg.promote(moved_in, container).unwrap();
    assert_eq!(reg.region_of(inside).unwrap(), container);

    reg.release_region(container).unwrap();
    // Its stored reference kept it through the death (promoted to the
    // root), and was given back afterwards.
    assert_eq!(reg.region_of(moved_in).unwrap(), reg.root());
    assert_eq!(reg.strong_count(moved_in).unwrap(), 0);
    assert_eq!(reg.strong_count(stays_out).unwrap(), 0);
    assert_consistent(&reg);
}

#[test]
fn unstore_gives_back_one_reference_through_any_handle_of_the_object() {
    let mut reg = Registry::new();
    let container = reg.create_region(reg.root()).unwrap();
    let a = reg.create_region(reg.root()).unwrap();
    let old = typed(&mut reg, a, 5);
    reg.store_handle(container, old).unwrap();
    reg.store_handle(container, old).unwrap();
    let new = reg.promote(old, reg.root()).unwrap();
    reg.release_region(a).unwrap();
    assert_eq!(
        reg.stored_in(container).unwrap().collect::<Vec<_>>(),
        [new, new]
    );

    reg.unstore(container, old).unwrap(); // the old handle still names it
    assert_eq!(reg.strong_count(new).unwrap(), 1);
    reg.unstore(container, new).unwrap();
    assert_eq!(reg.strong_count(new).unwrap(), 0);
    assert_eq!(reg.stored_in(container).unwrap().count(), 0);
    let error = reg.unstore(container, new).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotStored);
    assert!(error.to_string().contains("stored no reference"), "{error}");
    assert_consistent(&reg);
}

#[test]
fn unstore_errors_come_in_order_and_change_nothing() {
    let mut reg = Registry::new();
    let container = reg.create_region(reg.root()).unwrap();
    let h = typed(&mut reg, ROOT, 1);
    reg.store_handle(container, h).unwrap();
    reg.release(h).unwrap(); // by hand: one count for both
    let dead = reg.create_region(reg.root()).unwrap();
    reg.release_region(dead).unwrap();
    let freed = typed(&mut reg, ROOT, 2);
    reg.free(freed).unwrap();

    let kind = |reg: &mut Registry, c, o| reg.unstore(c, o).unwrap_err().kind();
    assert_eq!(kind(&mut reg, dead, freed), ErrorKind::InvalidRegion);
    assert_eq!(kind(&mut reg, container, freed), ErrorKind::StaleHandle);
    assert_eq!(kind(&mut reg, ROOT, h), ErrorKind::NotStored);
    assert_eq!(kind(&mut reg, container, h), ErrorKind::RefcountUnderflow);
    assert_eq!(reg.stored_in(container).unwrap().collect::<Vec<_>>(), [h]);
    assert_eq!(reg.strong_count(h).unwrap(), 0);

    // The death skips the record whose count is already 0.
    reg.release_region(container).unwrap();
    assert_eq!(reg.strong_count(h).unwrap(), 0);
    assert_consistent(&reg);
}

#[test]
fn records_of_dead_objects_are_skipped_and_swept() {
    let mut reg = Registry::new();
    let container = reg.create_region(reg.root()).unwrap();
    let mut kept = Vec::new();
    for i in 0..100 {
        let h = typed(&mut reg, ROOT, i);
        reg.store_handle(container, h).unwrap();
        if i % 2 == 0 {
            reg.free(h).unwrap();
        } else {
            kept.push(h);
        }
    }
    let mut listed: Vec<_> = reg.stored_in(container).unwrap().collect();
    listed.sort();
    assert_eq!(listed, kept);
    assert_consistent(&reg);
    reg.release_region(container).unwrap();
    for &h in &kept {
        assert_eq!(reg.strong_count(h).unwrap(), 0);
    }
    assert_consistent(&reg);
}

#[test]
fn storing_into_the_objects_own_region_records_nothing() {
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    let h = typed(&mut reg, r, 1);
    assert!(!reg.store_handle(r, h).unwrap());
    assert_eq!(reg.stored_in(r).unwrap().count(), 0);
    assert_eq!(reg.unstore(r, h).unwrap_err().kind(), ErrorKind::NotStored);
    assert_consistent(&reg);
}

#[test]
fn a_reused_region_id_starts_with_no_records() {
    let mut reg = Registry::new();
    let h = typed(&mut reg, ROOT, 1);
    let first = reg.create_region(reg.root()).unwrap();
    reg.store_handle(first, h).unwrap();
    reg.release_region(first).unwrap();
    let second = reg.create_region(reg.root()).unwrap();
    assert_eq!(second.id(), first.id(), "the id is recycled");
    assert_eq!(reg.stored_in(second).unwrap().count(), 0);
    let error = reg.stored_in(first).err().expect("a dead region");
    assert_eq!(error.kind(), ErrorKind::InvalidRegion);
    assert_consistent(&reg);
}

//! Iteration: by type, by raw tag, by subtree, over the registry. Each live
//! object exactly once, as its current home handle.

use std::collections::BTreeSet;

use regions::{ErrorKind, ObjectHandle, RegionHandle, Registry, TypeTag};

mod common;
use common::{assert_consistent, raw};

const ROOT: RegionHandle = RegionHandle::ROOT;

fn set(handles: impl Iterator<Item = ObjectHandle>) -> BTreeSet<ObjectHandle> {
    let list: Vec<_> = handles.collect();
    let set: BTreeSet<_> = list.iter().copied().collect();
    assert_eq!(set.len(), list.len(), "no object twice");
    set
}

#[test]
fn iter_yields_exactly_the_values_of_one_type_in_one_region() {
    let mut reg = Registry::new();
    let r = reg.create_region(ROOT).unwrap();
    let child = reg.create_region(r).unwrap();
    let mut expected = BTreeSet::new();
    for i in 0..50u32 {
        expected.insert(reg.alloc_typed(r, i).unwrap());
        reg.alloc_typed(r, u64::from(i)).unwrap(); // another type
        reg.alloc_typed(child, i).unwrap(); // a descendant
        raw(&mut reg, r, &i.to_le_bytes(), 4); // raw, same bytes
    }
    // Freed objects vanish; moved-in objects appear under their new home.
    let freed = *expected.iter().next().unwrap();
    reg.free(freed).unwrap();
    expected.remove(&freed);
    let elsewhere = reg.alloc_typed(ROOT, 99u32).unwrap();
    expected.insert(reg.promote(elsewhere, r).unwrap());

    let found = set(reg.iter::<u32>(r).unwrap().map(|(h, _)| h));
    assert_eq!(found, expected);
    for (h, value) in reg.iter::<u32>(r).unwrap() {
        assert_eq!(reg.get_typed::<u32>(h).unwrap(), value);
    }
    assert_eq!(reg.iter::<String>(r).unwrap().count(), 0);
    assert_consistent(&reg);
}

#[test]
fn iter_mut_changes_every_value_of_the_type() {
    let mut reg = Registry::new();
    let r = reg.create_region(ROOT).unwrap();
    let inline: Vec<_> = (0..20u64).map(|i| reg.alloc_typed(r, i).unwrap()).collect();
    let heap: Vec<_> = (0..20)
        .map(|i| reg.alloc_typed(r, vec![i]).unwrap())
        .collect();
    for (_, value) in reg.iter_mut::<u64>(r).unwrap() {
        *value += 100;
    }
    for (_, value) in reg.iter_mut::<Vec<i32>>(r).unwrap() {
        value.push(-1);
    }
    for (i, h) in inline.iter().enumerate() {
        assert_eq!(*reg.get_typed::<u64>(*h).unwrap(), i as u64 + 100);
    }
    for (i, h) in heap.iter().enumerate() {
        assert_eq!(reg.get_typed::<Vec<i32>>(*h).unwrap(), &[i as i32, -1]);
    }
    assert_consistent(&reg);
}

#[test]
fn iter_raw_selects_by_tag_and_refuses_typed_tags() {
    let mut reg = Registry::new();
    let r = reg.create_region(ROOT).unwrap();
    let layout = core::alloc::Layout::new::<u8>();
    let tagged: BTreeSet<_> = (0..10u8)
        .map(|i| reg.alloc(r, layout, &[i], TypeTag(5)).unwrap())
        .collect();
    reg.alloc(r, layout, &[0], TypeTag(6)).unwrap();
    reg.alloc_typed(r, 5u8).unwrap();
    let found = set(reg.iter_raw(r, TypeTag(5)).unwrap().map(|(h, _)| h));
    assert_eq!(found, tagged);
    for (h, bytes) in reg.iter_raw(r, TypeTag(5)).unwrap() {
        assert_eq!(reg.get(h).unwrap(), bytes);
    }
    let typed = regions::typed_tag::<u8>();
    let error = reg.iter_raw(r, typed).err().unwrap();
    assert_eq!(error.kind(), ErrorKind::ReservedTypeTag);
    reg.release_region(r).unwrap();
    let error = reg.iter_raw(r, typed).err().unwrap();
    assert_eq!(error.kind(), ErrorKind::InvalidRegion, "the region first");
}

#[test]
fn subtree_and_registry_iteration_visit_every_object_once() {
    let mut reg = Registry::new();
    // A tree three levels deep with siblings, objects everywhere.
    let mut regions = vec![ROOT];
    for i in 0..15 {
        let parent = regions[i / 2];
        regions.push(reg.create_region(parent).unwrap());
    }
    let mut homes = Vec::new();
    for (i, &region) in regions.iter().enumerate() {
        for j in 0..=i % 3 {
            homes.push((region, reg.alloc_typed(region, (i, j)).unwrap()));
        }
    }
    let everything: BTreeSet<_> = homes.iter().map(|&(_, h)| h).collect();
    assert_eq!(set(reg.all_objects()), everything);
    assert_eq!(set(reg.subtree_objects(ROOT).unwrap()), everything);
    for &top in &regions {
        let expected: BTreeSet<_> = homes
            .iter()
            .filter(|&&(home, _)| is_under(&reg, home, top))
            .map(|&(_, h)| h)
            .collect();
        assert_eq!(set(reg.subtree_objects(top).unwrap()), expected, "{top}");
    }
    assert_consistent(&reg);
}

/// Whether `region` is `top` or one of its descendants.
fn is_under(reg: &Registry, mut region: RegionHandle, top: RegionHandle) -> bool {
    loop {
        if region == top {
            return true;
        }
        match reg.parent_of(region).unwrap() {
            Some(parent) => region = parent,
            None => return false,
        }
    }
}

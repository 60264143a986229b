//! Deep region trees: death never recurses, whatever the depth.

mod common;
use common::{assert_consistent, raw, scaled};
use regions::{RegionHandle, Registry};

/// Builds root -> r0 -> r1 -> ... -> r(n-1), each with one object.
fn chain(reg: &mut Registry, n: usize) -> Vec<RegionHandle> {
    let mut regions = Vec::with_capacity(n);
    let mut parent = reg.root();
    for i in 0..n {
        let region = reg.create_region(parent).unwrap();
        raw(reg, region, &(i as u32).to_le_bytes(), 4);
        regions.push(region);
        parent = region;
    }
    regions
}

#[test]
fn a_chain_of_100_000_regions_released_leaf_first() {
    let n = scaled(100_000, 200);
    let mut reg = Registry::new();
    let regions = chain(&mut reg, n);
    assert_consistent(&reg);
    for &region in regions.iter().rev() {
        assert!(reg.release_region(region).unwrap());
    }
    assert_eq!(reg.live_region_count(), 1);
    assert_eq!(reg.object_count(reg.root()).unwrap(), 0);
    assert_consistent(&reg);
}

#[test]
fn a_chain_of_100_000_regions_released_root_first() {
    let n = scaled(100_000, 200);
    let mut reg = Registry::new();
    let regions = chain(&mut reg, n);
    for (i, &region) in regions.iter().enumerate() {
        assert!(reg.release_region(region).unwrap());
        // The next region was reparented to the root, keeping its refcount.
        if let Some(&next) = regions.get(i + 1) {
            assert_eq!(reg.parent_of(next).unwrap(), Some(reg.root()));
            assert_eq!(reg.region_refcount(next).unwrap(), 1);
        }
    }
    assert_eq!(reg.live_region_count(), 1);
    assert_consistent(&reg);
}

#[test]
fn releasing_a_middle_region_never_kills_another() {
    let mut reg = Registry::new();
    let regions = chain(&mut reg, 5);
    assert!(reg.release_region(regions[2]).unwrap());
    for (i, &region) in regions.iter().enumerate() {
        assert_eq!(reg.is_region_alive(region), i != 2, "region {i}");
    }
    assert_eq!(reg.parent_of(regions[3]).unwrap(), Some(regions[1]));
    let children: Vec<_> = reg.children(regions[1]).unwrap().collect();
    assert_eq!(children, [regions[3]]);
    assert_eq!(
        reg.object_count(regions[3]).unwrap(),
        1,
        "the child's objects are untouched"
    );
    assert_consistent(&reg);
}

#[test]
fn dropping_a_registry_with_a_deep_tree_does_not_recurse() {
    let mut reg = Registry::new();
    chain(&mut reg, scaled(100_000, 200));
    drop(reg);
}

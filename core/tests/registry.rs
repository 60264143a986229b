//! Regions and the registry: tree, refcounts, allocation, promotion, ids.

mod common;
use common::{assert_consistent, raw, scaled};
use core::alloc::Layout;
use regions::{ErrorKind, RegionHandle, Registry, TypeTag};
use std::collections::BTreeSet;

#[test]
fn regions_form_a_tree_with_refcounts() {
    let mut reg = Registry::new();
    let root = reg.root();
    let a = reg.create_region(root).unwrap();
    let b = reg.create_region(a).unwrap();
    let c = reg.create_region(a).unwrap();
    assert_eq!(reg.region_refcount(root).unwrap(), 0);
    assert_eq!(reg.parent_of(root).unwrap(), None);
    let children: BTreeSet<_> = reg.children(a).unwrap().collect();
    assert_eq!(children, [b, c].into_iter().collect());
    reg.retain_region(b).unwrap();
    assert_eq!(reg.region_refcount(b).unwrap(), 2);
    assert!(!reg.release_region(b).unwrap(), "one reference left");
    assert!(reg.is_region_alive(b));
    assert!(reg.release_region(b).unwrap());
    assert!(!reg.is_region_alive(b));
    assert_eq!(reg.children(a).unwrap().collect::<Vec<_>>(), [c]);
    assert_eq!(reg.live_region_count(), 3);
    assert_consistent(&reg);
}

#[test]
fn death_reparents_children_keeping_their_refcounts() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(a).unwrap();
    let c = reg.create_region(b).unwrap();
    let d = reg.create_region(b).unwrap();
    reg.retain_region(c).unwrap();
    reg.release_region(b).unwrap();
    assert_eq!(reg.parent_of(c).unwrap(), Some(a));
    assert_eq!(reg.parent_of(d).unwrap(), Some(a));
    assert_eq!(reg.region_refcount(c).unwrap(), 2);
    assert_eq!(reg.region_refcount(d).unwrap(), 1);
    // Objects of c later promote into a, their new parent.
    let h = raw(&mut reg, c, b"x", 1);
    reg.retain(h).unwrap();
    reg.release_region(c).unwrap();
    reg.release_region(c).unwrap();
    assert_eq!(reg.region_of(h).unwrap(), a);
    assert_consistent(&reg);
}

#[test]
fn contents_type_and_counts_survive_promotion_for_every_placement() {
    let mut reg = Registry::builder().arena_block_size(4096).build();
    let region = reg.create_region(reg.root()).unwrap();
    let cases: Vec<(usize, usize)> = vec![
        (0, 1),
        (7, 4),
        (16, 16),
        (17, 1),
        (100, 64),
        (500, 4096),
        (3000, 8),
        (0, 512),
    ];
    let mut handles = Vec::new();
    for (i, &(size, align)) in cases.iter().enumerate() {
        let bytes: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
        let h = reg
            .alloc(
                region,
                Layout::from_size_align(size, align).unwrap(),
                &bytes,
                TypeTag(i as u64),
            )
            .unwrap();
        reg.retain(h).unwrap();
        reg.downgrade(h).unwrap();
        handles.push((h, bytes, align));
    }
    let typed = reg.alloc_typed(region, [3u128; 5]).unwrap();
    reg.retain(typed).unwrap();
    reg.release_region(region).unwrap();
    for (i, (h, bytes, align)) in handles.iter().enumerate() {
        let data = reg.get(*h).unwrap();
        assert_eq!(data, &bytes[..], "case {i}");
        assert_eq!(
            data.as_ptr() as usize % align,
            0,
            "case {i} alignment after promotion"
        );
        assert_eq!(reg.type_tag(*h).unwrap(), TypeTag(i as u64));
        assert_eq!(
            reg.layout_of(*h).unwrap(),
            Layout::from_size_align(bytes.len(), *align).unwrap()
        );
        assert_eq!(
            (reg.strong_count(*h).unwrap(), reg.weak_count(*h).unwrap()),
            (1, 1)
        );
        assert_eq!(reg.region_of(*h).unwrap(), reg.root());
    }
    assert_eq!(reg.get_typed::<[u128; 5]>(typed).unwrap(), &[3u128; 5]);
    assert_consistent(&reg);
}

#[test]
fn every_power_of_two_alignment_up_to_4096_is_honoured() {
    let mut reg = Registry::builder().arena_block_size(4096).build();
    let region = reg.create_region(reg.root()).unwrap();
    for round in 0..scaled(3, 1) {
        let mut align = 1;
        while align <= regions::MAX_ALIGN {
            for size in [0, 1, 15, 16, 17, 33, 1000] {
                let bytes = vec![round as u8; size];
                let h = raw(&mut reg, region, &bytes, align);
                let data = reg.get(h).unwrap();
                assert_eq!(
                    data.as_ptr() as usize % align,
                    0,
                    "size {size} align {align}"
                );
                assert_eq!(data, &bytes[..]);
            }
            align *= 2;
        }
    }
    assert_consistent(&reg);
}

#[test]
fn freed_arena_memory_is_reused_without_growing_the_arena_count() {
    let mut reg = Registry::builder().arena_block_size(4096).build();
    let region = reg.create_region(reg.root()).unwrap();
    let handles: Vec<_> = (0..30u8)
        .map(|i| raw(&mut reg, region, &[i; 200], 8))
        .collect();
    let arenas = reg.arena_count(region).unwrap();
    for round in 0..scaled(50, 3) {
        for (i, &h) in handles.iter().enumerate().skip(round % 2).step_by(2) {
            let _ = i;
            if reg.get(h).is_ok() {
                reg.free(h).unwrap();
            }
        }
        for i in 0..15u8 {
            raw(&mut reg, region, &[i; 200], 8);
        }
        let live: Vec<_> = reg.objects(region).unwrap().collect();
        for &h in live.iter().skip(15) {
            reg.free(h).unwrap();
        }
        assert_consistent(&reg);
    }
    assert!(
        reg.arena_count(region).unwrap() <= arenas + 1,
        "freed chunks are reused"
    );
}

#[test]
fn objects_lists_exactly_the_live_objects_homed_in_a_region() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(reg.root()).unwrap();
    let x = raw(&mut reg, a, b"x", 1);
    let y = raw(&mut reg, a, b"y", 1);
    let z = raw(&mut reg, a, b"z", 1);
    reg.free(y).unwrap();
    let z2 = reg.promote(z, b).unwrap();
    assert_eq!(reg.objects(a).unwrap().collect::<Vec<_>>(), [x]);
    assert_eq!(reg.objects(b).unwrap().collect::<Vec<_>>(), [z2]);
    assert_eq!(reg.object_count(a).unwrap(), 1);
}

#[test]
fn promote_to_the_current_region_is_a_no_op() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let h = raw(&mut reg, a, b"same", 1);
    assert_eq!(reg.promote(h, a).unwrap(), h);
    assert_eq!(reg.ghost_table_count(), 0);
    reg.release_region(a).unwrap();
    assert_eq!(reg.ghost_table_count(), 0, "no forwarding record was made");
}

#[test]
fn promotion_into_a_child_region_and_back() {
    let mut reg = Registry::new();
    let parent = reg.create_region(reg.root()).unwrap();
    let child = reg.create_region(parent).unwrap();
    let h = raw(&mut reg, parent, &[5; 64], 8);
    let down = reg.promote(h, child).unwrap();
    assert_eq!(reg.region_of(h).unwrap(), child);
    reg.release_region(child).unwrap(); // strong count 0: destroyed with the child
    assert_eq!(reg.get(h).unwrap_err().kind(), ErrorKind::StaleHandle);
    assert_eq!(reg.get(down).unwrap_err().kind(), ErrorKind::StaleHandle);
    assert_consistent(&reg);
}

#[test]
fn store_handle_retains_only_across_regions() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(reg.root()).unwrap();
    let h = raw(&mut reg, a, b"x", 1);
    assert!(!reg.store_handle(a, h).unwrap());
    assert_eq!(reg.strong_count(h).unwrap(), 0);
    assert!(reg.store_handle(b, h).unwrap());
    assert_eq!(reg.strong_count(h).unwrap(), 1);
    reg.release_region(a).unwrap();
    assert_eq!(
        reg.region_of(h).unwrap(),
        reg.root(),
        "the stored reference kept it alive"
    );
}

#[test]
fn release_to_zero_does_not_destroy() {
    let mut reg = Registry::new();
    let h = raw(&mut reg, RegionHandle::ROOT, b"x", 1);
    reg.retain(h).unwrap();
    reg.release(h).unwrap();
    assert_eq!(reg.get(h).unwrap(), b"x");
    assert_eq!(
        reg.release(h).unwrap_err().kind(),
        ErrorKind::RefcountUnderflow
    );
}

#[test]
fn weak_handles_follow_promotion_and_die_with_the_object() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let h = raw(&mut reg, a, b"w", 1);
    let weak = reg.downgrade(h).unwrap();
    assert_eq!(reg.weak_count(h).unwrap(), 1);
    reg.retain(h).unwrap();
    reg.release_region(a).unwrap();
    let home = reg.upgrade(weak).unwrap();
    assert_eq!(reg.region_of(home).unwrap(), reg.root());
    assert_eq!(reg.weak_count(h).unwrap(), 1, "upgrade changes no count");
    reg.drop_weak(weak).unwrap();
    assert_eq!(reg.weak_count(h).unwrap(), 0);
    reg.free(h).unwrap();
    assert_eq!(reg.upgrade(weak), None);
    // The object is gone: dropping its weak handle is simply fine.
    assert_eq!(reg.drop_weak(weak), Ok(()));
}

#[test]
fn region_ids_are_recycled_with_a_new_generation_and_retired_at_the_last() {
    let mut reg = Registry::new();
    let mut seen = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for _ in 0..scaled(200, 20) {
        let r = reg.create_region(reg.root()).unwrap();
        assert!(seen.insert(r), "{r} issued twice");
        ids.insert(r.id());
        reg.release_region(r).unwrap();
    }
    let expected_ids = if regions::MAX_GENERATION > 8 {
        1
    } else {
        200usize.div_ceil(regions::MAX_GENERATION as usize + 1)
    };
    if !cfg!(miri) {
        assert_eq!(
            ids.len(),
            expected_ids,
            "each id serves MAX_GENERATION + 1 incarnations"
        );
    }
    assert_consistent(&reg);
}

#[test]
fn the_arena_block_size_is_clamped() {
    let mut reg = Registry::builder().arena_block_size(1).build();
    let r = reg.create_region(reg.root()).unwrap();
    raw(&mut reg, r, &[0; 100], 1);
    assert_eq!(reg.arena_count(r).unwrap(), 1);
    raw(&mut reg, r, &[0; 2000], 1); // above a quarter of the minimum block: dedicated
    assert_eq!(reg.arena_count(r).unwrap(), 1);
}

/// Types of one layout get tags of their own, and a registry holds values
/// of all of them side by side (rustc once folded `typed_tag` into one
/// value for every type in some release builds; see `typed_tag`).
#[test]
fn types_of_one_layout_get_distinct_tags() {
    use regions::typed_tag;
    let tags = [
        typed_tag::<u64>(),
        typed_tag::<i64>(),
        typed_tag::<f64>(),
        typed_tag::<u32>(),
        typed_tag::<i32>(),
        typed_tag::<[u8; 8]>(),
    ];
    for (i, a) in tags.iter().enumerate() {
        for b in &tags[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let mut reg = Registry::new();
    let u = reg.alloc_typed(reg.root(), 1u64).unwrap();
    let i = reg.alloc_typed(reg.root(), -1i64).unwrap();
    let f = reg.alloc_typed(reg.root(), 0.5f64).unwrap();
    assert_eq!(*reg.get_typed::<i64>(i).unwrap(), -1);
    assert_eq!(*reg.get_typed::<f64>(f).unwrap(), 0.5);
    assert!(reg.get_typed::<i64>(u).is_err());
    assert!(reg.get_typed::<u64>(i).is_err());
}

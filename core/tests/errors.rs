//! Every error says precisely what went wrong: which handle, whether its
//! region or its slot is stale, which types, which budget and by how much.
//! Each `Display` message is checked word for word, on errors the registry
//! really returns wherever a test can provoke them.

use core::alloc::Layout;

use regions::{
    Budget, Count, Counted, Error, Expected, Found, ObjectHandle, ObjectType, RegionHandle,
    Registry, TypeTag, MAX_OBJECT_SIZE,
};

fn raw(reg: &mut Registry, region: RegionHandle, size: usize) -> ObjectHandle {
    let layout = Layout::from_size_align(size, 8).unwrap();
    reg.alloc(region, layout, &vec![1; size], TypeTag(5))
        .unwrap()
}

fn message(result: regions::Result<impl core::fmt::Debug>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn a_freed_object_reports_freed_until_its_slot_is_reused() {
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    let h = raw(&mut reg, r, 8);
    reg.free(h).unwrap();
    let err = reg.get(h).unwrap_err();
    assert_eq!(
        err,
        Error::StaleHandle {
            handle: h,
            found: Found::Freed
        }
    );
    assert_eq!(
        err.to_string(),
        format!("{h} names no live object: the object was freed")
    );
    let later = raw(&mut reg, r, 8);
    assert_eq!(later.slot(), h.slot(), "the slot is reused");
    assert_eq!(
        message(reg.get(h)),
        format!(
            "{h} names no live object: the slot is stale (it is at generation {}, a later object's)",
            later.slot_generation()
        )
    );
}

#[test]
fn a_dead_region_is_reported_as_a_stale_region() {
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    let h = raw(&mut reg, r, 8);
    reg.release_region(r).unwrap();
    let current = r.generation() + 1;
    assert_eq!(
        message(reg.get(h)),
        format!(
            "{h} names no live object: the region is stale (its id is at generation {current})"
        )
    );
    assert_eq!(
        message(reg.retain_region(r)),
        format!(
            "{r} is not a live region: the region is stale (its id is at generation {current})"
        )
    );
    let never = RegionHandle::from_raw_parts(99, 0);
    assert_eq!(
        message(reg.create_region(never)),
        "region 99v0 is not a live region: the id was never issued"
    );
    assert_eq!(
        message(reg.release_region(reg.root())),
        "the root region cannot be retained or released"
    );
}

#[test]
fn an_old_handle_of_a_destroyed_moved_object_says_so() {
    let mut reg = Registry::new();
    let a = reg.create_region(reg.root()).unwrap();
    let b = reg.create_region(reg.root()).unwrap();
    let old = raw(&mut reg, a, 8);
    let new = reg.promote(old, b).unwrap();
    reg.free(new).unwrap();
    assert_eq!(
        message(reg.get(old)),
        format!("{old} names no live object: the object moved and was destroyed since")
    );
}

#[test]
fn type_mismatches_name_both_types() {
    let mut reg = Registry::new();
    let root = reg.root();
    let typed = reg.alloc_typed(root, 7u64).unwrap();
    let bytes = raw(&mut reg, root, 8);
    let err = reg.get(typed).unwrap_err();
    assert_eq!(
        err,
        Error::TypeMismatch {
            handle: typed,
            expected: Expected::Raw,
            found: ObjectType::Type("u64"),
        }
    );
    assert_eq!(
        err.to_string(),
        format!("{typed} is a `u64`, but a raw object (byte access) was expected")
    );
    assert_eq!(
        message(reg.get_typed::<u32>(typed)),
        format!("{typed} is a `u64`, but a `u32` was expected")
    );
    assert_eq!(
        message(reg.get_typed::<u64>(bytes)),
        format!("{bytes} is a raw object with tag 5, but a `u64` was expected")
    );
    let slice = reg.alloc_slice_copy(root, &[1u16, 2]).unwrap();
    assert_eq!(
        message(reg.get_slice::<u8>(slice)),
        format!("{slice} is a `[u16]`, but a `[u8]` was expected")
    );
}

#[test]
fn count_errors_name_the_handle() {
    let mut reg = Registry::new();
    let root = reg.root();
    let h = raw(&mut reg, root, 8);
    let err = reg.release(h).unwrap_err();
    assert_eq!(
        err,
        Error::RefcountUnderflow {
            count: Count::Strong,
            of: Counted::Object(h),
        }
    );
    assert_eq!(
        err.to_string(),
        format!("the strong count of {h} is already 0")
    );
    let overflow = Error::RefcountOverflow {
        count: Count::Region,
        of: Counted::Region(RegionHandle::from_raw_parts(3, 1)),
    };
    assert_eq!(
        overflow.to_string(),
        "the region refcount of region 3v1 would exceed u32::MAX"
    );
    let weak = Error::RefcountOverflow {
        count: Count::Weak,
        of: Counted::Object(h),
    };
    assert_eq!(
        weak.to_string(),
        format!("the weak count of {h} would exceed u32::MAX")
    );
}

#[test]
fn size_and_layout_errors_give_the_numbers() {
    let mut reg = Registry::new();
    let root = reg.root();
    let layout = Layout::from_size_align(4, 4).unwrap();
    assert_eq!(
        message(reg.alloc(root, layout, b"abc", TypeTag(1))),
        "layout size is 4 bytes but 3 bytes were given"
    );
    let huge = Layout::from_size_align(MAX_OBJECT_SIZE + 1, 8).unwrap();
    assert_eq!(
        message(reg.alloc_bulk(root, huge, TypeTag(1), 0, &[])),
        format!(
            "size {} exceeds the maximum object size {MAX_OBJECT_SIZE}",
            MAX_OBJECT_SIZE + 1
        )
    );
    let len = MAX_OBJECT_SIZE / 8 + 1;
    assert_eq!(
        message(reg.alloc_slice_fill_with(root, len, |_| 0u64)),
        format!(
            "size {} exceeds the maximum object size {MAX_OBJECT_SIZE}",
            len * 8
        )
    );
    let wide = Layout::from_size_align(8, 8192).unwrap();
    assert_eq!(
        message(reg.alloc(root, wide, &[0; 8], TypeTag(1))),
        "alignment 8192 exceeds the maximum alignment 4096"
    );
    let reserved = TypeTag(TypeTag::TYPED_BIT | 1);
    assert_eq!(
        message(reg.alloc(root, layout, b"abcd", reserved)),
        format!("{reserved} has the bit reserved for typed allocations")
    );
    assert_eq!(
        Error::TypeTagCollision { tag: reserved }.to_string(),
        format!("{reserved} is already used by another Rust type")
    );
}

#[test]
fn budget_errors_say_which_budget_and_by_how_much() {
    let mut reg = Registry::new();
    reg.set_budget(Some(100));
    let sandbox = reg.create_region_with_budget(reg.root(), 40).unwrap();
    raw(&mut reg, sandbox, 30);
    let layout = Layout::from_size_align(20, 8).unwrap();
    assert_eq!(
        message(reg.alloc(sandbox, layout, &[0; 20], TypeTag(1))),
        format!("20 bytes requested but only 10 remain in the budget of {sandbox} (over by 10)")
    );
    let root = reg.root();
    let layout = Layout::from_size_align(80, 8).unwrap();
    let err = reg.alloc(root, layout, &[0; 80], TypeTag(1)).unwrap_err();
    assert_eq!(
        err,
        Error::BudgetExceeded {
            budget: Budget::Registry,
            requested: 80,
            available: 70,
        }
    );
    assert_eq!(
        err.to_string(),
        "80 bytes requested but only 70 remain in the registry's budget (over by 10)"
    );
}

#[test]
fn resource_errors_read_plainly() {
    assert_eq!(
        Error::OutOfMemory { requested: 4096 }.to_string(),
        "the allocator refused 4096 bytes"
    );
    assert_eq!(
        Error::IdSpaceExhausted.to_string(),
        "no region or slot id is left"
    );
    let retired = Error::InvalidRegion {
        region: RegionHandle::from_raw_parts(2, 7),
        found: Found::Retired,
    };
    assert_eq!(
        retired.to_string(),
        "region 2v7 is not a live region: the id is retired"
    );
}

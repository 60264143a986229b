//! Serialization: round trips with handle translation, and a decoder that
//! refuses bad bytes without changing anything.

use std::panic::{catch_unwind, AssertUnwindSafe};

use regions::{
    ErrorKind, LoadError, Loader, ObjectHandle, Persist, RegionHandle, Registry, Saver, TypeTag,
};

mod common;
use common::assert_consistent;

const ROOT: RegionHandle = RegionHandle::ROOT;

/// A typed value that refers to another object.
#[derive(Debug, PartialEq)]
struct Link {
    value: u64,
    next: Option<ObjectHandle>,
}

impl Persist for Link {
    const NAME: &'static str = "tests::Link";
    fn save(&self, out: &mut Saver<'_>) {
        out.u64(self.value);
        out.handle(self.next);
    }
    fn load(input: &mut Loader<'_>) -> Result<Self, LoadError> {
        Ok(Link {
            value: input.u64()?,
            next: input.handle()?,
        })
    }
}

/// A typed value whose loader panics on a marker value.
struct Fragile(u64);

impl Persist for Fragile {
    const NAME: &'static str = "tests::Fragile";
    fn save(&self, out: &mut Saver<'_>) {
        out.u64(self.0);
    }
    fn load(input: &mut Loader<'_>) -> Result<Self, LoadError> {
        let value = input.u64()?;
        assert_ne!(value, 666, "the loader panics");
        Ok(Fragile(value))
    }
}

fn registry() -> Registry {
    let mut reg = Registry::new();
    reg.register_persist::<Link>().unwrap();
    reg.register_persist::<Fragile>().unwrap();
    reg
}

/// Everything observable of the registry, for "nothing changed".
fn fingerprint(reg: &Registry) -> String {
    let mut objects: Vec<String> = reg
        .all_objects()
        .map(|h| {
            let bytes = reg.get(h).map(<[u8]>::to_vec).ok();
            let link = reg.get_typed::<Link>(h).ok().map(|l| (l.value, l.next));
            format!(
                "{h} {:?} {:?} {:?} {:?} {bytes:?} {link:?}",
                reg.region_of(h),
                reg.strong_count(h),
                reg.weak_count(h),
                reg.type_tag(h)
            )
        })
        .collect();
    objects.sort();
    let mut regions: Vec<String> = reg
        .live_regions()
        .map(|r| format!("{r} {:?} {:?}", reg.parent_of(r), reg.region_refcount(r)))
        .collect();
    regions.sort();
    format!("{:?}\n{regions:?}\n{objects:?}", reg.global_stats())
}

/// A level with a nested room, raw and typed objects, budgets, refcounts,
/// stored references, and objects that moved (old handles).
struct Scene {
    reg: Registry,
    level: RegionHandle,
    room: RegionHandle,
    raw: ObjectHandle,
    moved_old: ObjectHandle,
    head: ObjectHandle,
    tail: ObjectHandle,
    outside: ObjectHandle,
}

fn scene() -> Scene {
    let mut reg = registry();
    let level = reg.create_region(ROOT).unwrap();
    let room = reg
        .region_builder()
        .parent(level)
        .budget(4096)
        .create()
        .unwrap();
    reg.retain_region(room).unwrap();
    let raw = reg.alloc_bytes(room, TypeTag(7), 8, b"raw bytes!").unwrap();
    let tail = reg
        .alloc_typed(
            room,
            Link {
                value: 2,
                next: None,
            },
        )
        .unwrap();
    let head = reg
        .alloc_typed(
            level,
            Link {
                value: 1,
                next: Some(tail),
            },
        )
        .unwrap();
    // An object promoted out of a dying region: its first handle forwards.
    let scratch = reg.create_region(level).unwrap();
    let moved_old = reg.alloc_bytes(scratch, TypeTag(3), 1, b"m").unwrap();
    reg.retain(moved_old).unwrap();
    reg.release_region(scratch).unwrap();
    let outside = reg.alloc_bytes(ROOT, TypeTag(4), 1, b"o").unwrap();
    reg.store_handle(room, head).unwrap(); // inside the subtree: kept
    reg.store_handle(room, outside).unwrap(); // outside: not carried
    reg.downgrade(raw).unwrap();
    Scene {
        reg,
        level,
        room,
        raw,
        moved_old,
        head,
        tail,
        outside,
    }
}

#[test]
fn a_round_trip_copies_the_subtree_and_translates_every_handle() {
    let Scene {
        mut reg,
        level,
        room,
        raw,
        moved_old,
        head,
        tail,
        outside,
    } = scene();
    let bytes = reg.serialize(level).unwrap();
    let before = reg.all_objects().count();
    let (copy, map) = reg.deserialize(ROOT, &bytes).unwrap();
    assert_consistent(&reg);
    assert_eq!(
        reg.all_objects().count(),
        before * 2 - 1,
        "all but `outside`"
    );
    assert_eq!(map.region(level), Some(copy));
    let room_copy = map.region(room).unwrap();
    assert_eq!(reg.parent_of(room_copy).unwrap(), Some(copy));
    assert_eq!(reg.region_refcount(copy).unwrap(), 1);
    assert_eq!(reg.region_refcount(room_copy).unwrap(), 2);
    assert_eq!(reg.region_budget(room_copy).unwrap(), Some(4096));

    let raw_copy = map.get(raw).unwrap();
    assert_eq!(reg.get(raw_copy).unwrap(), b"raw bytes!");
    assert_eq!(reg.type_tag(raw_copy).unwrap(), TypeTag(7));
    assert_eq!(reg.layout_of(raw_copy).unwrap().align(), 8);
    assert_eq!(reg.weak_count(raw_copy).unwrap(), 1);
    // The old handle of the moved object translates too.
    let moved_copy = map.get(moved_old).unwrap();
    assert_eq!(map.get(reg.current(moved_old).unwrap()), Some(moved_copy));
    assert_eq!(reg.strong_count(moved_copy).unwrap(), 1);
    // A typed value's handle points at the copy of its target.
    let head_copy = map.get(head).unwrap();
    let link = reg.get_typed::<Link>(head_copy).unwrap();
    assert_eq!(link.value, 1);
    assert_eq!(link.next, map.get(tail));
    // Stored references inside the subtree are carried; outside, not.
    assert_eq!(
        reg.stored_in(room_copy).unwrap().collect::<Vec<_>>(),
        [head_copy]
    );
    assert_eq!(map.get(outside), None);
    // The copy is independent: releasing it leaves the original.
    reg.release_region(copy).unwrap();
    assert_eq!(reg.get(raw).unwrap(), b"raw bytes!");
    assert_consistent(&reg);
}

#[test]
fn the_whole_registry_round_trips_under_a_region() {
    let Scene { mut reg, .. } = scene();
    let bytes = reg.serialize(ROOT).unwrap();
    let mut other = registry();
    let (copy, map) = other.deserialize(ROOT, &bytes).unwrap();
    assert_eq!(
        other.subtree_objects(copy).unwrap().count(),
        reg.all_objects().count()
    );
    for (old, new) in map.iter() {
        let current = reg.current(old).unwrap();
        assert_eq!(
            reg.layout_of(current).unwrap(),
            other.layout_of(new).unwrap()
        );
        assert_eq!(reg.strong_count(current), other.strong_count(new));
    }
    assert_consistent(&other);
    // And a registry that knows no `Link` refuses the stream.
    let mut plain = Registry::new();
    let error = plain.deserialize(ROOT, &bytes).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CorruptInput);
    assert!(error.to_string().contains("no serializer"), "{error}");
    let level = reg.children(ROOT).unwrap().next().unwrap();
    reg.release_region(level).unwrap();
    assert_consistent(&reg);
}

/// Saves two words and loads one: a persister out of step with itself.
struct Lopsided(u64);

impl Persist for Lopsided {
    const NAME: &'static str = "tests::Lopsided";
    fn save(&self, out: &mut Saver<'_>) {
        out.u64(self.0);
        out.u64(!self.0);
    }
    fn load(input: &mut Loader<'_>) -> Result<Self, LoadError> {
        Ok(Lopsided(input.u64()?))
    }
}

/// A typed value whose loader leaves some of its bytes unread is refused
/// as corrupt (the stream and the persister disagree on its length), and
/// the refusal changes nothing.
#[test]
fn a_loader_that_leaves_bytes_unread_is_refused() {
    let mut reg = Registry::new();
    reg.register_persist::<Lopsided>().unwrap();
    let r = reg.create_region(ROOT).unwrap();
    reg.alloc_typed(r, Lopsided(7)).unwrap();
    let bytes = reg.serialize(r).unwrap();
    let before = fingerprint(&reg);
    let error = reg.deserialize(ROOT, &bytes).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CorruptInput, "{error}");
    assert_eq!(fingerprint(&reg), before);
    assert_consistent(&reg);
}

#[test]
fn a_typed_object_without_a_serializer_is_unserializable() {
    let mut reg = Registry::new();
    let r = reg.create_region(ROOT).unwrap();
    let h = reg.alloc_typed(r, String::from("no Persist")).unwrap();
    let error = reg.serialize(r).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unserializable);
    assert!(matches!(error, regions::Error::Unserializable { handle } if handle == h));
}

#[test]
fn every_truncation_and_bit_flip_is_refused_or_consistent() {
    let Scene { mut reg, level, .. } = scene();
    let bytes = reg.serialize(level).unwrap();
    let before = fingerprint(&reg);
    let step = if cfg!(miri) { 37 } else { 1 };
    for len in (0..bytes.len()).step_by(step) {
        let error = reg.deserialize(ROOT, &bytes[..len]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::CorruptInput, "length {len}");
        assert_eq!(fingerprint(&reg), before, "length {len} changed something");
    }
    for bit in (0..bytes.len() * 8).step_by(step * 3) {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let mut fresh = scene().reg;
        match fresh.deserialize(ROOT, &flipped) {
            Ok((copy, map)) => {
                assert!(fresh.is_region_alive(copy));
                assert!(map.copies().iter().all(|&h| fresh.is_alive(h)));
            }
            Err(_) => assert_eq!(fingerprint(&fresh), before, "bit {bit} changed something"),
        }
        assert_consistent(&fresh);
    }
}

#[test]
fn a_panicking_loader_undoes_everything_and_the_panic_goes_on() {
    let mut reg = registry();
    let r = reg.create_region(ROOT).unwrap();
    reg.alloc_typed(r, Fragile(1)).unwrap();
    reg.alloc_bytes(r, TypeTag(1), 1, b"x").unwrap();
    reg.alloc_typed(r, Fragile(666)).unwrap();
    let bytes = reg.serialize(r).unwrap();
    let before = fingerprint(&reg);
    let result = catch_unwind(AssertUnwindSafe(|| reg.deserialize(ROOT, &bytes)));
    assert!(result.is_err(), "the loader's panic goes on");
    assert_eq!(fingerprint(&reg), before);
    assert_consistent(&reg);
}

#[test]
fn a_copy_over_the_budget_changes_nothing() {
    let Scene { mut reg, level, .. } = scene();
    let bytes = reg.serialize(level).unwrap();
    let live = reg.global_stats().occupancy.payload_bytes;
    reg.set_budget(Some(live + 4));
    let before = fingerprint(&reg);
    let error = reg.deserialize(ROOT, &bytes).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BudgetExceeded);
    assert_eq!(fingerprint(&reg), before);
    assert_consistent(&reg);
}

#[test]
fn hostile_headers_are_refused_before_anything_is_allocated() {
    let mut reg = registry();
    let mut header = b"RGNS\x01\x00\x00\x00".to_vec();
    // Counts far beyond the bytes that follow.
    header.extend_from_slice(&[0xff; 20]);
    let error = reg.deserialize(ROOT, &header).unwrap_err();
    assert!(
        matches!(error, regions::Error::CorruptInput { offset: 8, .. }),
        "{error}"
    );
    let error = reg.deserialize(ROOT, b"RGNS\x02\x00").unwrap_err();
    assert!(
        matches!(error, regions::Error::CorruptInput { offset: 4, .. }),
        "{error}"
    );
    assert_eq!(reg.live_region_count(), 1);
}

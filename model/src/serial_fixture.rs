//! The serialization fixture shared by the fuzz target `deserialize`, its
//! seed-corpus generator (`examples/seed_deserialize.rs`) and the corpus
//! replay test (`tests/deserialize_corpus.rs`).
//!
//! - The [`Persist`] types every fixture registry registers
//!   ([`register_types`]): [`Point`] (fixed size), [`Link`] (embeds an
//!   `Option<ObjectHandle>`) and [`Label`] (owns heap memory, so a leak on
//!   an undo path shows up under LeakSanitizer).
//! - [`populated_registry`]: a registry with nested regions, raw and typed
//!   objects, promoted and death-promoted (forwarded) objects, stored
//!   references, strong and weak counts, freed slots, a budgeted region and
//!   a typed object of a type with no registered serializer;
//!   [`populated_registry_with`] makes variants of it ([`Shape`]), and
//!   [`extreme_streams`] streams that are many of one small thing.
//! - [`check_deserialize`]: feeds untrusted bytes to
//!   [`Registry::deserialize`] and checks what the fuzz target checks.

use std::collections::HashSet;

use core::alloc::Layout;

use regions::{
    GlobalStats, LoadError, Loader, ObjectHandle, Persist, RegionHandle, Registry, Saver, TypeTag,
};

/// A fixed-size value: two words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// First word.
    pub x: u64,
    /// Second word.
    pub y: u64,
}

impl Persist for Point {
    const NAME: &'static str = "regions_model::serial_fixture::Point";
    fn save(&self, out: &mut Saver<'_>) {
        out.u64(self.x);
        out.u64(self.y);
    }
    fn load(input: &mut Loader<'_>) -> Result<Self, LoadError> {
        Ok(Point {
            x: input.u64()?,
            y: input.u64()?,
        })
    }
}

/// A list node: a value and a reference to another object (any object,
/// typed or raw, in any region).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The payload.
    pub value: u64,
    /// The object it refers to, if any.
    pub next: Option<ObjectHandle>,
}

impl Persist for Link {
    const NAME: &'static str = "regions_model::serial_fixture::Link";
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

/// A value owning heap memory: a byte string, saved as its length and its
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label(pub Vec<u8>);

impl Persist for Label {
    const NAME: &'static str = "regions_model::serial_fixture::Label";
    fn save(&self, out: &mut Saver<'_>) {
        out.u64(self.0.len() as u64);
        out.bytes(&self.0);
    }
    fn load(input: &mut Loader<'_>) -> Result<Self, LoadError> {
        let len = usize::try_from(input.u64()?).map_err(|_| LoadError {
            reason: "a label's length does not fit in memory",
        })?;
        // `bytes` checks the length against what is left before anything
        // is allocated.
        Ok(Label(input.bytes(len)?.to_vec()))
    }
}

/// Registers the fixture's [`Persist`] types (every registry that loads
/// fixture streams needs them).
pub fn register_types(reg: &mut Registry) -> regions::Result<()> {
    reg.register_persist::<Point>()?;
    reg.register_persist::<Link>()?;
    reg.register_persist::<Label>()
}

/// What [`populated_registry_with`] builds.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Picks the objects' sizes, tags, regions and counts.
    pub seed: u64,
    /// Objects allocated by the random part (on top of the fixed ones).
    pub objects: usize,
    /// Whether typed objects ([`Point`], [`Link`], [`Label`]) are made.
    pub typed: bool,
    /// Whether the root holds a typed object of a type with no registered
    /// serializer (`u32`; then the root cannot be serialized).
    pub unserializable: bool,
}

impl Default for Shape {
    /// The shape of [`populated_registry`].
    fn default() -> Self {
        Shape {
            seed: 0x5eed,
            objects: 12,
            typed: true,
            unserializable: true,
        }
    }
}

/// splitmix64: a small, stable generator (the fixture must not change when
/// a dependency does).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The registry the fuzz target deserializes into: [`populated_registry_with`]
/// of the default [`Shape`].
pub fn populated_registry() -> Registry {
    populated_registry_with(Shape::default())
}

/// A populated registry of shape `shape`, with the fixture's types
/// registered. Its regions:
///
/// ```text
/// root ─┬─ level ─┬─ room ── closet
///       │         └─ hall (budget 1 MiB, refcount 2)
///       └─ plain (raw objects only)
/// ```
///
/// Fixed content, whatever the shape: an object promoted from the root into
/// `level` and one from `closet` into `level` (both leave old handles that
/// forward), an object retained in a region that then died (promoted into
/// `room`, its old handle in a ghost record), one promoted twice, stored
/// references inside `level`'s subtree and from the root into it, weak and
/// strong counts, freed slots. The random part adds `shape.objects`
/// objects: raw ones (0 to 5000 bytes, alignments 1 to 64) and, if
/// `shape.typed`, typed ones whose links point anywhere, old handles
/// included.
pub fn populated_registry_with(shape: Shape) -> Registry {
    build(shape).unwrap_or_else(|error| panic!("building the fixture {shape:?}: {error}"))
}

fn build(shape: Shape) -> regions::Result<Registry> {
    let mut rng = Mix(shape.seed);
    let mut reg = Registry::new();
    register_types(&mut reg)?;
    let root = reg.root();
    if shape.unserializable {
        reg.alloc_typed(root, 0xfeed_u32)?;
    }
    let level = reg.create_region(root)?;
    let room = reg.create_region(level)?;
    let closet = reg.create_region(room)?;
    let hall = reg.create_region_with_budget(level, 1 << 20)?;
    reg.retain_region(hall)?;
    let plain = reg.create_region(root)?;

    // Objects and old handles that forward.
    let mut handles: Vec<ObjectHandle> = Vec::new();
    let lifted = reg.alloc_bytes(root, TypeTag(3), 4, b"lifted into level")?;
    handles.push(lifted);
    handles.push(reg.promote(lifted, level)?);
    let climbed = reg.alloc_bytes(closet, TypeTag(4), 8, &[0xc1; 24])?;
    handles.push(climbed);
    let climbed = reg.promote(climbed, level)?;
    handles.push(climbed);
    let doomed = reg.create_region(room)?;
    let survivor = reg.alloc_bytes(doomed, TypeTag(5), 1, b"outlived its region")?;
    reg.retain(survivor)?;
    reg.alloc_bytes(doomed, TypeTag(6), 1, b"died with it")?;
    handles.push(survivor);
    reg.release_region(doomed)?;
    let twice = reg.alloc_bytes(closet, TypeTag(7), 2, &[7; 40])?;
    handles.push(twice);
    let twice = reg.promote(twice, hall)?;
    handles.push(reg.promote(twice, room)?);
    if shape.typed {
        let point = reg.alloc_typed(level, Point { x: 1, y: 2 })?;
        let label = reg.alloc_typed(closet, Label(b"a label".to_vec()))?;
        let link = Link {
            value: 3,
            next: Some(label),
        };
        let link = reg.alloc_typed(room, link)?;
        // A link through an old handle, one out of the subtree, one to none.
        let via_old = Link {
            value: 4,
            next: Some(lifted),
        };
        handles.push(reg.alloc_typed(hall, via_old)?);
        let outward = reg.alloc_typed(
            room,
            Link {
                value: 5,
                next: None,
            },
        )?;
        handles.extend([point, label, link, outward]);
        let out = reg.alloc_typed(
            root,
            Link {
                value: 6,
                next: Some(point),
            },
        )?;
        handles.push(reg.promote(out, plain)?);
    }
    // Stored references: inside the subtree, into it from the root, and
    // twice the same object.
    reg.store_handle(room, climbed)?;
    reg.store_handle(closet, handles[0])?;
    reg.store_handle(closet, handles[0])?;
    reg.store_handle(root, climbed)?;
    // Counts.
    reg.retain(climbed)?;
    reg.downgrade(twice)?;
    // Holes: freed slots.
    let gone = reg.alloc_bytes(level, TypeTag(8), 1, b"freed")?;
    reg.free(gone)?;

    let regions = [level, room, closet, hall, plain, root];
    for i in 0..shape.objects {
        let region = regions[rng.below(regions.len())];
        let typed = shape.typed && region != plain && rng.below(3) == 0;
        let handle = if typed {
            match rng.below(3) {
                0 => reg.alloc_typed(
                    region,
                    Point {
                        x: rng.next(),
                        y: i as u64,
                    },
                )?,
                1 => {
                    let next = match rng.below(4) {
                        0 => None,
                        _ => Some(handles[rng.below(handles.len())]),
                    };
                    reg.alloc_typed(
                        region,
                        Link {
                            value: i as u64,
                            next,
                        },
                    )?
                }
                _ => {
                    let len = [0, 5, 30, 200][rng.below(4)];
                    reg.alloc_typed(region, Label(vec![i as u8; len]))?
                }
            }
        } else {
            let size = [0, 1, 8, 16, 17, 100, 700, 5000][rng.below(8)];
            let align = 1 << rng.below(7);
            let size = size / align * align;
            let bytes: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            let tag = TypeTag(rng.next() >> 1);
            let layout = Layout::from_size_align(size, align).expect("a valid layout");
            reg.alloc(region, layout, &bytes, tag)?
        };
        match rng.below(6) {
            0 => reg.retain(handle)?,
            1 => drop(reg.downgrade(handle)?),
            2 if region != room => drop(reg.store_handle(room, handle)?),
            3 => {
                let target = regions[rng.below(regions.len())];
                handles.push(handle);
                let moved = reg.promote(handle, target)?;
                handles.push(moved);
                continue;
            }
            4 if handles.len() > 4 => {
                reg.free(handle)?;
                continue;
            }
            _ => {}
        }
        handles.push(handle);
    }
    Ok(reg)
}

/// Streams of subtrees that are `count` of one small thing (each with
/// what it is): empty regions, a chain of regions, empty raw objects,
/// one-byte raw objects aligned to 4096, empty [`Label`]s, stored
/// references to one object, old handles of one object. These are the
/// valid streams where the decoder needs the most memory per input byte;
/// they load into [`populated_registry`] unless the decoder refuses them
/// as too expansive (`docs/FORMAT.md`, "Limits").
pub fn extreme_streams(count: usize) -> Vec<(String, Vec<u8>)> {
    let fresh = || {
        let mut reg = Registry::new();
        register_types(&mut reg).expect("registering the fixture's types");
        let top = reg.create_region(reg.root()).expect("a region");
        (reg, top)
    };
    let mut out = Vec::new();
    let mut add = |what: String, reg: Registry, top: RegionHandle| {
        let bytes = reg
            .serialize(top)
            .unwrap_or_else(|error| panic!("serializing {what}: {error}"));
        out.push((what, bytes));
    };
    // Empty regions (17 stream bytes each).
    let (mut reg, top) = fresh();
    for _ in 0..count {
        reg.create_region(top).expect("a region");
    }
    add(format!("{count} empty regions"), reg, top);
    // A chain of regions, each the parent of the next.
    let (mut reg, top) = fresh();
    let mut at = top;
    for _ in 0..count {
        at = reg.create_region(at).expect("a region");
    }
    add(format!("a chain of {count} regions"), reg, top);
    // Empty raw objects (42 stream bytes each).
    let (mut reg, top) = fresh();
    for i in 0..count {
        reg.alloc_bytes(top, TypeTag(i as u64), 1, &[])
            .expect("an object");
    }
    add(format!("{count} empty objects"), reg, top);
    // One-byte raw objects aligned to `MAX_ALIGN` (43 stream bytes each).
    let (mut reg, top) = fresh();
    for i in 0..count {
        reg.alloc_bytes(top, TypeTag(i as u64), regions::MAX_ALIGN, &[i as u8])
            .expect("an object");
    }
    add(
        format!("{count} one-byte objects aligned to 4096"),
        reg,
        top,
    );
    // Empty labels (typed, heap-owning, 45 stream bytes each).
    let (mut reg, top) = fresh();
    for _ in 0..count {
        reg.alloc_typed(top, Label(Vec::new())).expect("an object");
    }
    add(format!("{count} empty labels"), reg, top);
    // Stored references to one object (8 stream bytes each).
    let (mut reg, top) = fresh();
    let child = reg.create_region(top).expect("a region");
    let target = reg.alloc_bytes(top, TypeTag(1), 1, &[]).expect("an object");
    for _ in 0..count {
        reg.store_handle(child, target).expect("a stored reference");
    }
    add(format!("{count} stored references"), reg, top);
    // Old handles of one object (20 stream bytes each): it moves back and
    // forth between two regions.
    let (mut reg, top) = fresh();
    let child = reg.create_region(top).expect("a region");
    let mut moving = reg.alloc_bytes(top, TypeTag(1), 1, &[]).expect("an object");
    for i in 0..count {
        let to = if i % 2 == 0 { child } else { top };
        moving = reg.promote(moving, to).expect("a promotion");
    }
    add(format!("{count} old handles"), reg, top);
    out
}

/// One object as a fingerprint sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPrint {
    /// The handle's raw parts (region id, generation, slot, slot generation).
    pub handle: [u32; 4],
    /// Its type tag.
    pub tag: u64,
    /// Its layout (size, alignment).
    pub layout: (usize, usize),
    /// Strong and weak counts.
    pub counts: (u32, u32),
    /// Its contents.
    pub value: Value,
}

/// An object's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A raw object's bytes.
    Bytes(Vec<u8>),
    /// A [`Point`].
    Point(Point),
    /// A [`Link`].
    Link(Link),
    /// A [`Label`].
    Label(Label),
    /// A typed object of a type the fixture does not know.
    Opaque,
}

/// One region as a fingerprint sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionPrint {
    /// The handle's raw parts (id, generation).
    pub handle: [u32; 2],
    /// The parent's raw parts, none for the root.
    pub parent: Option<[u32; 2]>,
    /// Its refcount.
    pub refcount: u32,
    /// Its budget.
    pub budget: Option<u64>,
    /// The objects it holds stored references to (sorted raw parts).
    pub stored: Vec<[u32; 4]>,
}

/// What must not change when a deserialization fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// [`Registry::global_stats`], but for `cached_block_bytes`, which is
    /// set to 0: "figures about pages, free space and cached blocks depend
    /// on the allocator and are not part of the model" (`docs/SEMANTICS.md`,
    /// "Statistics"), and undoing a failed copy hands its regions' blocks to
    /// the block cache. The page figures are kept: the regions that were
    /// there before keep their pages.
    pub stats: GlobalStats,
    /// [`Registry::live_region_count`].
    pub live_regions: usize,
    /// Every live region, sorted by handle.
    pub regions: Vec<RegionPrint>,
    /// Every live object, sorted by handle.
    pub objects: Vec<ObjectPrint>,
    /// [`Registry::check_invariants`], as text.
    pub invariants: Result<(), String>,
}

fn object_parts(h: ObjectHandle) -> [u32; 4] {
    let region = h.region();
    [
        region.id(),
        region.generation(),
        h.slot(),
        h.slot_generation(),
    ]
}

fn region_parts(r: RegionHandle) -> [u32; 2] {
    [r.id(), r.generation()]
}

/// How the fingerprint sees object `h` (a live object's home handle).
pub fn object_print(reg: &Registry, h: ObjectHandle) -> ObjectPrint {
    let layout = reg.layout_of(h).expect("a live object has a layout");
    let value = if let Ok(bytes) = reg.get(h) {
        Value::Bytes(bytes.to_vec())
    } else if let Ok(point) = reg.get_typed::<Point>(h) {
        Value::Point(point.clone())
    } else if let Ok(link) = reg.get_typed::<Link>(h) {
        Value::Link(link.clone())
    } else if let Ok(label) = reg.get_typed::<Label>(h) {
        Value::Label(label.clone())
    } else {
        Value::Opaque
    };
    ObjectPrint {
        handle: object_parts(h),
        tag: reg.type_tag(h).expect("a live object has a tag").0,
        layout: (layout.size(), layout.align()),
        counts: (
            reg.strong_count(h).expect("a live object"),
            reg.weak_count(h).expect("a live object"),
        ),
        value,
    }
}

/// How the fingerprint sees live region `r`.
pub fn region_print(reg: &Registry, r: RegionHandle) -> RegionPrint {
    let mut stored: Vec<[u32; 4]> = reg
        .stored_in(r)
        .expect("a live region")
        .map(object_parts)
        .collect();
    stored.sort_unstable();
    RegionPrint {
        handle: region_parts(r),
        parent: reg.parent_of(r).expect("a live region").map(region_parts),
        refcount: reg.region_refcount(r).expect("a live region"),
        budget: reg.region_budget(r).expect("a live region"),
        stored,
    }
}

impl Fingerprint {
    /// The fingerprint of `reg`.
    pub fn of(reg: &Registry) -> Self {
        let mut regions: Vec<RegionPrint> =
            reg.live_regions().map(|r| region_print(reg, r)).collect();
        regions.sort_unstable_by_key(|r| r.handle);
        let mut objects: Vec<ObjectPrint> =
            reg.all_objects().map(|h| object_print(reg, h)).collect();
        objects.sort_unstable_by_key(|o| o.handle);
        let stats = GlobalStats {
            cached_block_bytes: 0,
            ..reg.global_stats()
        };
        Fingerprint {
            stats,
            live_regions: reg.live_region_count(),
            regions,
            objects,
            invariants: reg.check_invariants().map_err(|v| v.to_string()),
        }
    }
}

/// The regions of the subtree of live region `top`, `top` first.
pub fn subtree(reg: &Registry, top: RegionHandle) -> Vec<RegionHandle> {
    let mut regions = vec![top];
    let mut at = 0;
    while at < regions.len() {
        let children = reg.children(regions[at]).expect("a live region");
        regions.extend(children);
        at += 1;
    }
    regions
}

/// Feeds untrusted `data` to `deserialize(root, data)` on a fresh
/// [`populated_registry`] and checks (panicking on a failure):
///
/// - on `Err`, the registry is unchanged: the [`Fingerprint`] (statistics,
///   live regions, every object's contents and counts, every region's
///   refcount, budget and stored references, the invariants) is as before;
/// - on `Ok`, the invariants hold; the copy's subtree holds exactly the
///   map's copies; every handle the map translates leads to a copy; the
///   regions and objects that were there before are untouched; and after
///   the copy is released the invariants still hold.
///
/// The fuzz target `deserialize` is this function.
pub fn check_deserialize(data: &[u8]) {
    let mut reg = populated_registry();
    let before = Fingerprint::of(&reg);
    if let Err(violations) = &before.invariants {
        panic!("the fixture breaks the invariants: {violations}");
    }
    let root = reg.root();
    let (copy, map) = match reg.deserialize(root, data) {
        Err(error) => {
            let after = Fingerprint::of(&reg);
            if after != before {
                panic!(
                    "deserialize failed ({error}) but changed the registry:\n{}",
                    diff(&before, &after)
                );
            }
            return;
        }
        Ok(made) => made,
    };
    if let Err(violations) = reg.check_invariants() {
        panic!("after a successful deserialize: {violations}");
    }
    let regions = subtree(&reg, copy);
    let copied: Vec<ObjectHandle> = regions
        .iter()
        .flat_map(|&r| reg.objects(r).expect("a live region"))
        .collect();
    assert_eq!(
        copied.len(),
        map.copies().len(),
        "the copy holds {} objects, the map {} copies",
        copied.len(),
        map.copies().len()
    );
    let copied: HashSet<ObjectHandle> = copied.into_iter().collect();
    for (i, &new) in map.copies().iter().enumerate() {
        assert!(
            copied.contains(&new),
            "copy {i} ({new:?}) is not an object of the copy"
        );
    }
    let copies: HashSet<ObjectHandle> = map.copies().iter().copied().collect();
    assert_eq!(
        copies.len(),
        map.copies().len(),
        "two copies share a handle"
    );
    for (old, new) in map.iter() {
        assert!(
            copies.contains(&new),
            "the map sends {old:?} to {new:?}, not a copy"
        );
    }
    // What was there before is untouched.
    let new_regions: HashSet<[u32; 2]> = regions.iter().map(|&r| region_parts(r)).collect();
    let after = Fingerprint::of(&reg);
    let old_regions: Vec<&RegionPrint> = after
        .regions
        .iter()
        .filter(|r| !new_regions.contains(&r.handle))
        .collect();
    let old_objects: Vec<&ObjectPrint> = after
        .objects
        .iter()
        .filter(|o| {
            !copied.contains(&ObjectHandle::from_raw_parts(
                o.handle[0],
                o.handle[1],
                o.handle[2],
                o.handle[3],
            ))
        })
        .collect();
    assert!(
        old_regions.iter().copied().eq(before.regions.iter()),
        "deserialize changed the regions that were there before"
    );
    assert!(
        old_objects.iter().copied().eq(before.objects.iter()),
        "deserialize changed the objects that were there before"
    );
    match reg.release_region(copy) {
        Ok(true) => {}
        other => panic!("releasing the copy's root (refcount 1): {other:?}"),
    }
    if let Err(violations) = reg.check_invariants() {
        panic!("after releasing the copy: {violations}");
    }
}

/// The parts of two fingerprints that differ, for a failure message.
fn diff(before: &Fingerprint, after: &Fingerprint) -> String {
    let mut out = String::new();
    if before.stats != after.stats {
        out += &format!("stats: {:?}\n    -> {:?}\n", before.stats, after.stats);
    }
    if before.live_regions != after.live_regions {
        out += &format!(
            "live regions: {} -> {}\n",
            before.live_regions, after.live_regions
        );
    }
    if before.invariants != after.invariants {
        out += &format!(
            "invariants: {:?} -> {:?}\n",
            before.invariants, after.invariants
        );
    }
    for r in &before.regions {
        if !after.regions.contains(r) {
            out += &format!("region gone or changed: {r:?}\n");
        }
    }
    for r in &after.regions {
        if !before.regions.contains(r) {
            out += &format!("region new or changed: {r:?}\n");
        }
    }
    for o in &before.objects {
        if !after.objects.contains(o) {
            out += &format!("object gone or changed: {o:?}\n");
        }
    }
    for o in &after.objects {
        if !before.objects.contains(o) {
            out += &format!("object new or changed: {o:?}\n");
        }
    }
    out
}

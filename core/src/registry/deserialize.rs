//! Deserialization: a stream of `docs/FORMAT.md` becomes a new subtree.
//!
//! The bytes are not trusted. The whole stream is parsed and checked
//! first (every count against the bytes left, every index against its
//! table, every size and alignment against the limits) without touching
//! the registry, so what the decoder holds is bounded by the stream's
//! length. Then the regions and objects are created, the typed values
//! loaded by their types' serializers (which see the new handles), and the
//! stored references recorded. If anything fails there (memory, a budget,
//! a serializer refusing its bytes or panicking), everything made so far
//! is undone: the registry, its statistics included, is as it was.

use alloc::vec::Vec;
use core::alloc::Layout;

use hashbrown::HashMap;

use super::serialize::{MAGIC, NO_PARENT, RAW, TYPED, VERSION};
use super::Registry;
use crate::error::{Error, Result};
use crate::fallible;
use crate::handle::{ObjectHandle, RegionHandle, TypeTag};
use crate::persist::{Loader, Persister, MAX_TYPE_NAME};
use crate::{MAX_ALIGN, MAX_OBJECT_SIZE};

/// Translates the handles a serialized object had into the handles of its
/// copy: every handle it ever had (its home then, and each older handle
/// that forwarded to it) maps to the copy's home.
#[derive(Debug, Default)]
pub struct HandleMap {
    index: HashMap<ObjectHandle, u32>,
    new: Vec<ObjectHandle>,
    /// The serialized regions' handles → their index, and the copies.
    region_index: HashMap<RegionHandle, u32>,
    new_regions: Vec<RegionHandle>,
}

impl HandleMap {
    /// The copy of the object `old` named when it was serialized.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_bytes(r, regions::TypeTag(0), 1, b"x").unwrap();
    /// let bytes = reg.serialize(r).unwrap();
    /// let (_, map) = reg.deserialize(reg.root(), &bytes).unwrap();
    /// assert_ne!(map.get(h), Some(h));
    /// assert!(map.get(h).is_some());
    /// ```
    pub fn get(&self, old: ObjectHandle) -> Option<ObjectHandle> {
        self.index.get(&old).map(|&i| self.new[i as usize])
    }

    /// The copy of the region `old` named when it was serialized.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let bytes = reg.serialize(r).unwrap();
    /// let (copy, map) = reg.deserialize(reg.root(), &bytes).unwrap();
    /// assert_eq!(map.region(r), Some(copy));
    /// ```
    pub fn region(&self, old: RegionHandle) -> Option<RegionHandle> {
        self.region_index
            .get(&old)
            .map(|&i| self.new_regions[i as usize])
    }

    /// Number of old handles the map translates.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the map translates no handle.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Every (old handle, new handle) pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (ObjectHandle, ObjectHandle)> + '_ {
        self.index
            .iter()
            .map(|(&old, &i)| (old, self.new[i as usize]))
    }

    /// The copies, in stream order (the order objects were serialized).
    pub fn copies(&self) -> &[ObjectHandle] {
        &self.new
    }
}

/// Encoded sizes of the smallest record of each table: a count is
/// plausible only if that many such records fit in the bytes left.
const MIN_TYPE: usize = 2 + 1 + 4 + 1;
const MIN_REGION: usize = 8 + 4 + 4 + 1;
const MIN_OBJECT: usize = 16 + 4 + 1 + 4 + 4 + 4 + 4;
const MIN_STORED: usize = 4 + 4;
const MIN_ALIAS: usize = 4 + 16;
/// What the copy may take, estimated from the plan, is at most this many
/// times the stream's length plus [`EXPANSION_SLACK`]: a typed value's
/// serializer may write fewer bytes than its type's size, an object may
/// be aligned far beyond its size, and a region costs more than its
/// record, but never unboundedly more.
const MAX_EXPANSION: usize = 4;
const EXPANSION_SLACK: usize = 64 * 1024;
/// The estimate's cost of one region (its slot in the registry's table and
/// the decoder's bookkeeping) and of one object (its slot record, its
/// handle-map entry and the decoder's bookkeeping), besides its storage.
const REGION_COST: usize = 320;
const OBJECT_COST: usize = 192;

/// The storage a heap object of `size` bytes aligned to `align` takes at
/// most in a page; inline objects take none besides their slot record.
fn footprint(size: usize, align: usize) -> usize {
    if size <= crate::INLINE_SIZE && align <= crate::INLINE_ALIGN {
        return 0;
    }
    size.div_ceil(align).max(1) * align
}

/// An untrusted stream being read; every failure names its offset.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn corrupt(offset: usize, reason: &'static str) -> Error {
    Error::CorruptInput { offset, reason }
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, len: usize, what: &'static str) -> Result<&'a [u8]> {
        match self.at.checked_add(len) {
            Some(end) if end <= self.bytes.len() => {
                let bytes = &self.bytes[self.at..end];
                self.at = end;
                Ok(bytes)
            }
            _ => Err(corrupt(self.at, what)),
        }
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        Ok(self.bytes(N, what)?.try_into().expect("N bytes"))
    }
    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn handle(&mut self) -> Result<ObjectHandle> {
        let what = "the stream ends inside a handle";
        let (id, generation) = (self.u32(what)?, self.u32(what)?);
        let (slot, slot_generation) = (self.u32(what)?, self.u32(what)?);
        Ok(ObjectHandle::from_raw_parts(
            id,
            generation,
            slot,
            slot_generation,
        ))
    }
    /// An index below `len`.
    fn index(&mut self, len: usize, what: &'static str, reason: &'static str) -> Result<u32> {
        let at = self.at;
        let index = self.u32(what)?;
        if index as usize >= len {
            return Err(corrupt(at, reason));
        }
        Ok(index)
    }
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }
}

/// One region of the stream.
#[derive(Clone, Copy)]
struct RegionPlan {
    parent: u32,
    refcount: u32,
    budget: Option<u64>,
}

/// One object of the stream.
#[derive(Clone, Copy)]
struct ObjectPlan {
    region: u32,
    body: Body,
    strong: u32,
    weak: u32,
}

impl ObjectPlan {
    /// The object's layout.
    fn layout(&self, types: &[Persister]) -> Layout {
        match self.body {
            Body::Raw { layout, .. } => layout,
            Body::Typed { kind, .. } => types[kind as usize].layout,
        }
    }
}

#[derive(Clone, Copy)]
enum Body {
    /// Raw: its tag, layout and where its bytes are in the stream.
    Raw { tag: u64, layout: Layout, at: usize },
    /// Typed: its type (index into the stream's types) and where the
    /// serializer's bytes are.
    Typed { kind: u32, at: usize, len: usize },
}

/// A checked stream, ready to be made real.
struct Plan {
    types: Vec<Persister>,
    regions: Vec<RegionPlan>,
    objects: Vec<ObjectPlan>,
    stored: Vec<(u32, u32)>,
    /// Every old handle → its object's index.
    handles: HashMap<ObjectHandle, u32>,
    /// Every region's old handle → its index.
    region_index: HashMap<RegionHandle, u32>,
}

/// Vectors sized from counts that were checked against the bytes left.
fn with_capacity<T>(count: usize) -> Result<Vec<T>> {
    let mut list = Vec::new();
    fallible::reserve_exact(&mut list, count)?;
    Ok(list)
}

impl Registry {
    /// Reads a stream [`serialize`](Self::serialize) wrote and makes a
    /// copy of its subtree under live region `parent`: returns the copy's
    /// root (refcount 1, the caller's reference) and the map from every
    /// handle the serialized objects ever had to their copies. Typed
    /// objects are loaded by their types' registered serializers, with the
    /// handles they hold translated.
    ///
    /// Any bytes are safe to pass: a malformed stream is
    /// `CorruptInput { offset, reason }`, and on any `Err` (also
    /// `InvalidRegion`, `BudgetExceeded`, `OutOfMemory`) nothing changed.
    /// If a serializer panics, everything made so far is undone and the
    /// panic goes on. What the decoder holds is bounded by the stream's
    /// length (`docs/FORMAT.md`, "Limits").
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let error = reg.deserialize(reg.root(), b"not a stream").unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::CorruptInput);
    /// assert_eq!(reg.live_region_count(), 1);
    /// ```
    #[cfg_attr(feature = "leak-report", track_caller)]
    pub fn deserialize(
        &mut self,
        parent: RegionHandle,
        bytes: &[u8],
    ) -> Result<(RegionHandle, HandleMap)> {
        self.region(parent)?;
        let plan = self.parse(bytes)?;
        let counters_before = self.accounts.counters();
        let mut making = Making {
            registry: self,
            counters_before,
            regions: Vec::new(),
            objects: Vec::new(),
            done: false,
        };
        let (new, new_regions) = making.build(&plan, parent, bytes)?;
        making.done = true;
        drop(making);
        #[cfg(feature = "leak-report")]
        for &handle in &new {
            self.leaks.record(handle, core::panic::Location::caller());
        }
        Ok((
            new_regions[0],
            HandleMap {
                index: plan.handles,
                new,
                region_index: plan.region_index,
                new_regions,
            },
        ))
    }

    /// Parses and checks the whole stream; touches nothing.
    fn parse(&self, bytes: &[u8]) -> Result<Plan> {
        let mut r = Reader { bytes, at: 0 };
        if r.bytes(4, "the stream is shorter than its header")? != MAGIC {
            return Err(corrupt(0, "not a region stream (bad magic)"));
        }
        if r.u16("the stream is shorter than its header")? != VERSION {
            return Err(corrupt(4, "unsupported format version"));
        }
        if r.u16("the stream is shorter than its header")? != 0 {
            return Err(corrupt(6, "unknown flags"));
        }
        let mut counts = [0usize; 5];
        for count in &mut counts {
            *count = r.u32("the stream is shorter than its header")? as usize;
        }
        let [types, regions, objects, stored, aliases] = counts;
        let least = [MIN_TYPE, MIN_REGION, MIN_OBJECT, MIN_STORED, MIN_ALIAS]
            .iter()
            .zip(counts)
            .try_fold(0usize, |sum, (min, count)| {
                sum.checked_add(min.checked_mul(count)?)
            });
        if !least.is_some_and(|least| least <= r.left()) {
            return Err(corrupt(8, "the counts need more bytes than the stream has"));
        }
        if regions == 0 {
            return Err(corrupt(12, "a stream holds at least one region"));
        }
        let types = self.parse_types(&mut r, types)?;
        let (regions, region_index) = parse_regions(&mut r, regions)?;
        let mut handles = HashMap::new();
        fallible::reserve_map(&mut handles, objects + aliases)?;
        let objects = parse_objects(&mut r, objects, &types, regions.len(), &mut handles)?;
        let mut stored_list = with_capacity(stored)?;
        for _ in 0..stored {
            let what = "the stream ends inside a stored reference";
            let container = r.index(
                regions.len(),
                what,
                "a stored reference's region is not in the stream",
            )?;
            let object = r.index(
                objects.len(),
                what,
                "a stored reference's object is not in the stream",
            )?;
            stored_list.push((container, object));
        }
        for _ in 0..aliases {
            let what = "the stream ends inside an old handle";
            let object = r.index(
                objects.len(),
                what,
                "an old handle's object is not in the stream",
            )?;
            let at = r.at;
            if handles.insert(r.handle()?, object).is_some() {
                return Err(corrupt(at, "two objects claim the same handle"));
            }
        }
        if r.left() != 0 {
            return Err(corrupt(r.at, "bytes after the end of the stream"));
        }
        let expanded = objects
            .iter()
            .try_fold(regions.len() * REGION_COST, |sum, object| {
                let layout = object.layout(&types);
                sum.checked_add(OBJECT_COST + footprint(layout.size(), layout.align()))
            });
        let limit = bytes.len().saturating_mul(MAX_EXPANSION) + EXPANSION_SLACK;
        if !expanded.is_some_and(|size| size <= limit) {
            return Err(corrupt(
                0,
                "the objects would take far more memory than the stream",
            ));
        }
        Ok(Plan {
            types,
            regions,
            objects,
            stored: stored_list,
            handles,
            region_index,
        })
    }

    /// The stream's types, each a registered serializer of the same layout.
    fn parse_types(&self, r: &mut Reader<'_>, count: usize) -> Result<Vec<Persister>> {
        let mut types: Vec<Persister> = with_capacity(count)?;
        for _ in 0..count {
            let what = "the stream ends inside a type";
            let at = r.at;
            let len = r.u16(what)? as usize;
            if len == 0 || len > MAX_TYPE_NAME {
                return Err(corrupt(at, "a type name is empty or too long"));
            }
            let name = r.bytes(len, what)?;
            let persister = *self
                .persisters
                .of_name(name)
                .ok_or(corrupt(at, "a type this registry has no serializer for"))?;
            let (size, align_log2) = (r.u32(what)? as usize, r.u8(what)?);
            if size != persister.layout.size()
                || u32::from(align_log2) != persister.layout.align().trailing_zeros()
            {
                return Err(corrupt(
                    at,
                    "a type's size or alignment differs from this registry's",
                ));
            }
            if types.iter().any(|known| known.name == persister.name) {
                return Err(corrupt(at, "a type is listed twice"));
            }
            types.push(persister);
        }
        Ok(types)
    }
}

/// The stream's regions: the first is the copy's root, each other one
/// comes after its parent (so the tree has no cycle).
fn parse_regions(
    r: &mut Reader<'_>,
    count: usize,
) -> Result<(Vec<RegionPlan>, HashMap<RegionHandle, u32>)> {
    let mut regions = with_capacity(count)?;
    let mut index_of = HashMap::new();
    fallible::reserve_map(&mut index_of, count)?;
    for index in 0..count {
        let what = "the stream ends inside a region";
        let at = r.at;
        let old = RegionHandle::from_raw_parts(r.u32(what)?, r.u32(what)?);
        if index_of.insert(old, index as u32).is_some() {
            return Err(corrupt(at, "two regions claim the same handle"));
        }
        let at = r.at;
        let parent = r.u32(what)?;
        let valid_parent = if index == 0 {
            parent == NO_PARENT
        } else {
            (parent as usize) < index
        };
        if !valid_parent {
            return Err(corrupt(at, "a region's parent does not come before it"));
        }
        let at = r.at;
        let refcount = r.u32(what)?;
        if index > 0 && refcount == 0 {
            return Err(corrupt(at, "a region with no reference"));
        }
        let at = r.at;
        let budget = match r.u8(what)? {
            0 => None,
            1 => Some(r.u64(what)?),
            _ => return Err(corrupt(at, "a budget flag is neither 0 nor 1")),
        };
        regions.push(RegionPlan {
            parent,
            refcount,
            budget,
        });
    }
    Ok((regions, index_of))
}

/// The stream's objects; their homes go into `handles`.
fn parse_objects(
    r: &mut Reader<'_>,
    count: usize,
    types: &[Persister],
    regions: usize,
    handles: &mut HashMap<ObjectHandle, u32>,
) -> Result<Vec<ObjectPlan>> {
    let mut objects = with_capacity(count)?;
    for index in 0..count {
        let what = "the stream ends inside an object";
        let at = r.at;
        if handles.insert(r.handle()?, index as u32).is_some() {
            return Err(corrupt(at, "two objects claim the same handle"));
        }
        let region = r.index(regions, what, "an object's region is not in the stream")?;
        let at = r.at;
        let body = match r.u8(what)? {
            RAW => {
                let at = r.at;
                let tag = r.u64(what)?;
                if TypeTag(tag).is_typed() {
                    return Err(corrupt(at, "a raw object with a typed tag"));
                }
                let at = r.at;
                let size = r.u32(what)? as usize;
                let align_log2 = r.u8(what)?;
                let align = 1usize.checked_shl(u32::from(align_log2)).unwrap_or(0);
                if size > MAX_OBJECT_SIZE || align == 0 || align > MAX_ALIGN {
                    return Err(corrupt(
                        at,
                        "a raw object's size or alignment is out of range",
                    ));
                }
                let layout = Layout::from_size_align(size, align)
                    .map_err(|_| corrupt(at, "a raw object's layout is invalid"))?;
                let bytes_at = r.at;
                r.bytes(size, what)?;
                Body::Raw {
                    tag,
                    layout,
                    at: bytes_at,
                }
            }
            TYPED => {
                let kind = r.index(
                    types.len(),
                    what,
                    "a typed object's type is not in the stream",
                )?;
                let len = r.u32(what)? as usize;
                let value_at = r.at;
                r.bytes(len, what)?;
                Body::Typed {
                    kind,
                    at: value_at,
                    len,
                }
            }
            _ => return Err(corrupt(at, "an object kind is neither raw nor typed")),
        };
        let (strong, weak) = (r.u32(what)?, r.u32(what)?);
        objects.push(ObjectPlan {
            region,
            body,
            strong,
            weak,
        });
    }
    Ok(objects)
}

/// A copy being made; if dropped before it is done (an error or a
/// serializer's panic), it undoes everything it made.
struct Making<'a> {
    registry: &'a mut Registry,
    counters_before: crate::accounting::Counters,
    /// Ids of the regions made, in stream order.
    regions: Vec<u32>,
    /// The objects made, in stream order, with whether their value exists
    /// (raw objects always; typed ones once loaded).
    objects: Vec<(ObjectHandle, bool)>,
    done: bool,
}

impl Making<'_> {
    /// Makes the regions, the objects, their values and the stored
    /// references of `plan`, read from `bytes`, under `parent`.
    /// Returns the copies' handles: objects and regions, in stream order.
    fn build(
        &mut self,
        plan: &Plan,
        parent: RegionHandle,
        bytes: &[u8],
    ) -> Result<(Vec<ObjectHandle>, Vec<RegionHandle>)> {
        let reg = &mut *self.registry;
        // Room for every id to go back, so that undoing cannot fail.
        fallible::reserve(&mut reg.free_region_ids, plan.regions.len())?;
        // The region table grows by what the copy needs (or an eighth),
        // not by doubling: what decoding takes stays proportional to the
        // stream, and repeated small copies still grow it geometrically.
        let new_slots = plan.regions.len().saturating_sub(reg.free_region_ids.len());
        if reg.regions.capacity() - reg.regions.len() < new_slots {
            let growth = new_slots.max(reg.regions.len() / 8);
            fallible::reserve_exact(&mut reg.regions, growth)?;
        }
        fallible::reserve_exact(&mut self.regions, plan.regions.len())?;
        fallible::reserve_exact(&mut self.objects, plan.objects.len())?;
        let mut new_regions: Vec<RegionHandle> = with_capacity(plan.regions.len())?;
        // Each region's first block holds exactly its objects, so a stream
        // of many small regions does not open many large nurseries.
        let mut storage: Vec<(usize, usize)> = with_capacity(plan.regions.len())?;
        storage.resize(plan.regions.len(), (0, 0));
        for object in &plan.objects {
            let layout = object.layout(&plan.types);
            let (bytes, count) = &mut storage[object.region as usize];
            *bytes += footprint(layout.size(), layout.align());
            *count += 1;
        }
        for (index, region) in plan.regions.iter().enumerate() {
            let reg = &mut *self.registry;
            let parent = match index {
                0 => parent,
                _ => reg.live_handle(self.regions[region.parent as usize]),
            };
            let made = match region.budget {
                Some(budget) => reg.create_region_with_budget(parent, budget)?,
                None => reg.create_region(parent)?,
            };
            // Listed at once, so that a failure below undoes it too.
            self.regions.push(made.id());
            new_regions.push(made);
            reg.live_mut(made.id()).refcount = if index == 0 { 1 } else { region.refcount };
            let (bytes, count) = storage[index];
            reg.set_first_block_size(made.id(), bytes);
            // Its slot table takes exactly its objects.
            reg.reserve_objects(made.id(), count)?;
        }
        for object in &plan.objects {
            let reg = &mut *self.registry;
            let region = reg.live_handle(self.regions[object.region as usize]);
            let (home, made) = match object.body {
                Body::Raw { tag, layout, at } => {
                    let (home, data) =
                        reg.insert_raw(region, layout, layout.size(), TypeTag(tag))?;
                    // SAFETY: `data` is the new object's storage, `size`
                    // bytes that do not overlap the stream.
                    unsafe {
                        core::ptr::copy_nonoverlapping(bytes[at..].as_ptr(), data, layout.size())
                    };
                    (home, true)
                }
                Body::Typed { kind, .. } => {
                    let persister = plan.types[kind as usize];
                    let (home, _) = reg.insert(region, persister.layout, persister.stored_tag)?;
                    (home, false)
                }
            };
            reg.set_counts(home, object.strong, object.weak);
            self.objects.push((home, made));
        }
        let mut new: Vec<ObjectHandle> = with_capacity(self.objects.len())?;
        new.extend(self.objects.iter().map(|&(home, _)| home));
        for (index, object) in plan.objects.iter().enumerate() {
            let Body::Typed { kind, at, len } = object.body else {
                continue;
            };
            let persister = plan.types[kind as usize];
            let home = new[index];
            let mut loader = Loader {
                bytes: &bytes[at..at + len],
                at: 0,
                handles: &new,
            };
            let data = self.registry.data_of(home);
            // SAFETY: `data` is the storage of the new typed object, made
            // with the persister's layout and not yet holding a value.
            let loaded = unsafe { (persister.load)(&mut loader, data) };
            if let Err(refused) = loaded {
                return Err(corrupt(at + loader.at, refused.reason));
            }
            self.objects[index].1 = true;
            if loader.remaining() != 0 {
                return Err(corrupt(at + loader.at, "a typed value leaves bytes unread"));
            }
        }
        for &(container, object) in &plan.stored {
            let container = self.regions[container as usize];
            self.registry
                .record_stored(container, new[object as usize])?;
        }
        Ok((new, new_regions))
    }
}

impl Drop for Making<'_> {
    /// Undoes a copy that failed: its values are dropped, its objects
    /// removed without destructors (they never existed for anyone), its
    /// regions released from the leaves up, and the statistics put back.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let reg = &mut *self.registry;
        for &(home, made) in self.objects.iter().rev() {
            if made {
                reg.drop_value(home);
            }
            reg.set_counts(home, 0, 0);
            let peaks = reg.accounts.peaks();
            reg.discard(home, peaks);
        }
        for &id in self.regions.iter().rev() {
            reg.live_mut(id).refcount = 1;
            let handle = reg.live_handle(id);
            let undone = reg.release_region(handle);
            debug_assert_eq!(undone, Ok(true), "an empty region dies without memory");
        }
        reg.accounts.restore(self.counters_before);
    }
}

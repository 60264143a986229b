//! The reference model of the region memory system.
//!
//! This is an executable copy of the contract in `docs/SEMANTICS.md`. It is
//! meant to be read against that document line by line: every public method quotes the rule it implements and the
//! error precedence it follows. It is deliberately slow and plain: std
//! collections only, no caching, no cleverness.
//!
//! # Identities
//!
//! The model never reuses an identity. [`RegionId`]s and [`ObjectId`]s come
//! from counters that only go up; the root region is `RegionId(0)`. A handle
//! in the core corresponds to an id here; a stale or fabricated handle
//! corresponds to an id that is not live (never issued, or dead). Because an
//! object keeps its identity when it is promoted, "every handle an object ever
//! had resolves to its current home" is simply "the id is still live"; there
//! are no forwarding records or ghost tables in the model.
//!
//! # Failed operations change nothing
//!
//! Every operation performs all of its checks before it changes any state,
//! so an `Err` leaves the model exactly as it was.
//!
//! # Decisions where the documents leave room
//!
//! These are the model's readings of points `docs/SEMANTICS.md` does not pin
//! down. The core must agree with them (or the contract must be amended).
//!
//! 1. **Budgets** (SEMANTICS.md "Budgets"). They limit payload: the sum
//!    of `size` over live objects (alignment padding is not payload). An
//!    allocation of `n` bytes in `r` fails with `BudgetExceeded` iff
//!    `live_bytes + n` exceeds the registry budget or `r`'s own payload
//!    plus `n` exceeds `r`'s budget; reaching a budget exactly is allowed.
//!    A manual promotion checks only the target region's budget; a death
//!    never checks one. [`Model::new`] has no budget; [`Model::with_budget`]
//!    and [`Model::set_budget`] set the registry's,
//!    [`Model::create_region_with_budget`] a region's.
//! 2. **`OutOfMemory` / `IdSpaceExhausted`** are real-resource failures the
//!    model cannot predict; the model never returns `OutOfMemory` (and has no
//!    `IdSpaceExhausted`: its `u64` counters do not run out in practice).
//! 3. **Alignment that is not a power of two** (including 0) cannot be
//!    expressed as a `core::alloc::Layout`; the model reports it as
//!    `UnsupportedAlignment`, at the same place in the precedence as
//!    `align > MAX_ALIGN`.
//! 4. **`alloc_typed` precedence.** SEMANTICS.md writes
//!    "`UnsupportedAlignment` / `SizeOverflow`"; the model checks alignment
//!    first. `bytes.len() == size` and "`tag` has [`TYPED_TAG_BIT`]" are
//!    preconditions on the caller (a typed value always has its own size and
//!    a `TypeId`-derived tag), so the model panics if they are broken: that
//!    is a harness bug, not a behaviour of the system.
//! 5. **Destruction order** within one region death or registry drop is
//!    unspecified (SEMANTICS.md); the model destroys in ascending object id.
//! 6. **Destructor decision.** A raw object's destructor runs iff its tag has
//!    a registered destructor *at the moment the object is destroyed*
//!    (registering later does not matter for objects already destroyed;
//!    registering earlier than the allocation does count). A typed object's
//!    destructor runs iff it was allocated with `needs_drop`.
//! 7. **Registry drop is terminal.** [`Model::drop_registry`] destroys every
//!    live object, then every region including the root is dead, so every
//!    later operation fails (`InvalidRegion`, `StaleHandle`, or `RootRegion`
//!    for retain/release of `RegionId(0)`). It returns the whole destruction
//!    log not yet taken, i.e. it behaves like "destroy everything, then
//!    [`Model::take_destroyed`]".
//! 8. **No-op promotion** (the object already lives in the target) is not a
//!    promotion: it changes no counter in [`Reach`].
//! 9. **`store_handle` returning `Ok(false)`** changes nothing and therefore
//!    cannot overflow, even at a strong count of `u32::MAX`.
//! 10. **`write` past the end.** Bytes of `data` that would land at or past
//!     the object's size are ignored; an `offset >= size` writes nothing and
//!     is `Ok(())`.
//! 11. **Region refcount underflow** cannot happen: a live non-root region
//!     always has a refcount of at least 1 (it dies when it reaches 0), so
//!     `release_region` has no `RefcountUnderflow` case.
//! 12. **Bulk allocation is one allocation.** [`Model::alloc_bulk`] is all
//!     or nothing, so its budget check (decision 1) uses the sum of the
//!     sizes of all its objects: it fails with `BudgetExceeded` iff
//!     `live_bytes + count * size > budget`, and then allocates none. Its
//!     objects get consecutive ids in order; `count == 0` passes every
//!     check that does not depend on the count and allocates nothing.
//! 13. **Typed slices are typed objects.** A `[T]` allocated with
//!     `alloc_slice_copy` / `alloc_slice_fill_with` is one typed object
//!     ([`Model::alloc_typed`]): its tag is `typed_tag::<[T]>()` (distinct
//!     from `typed_tag::<T>()`), its size `len * size_of::<T>()`, its
//!     alignment `align_of::<T>()`, and its bytes are the caller's canonical
//!     encoding of the elements, concatenated. Reading it back is
//!     [`Model::get_typed`] with the slice tag, so `get_slice::<T>` on a `T`
//!     object, `get_typed::<T>` on a `[T]` object, byte access to a slice
//!     and `get_slice` on a raw object are all `TypeMismatch`. Its
//!     `needs_drop` is `needs_drop::<[T]>()`; destroying it drops each
//!     element once (a zero-length slice drops nothing, although its drop
//!     glue "runs"). "On error `f` is never called": no element exists, so
//!     none is dropped.
//! 14. **Compaction changes nothing observable.** [`Model::compact`] only
//!     checks that the region is live (the root included): "every handle
//!     still resolves to the same object with the same bytes, counts, tag,
//!     layout, home region; no destructor runs". How much the core moved is
//!     not part of the model; its report is checked by the driver.

mod object;
mod queries;
mod region;
mod serial;

pub use serial::{Copied, StreamType};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Identity of a region. Never reused; the root is `RegionId(0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionId(pub u64);

/// Identity of an object. Never reused, and unchanged by promotion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub u64);

/// The model's own error kinds (mirrors the core's `ErrorKind` variants by
/// name; the driver maps between them). Ordered so that reports can count
/// them in a `BTreeMap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelError {
    /// A region id that is not live (never issued, or dead).
    InvalidRegion,
    /// `retain_region` / `release_region` on the root region.
    RootRegion,
    /// An object id that is not live (never issued, or destroyed).
    StaleHandle,
    /// Byte access to a typed object, or typed access with another tag.
    TypeMismatch,
    /// `release` at strong count 0, or `drop_weak` at weak count 0.
    RefcountUnderflow,
    /// A `u32` count would exceed `u32::MAX`.
    RefcountOverflow,
    /// Raw allocation whose byte slice length differs from its size.
    SizeMismatch,
    /// Size greater than [`MAX_OBJECT_SIZE`].
    SizeOverflow,
    /// Alignment greater than [`MAX_ALIGN`] or not a power of two.
    UnsupportedAlignment,
    /// A raw tag (or destructor tag) with [`TYPED_TAG_BIT`] set.
    ReservedTypeTag,
    /// The allocation would take live payload bytes over the budget.
    BudgetExceeded,
    /// Real allocation failure. Never produced by the model (see decision 2).
    OutOfMemory,
    /// `unstore` of a reference the container did not store.
    NotStored,
    /// Serialization of a typed object whose type has no serializer.
    Unserializable,
    /// A stream the decoder refuses (for the model: a valid one whose copy
    /// would exceed the decoder's memory limit).
    CorruptInput,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for ModelError {}

/// Largest object size: "Sizes `0..=MAX_OBJECT_SIZE` (`2^31 - 1`)".
pub const MAX_OBJECT_SIZE: usize = (1 << 31) - 1;
/// Largest alignment: "alignments `1..=MAX_ALIGN` (4096)".
pub const MAX_ALIGN: usize = 4096;
/// "Objects with size <= 16 and align <= 16 are *inline*; all others are *heap*."
pub const INLINE_SIZE: usize = 16;
/// The top tag bit: set on typed tags, reserved (an error) on raw tags.
pub const TYPED_TAG_BIT: u64 = 1 << 63;

/// State of one live region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionState {
    /// The parent region; `None` only for the root.
    pub parent: Option<RegionId>,
    /// Number of references held by callers; the root's is always 0.
    pub refcount: u32,
    /// The live child regions ("parents hold no reference on children").
    pub children: BTreeSet<RegionId>,
    /// The region's own payload budget, if it was created with one.
    pub budget: Option<usize>,
    /// The objects this region stored strong references to with
    /// `store_handle`, one entry per reference not yet given back (dead
    /// objects included: their entries are simply skipped).
    pub stored: Vec<ObjectId>,
}

/// State of one live object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectState {
    /// The region the object currently lives in.
    pub home: RegionId,
    /// Size in bytes; always equal to `bytes.len()`.
    pub size: usize,
    /// Alignment (a power of two, at most [`MAX_ALIGN`]).
    pub align: usize,
    /// The contents.
    pub bytes: Vec<u8>,
    /// Type tag: below 2^63 for raw objects, with [`TYPED_TAG_BIT`] for typed.
    pub tag: u64,
    /// Whether the object was allocated typed.
    pub typed: bool,
    /// Strong count (external references).
    pub strong: u32,
    /// Weak count.
    pub weak: u32,
    /// Typed objects only: destroying the object runs its drop glue.
    /// Always `false` for raw objects (their destructor is looked up by tag).
    pub needs_drop: bool,
    /// How many times this object has moved (manual and by region death).
    pub promotions: u64,
    /// Every region this object has moved out of. A dead one among them has
    /// a ghost table forwarding to this object (see [`Model::ghost_table_count`]).
    pub left_homes: BTreeSet<RegionId>,
}

impl ObjectState {
    /// "Objects with size <= 16 and align <= 16 are *inline*; all others are *heap*."
    pub fn is_inline(&self) -> bool {
        self.size <= INLINE_SIZE && self.align <= INLINE_SIZE
    }
}

/// One entry of the destruction log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destroyed {
    /// The destroyed object.
    pub id: ObjectId,
    /// Whether a destructor ran for it (module decision 6).
    pub destructor_ran: bool,
    /// Its state just before it was destroyed (home, bytes, tag, counts).
    pub last_state: ObjectState,
}

/// Counters the harness uses to see that random runs are not vacuous.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Largest number of live objects seen at once.
    pub peak_live_objects: usize,
    /// Number of regions that died.
    pub region_deaths: u64,
    /// Number of region deaths that promoted at least one object.
    pub deaths_with_promotions: u64,
    /// Number of objects moved by region death.
    pub promotions_by_death: u64,
    /// Number of objects moved by `promote` (no-op promotions excluded).
    pub manual_promotions: u64,
    /// Most moves (manual + by death) made by a single object.
    pub max_promotions_of_one_object: u64,
    /// Number of destroyed objects for which a destructor ran.
    pub destructor_calls: u64,
    /// Objects destroyed by their region's death while weak handles to them
    /// were out (strong count 0, weak count > 0): a later `upgrade` of
    /// those handles must fail.
    pub weakly_held_destroyed_by_death: u64,
    /// Stored references given back by their container's death.
    pub stored_references_released_by_death: u64,
    /// Stored references given back by `unstore`.
    pub unstores: u64,
    /// Serialization round trips that made a copy.
    pub round_trips: u64,
    /// Objects those copies hold.
    pub objects_copied: u64,
}

/// The registry-wide event counters and peaks of `docs/SEMANTICS.md`
/// "Statistics" (what `global_stats` reports besides the live figures).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Objects allocated (each object of a bulk allocation counts).
    pub allocations: u64,
    /// Objects destroyed by `free`.
    pub frees: u64,
    /// Objects destroyed by their region's death.
    pub destroyed_by_death: u64,
    /// Objects moved by region deaths.
    pub promotions_by_death: u64,
    /// Objects moved by `promote` to another region.
    pub manual_promotions: u64,
    /// Regions created (the root excluded).
    pub regions_created: u64,
    /// Regions that died.
    pub region_deaths: u64,
    /// The most live objects at once.
    pub peak_objects: u64,
    /// The most live payload bytes at once.
    pub peak_payload_bytes: u64,
}

/// The whole registry: a tree of regions under a permanent root, the live
/// objects, the destructor registry and the destruction log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    regions: BTreeMap<RegionId, RegionState>,
    objects: BTreeMap<ObjectId, ObjectState>,
    next_region: u64,
    next_object: u64,
    /// Raw tags with a registered destructor, and whether it panics.
    destructors: BTreeMap<u64, bool>,
    /// Objects destroyed since the last `take_destroyed`.
    destroyed: Vec<Destroyed>,
    budget: Option<usize>,
    reach: Reach,
    counters: Counters,
    /// Indexes derived from `objects`, so that per-op queries cost what the
    /// answer costs instead of a scan of every object. Only
    /// [`Model::insert_object`], [`Model::destroy`] and [`Model::move_object`]
    /// create, remove or move objects, and they keep it in step;
    /// [`Model::check_invariants`] recomputes it from `objects`.
    index: Index,
}

/// What [`Model`] derives from its object map: each region's objects and
/// figures, the registry's live payload and inline counts, and how many
/// live objects left each region (for the ghost tables).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Index {
    /// Live objects by current home; a region with none has no entry.
    homed: BTreeMap<RegionId, Homed>,
    /// The registry's figures: the sums over `homed`.
    total: Figures,
    /// For each region: how many live objects have it in `left_homes`; a
    /// region no live object left has no entry.
    left_by: BTreeMap<RegionId, usize>,
}

/// The live objects homed in one region, and their figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Homed {
    objects: BTreeSet<ObjectId>,
    figures: Figures,
}

/// Payload bytes and inline objects of a set of live objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Figures {
    payload_bytes: usize,
    inline_objects: usize,
}

impl Figures {
    fn add(&mut self, state: &ObjectState) {
        self.payload_bytes += state.size;
        self.inline_objects += usize::from(state.is_inline());
    }

    fn remove(&mut self, state: &ObjectState) {
        self.payload_bytes -= state.size;
        self.inline_objects -= usize::from(state.is_inline());
    }
}

impl Index {
    /// The index of `objects`, recomputed from scratch.
    fn of(objects: &BTreeMap<ObjectId, ObjectState>) -> Self {
        let mut index = Index::default();
        for (&o, state) in objects {
            index.add(o, state);
        }
        index
    }

    fn add(&mut self, o: ObjectId, state: &ObjectState) {
        self.home(o, state, state.home);
        self.total.add(state);
        for &left in &state.left_homes {
            *self.left_by.entry(left).or_default() += 1;
        }
    }

    fn remove(&mut self, o: ObjectId, state: &ObjectState) {
        self.unhome(o, state);
        self.total.remove(state);
        for left in &state.left_homes {
            let count = self.left_by.get_mut(left).expect("counted when added");
            *count -= 1;
            if *count == 0 {
                self.left_by.remove(left);
            }
        }
    }

    /// Lists `o` (whose state is `state`) under `home`.
    fn home(&mut self, o: ObjectId, state: &ObjectState, home: RegionId) {
        let homed = self.homed.entry(home).or_default();
        homed.objects.insert(o);
        homed.figures.add(state);
    }

    /// Takes `o` off its current home's list.
    fn unhome(&mut self, o: ObjectId, state: &ObjectState) {
        let homed = self
            .homed
            .get_mut(&state.home)
            .expect("indexed under its home");
        homed.objects.remove(&o);
        homed.figures.remove(state);
        if homed.objects.is_empty() {
            self.homed.remove(&state.home);
        }
    }
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

impl Model {
    /// A registry holding only the root region `RegionId(0)` ("a permanent
    /// root region"), with no byte budget.
    pub fn new() -> Self {
        let root = RegionState {
            parent: None,
            refcount: 0,
            children: BTreeSet::new(),
            budget: None,
            stored: Vec::new(),
        };
        Model {
            regions: BTreeMap::from([(RegionId(0), root)]),
            objects: BTreeMap::new(),
            next_region: 1,
            next_object: 0,
            destructors: BTreeMap::new(),
            destroyed: Vec::new(),
            budget: None,
            reach: Reach::default(),
            counters: Counters::default(),
            index: Index::default(),
        }
    }

    /// Like [`Model::new`], with "a configurable byte budget on live object
    /// payload": allocations fail with `BudgetExceeded` when the sum of the
    /// sizes of live objects would exceed `budget` (decision 1).
    pub fn with_budget(budget: usize) -> Self {
        Model {
            budget: Some(budget),
            ..Self::new()
        }
    }

    /// Sets (`Some`) or removes (`None`) the registry-wide payload budget
    /// (`set_budget`). A budget below the live payload only stops new
    /// allocations.
    pub fn set_budget(&mut self, budget: Option<usize>) {
        self.budget = budget;
    }

    /// The registry-wide event counters and peaks.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Payload bytes of the live objects homed in `r` (0 if `r` is not live).
    pub fn region_payload(&self, r: RegionId) -> usize {
        self.index
            .homed
            .get(&r)
            .map_or(0, |homed| homed.figures.payload_bytes)
    }

    /// The number of live objects homed in `r`.
    pub fn region_object_count(&self, r: RegionId) -> usize {
        self.index
            .homed
            .get(&r)
            .map_or(0, |homed| homed.objects.len())
    }

    /// The number of live inline objects homed in `r`.
    pub fn region_inline_objects(&self, r: RegionId) -> usize {
        self.index
            .homed
            .get(&r)
            .map_or(0, |homed| homed.figures.inline_objects)
    }

    /// The number of live objects.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// The number of live regions (the root included until the registry
    /// is dropped).
    pub fn region_count(&self) -> usize {
        self.regions.len()
    }

    /// Live objects with size and alignment at most 16.
    pub fn inline_objects(&self) -> usize {
        self.index.total.inline_objects
    }

    /// The root region, `RegionId(0)`.
    pub fn root(&self) -> RegionId {
        RegionId(0)
    }

    /// The state of `r` if it is live.
    pub fn region(&self, r: RegionId) -> Option<&RegionState> {
        self.regions.get(&r)
    }

    /// The state of `o` if it is live.
    pub fn object(&self, o: ObjectId) -> Option<&ObjectState> {
        self.objects.get(&o)
    }

    /// All live regions, in ascending id order.
    pub fn regions(&self) -> impl Iterator<Item = (RegionId, &RegionState)> {
        self.regions.iter().map(|(id, state)| (*id, state))
    }

    /// All live objects, in ascending id order.
    pub fn objects(&self) -> impl Iterator<Item = (ObjectId, &ObjectState)> {
        self.objects.iter().map(|(id, state)| (*id, state))
    }

    /// "`objects(region)` ... exactly the live objects whose current home is
    /// that region", in ascending id order.
    pub fn objects_in(&self, r: RegionId) -> impl Iterator<Item = (ObjectId, &ObjectState)> {
        let homed = self.index.homed.get(&r).into_iter();
        homed
            .flat_map(|homed| &homed.objects)
            .map(|&o| (o, &self.objects[&o]))
    }

    /// The number of ghost tables the core must hold: dead regions that some
    /// live object has moved out of. A dead region's forwarding records are
    /// what keep old handles resolving ("forwarding records ... pass to the
    /// parent, so old handles keep resolving"), and "a ghost table may be
    /// freed once nothing it forwards to is alive" — this project frees it
    /// exactly then (docs/SEMANTICS.md).
    pub fn ghost_table_count(&self) -> usize {
        let left = self.index.left_by.keys();
        left.filter(|r| !self.regions.contains_key(r)).count()
    }

    /// Live payload bytes: the sum of the sizes of all live objects.
    pub fn live_bytes(&self) -> usize {
        self.index.total.payload_bytes
    }

    /// The byte budget, if one was configured.
    pub fn budget(&self) -> Option<usize> {
        self.budget
    }

    /// `register_destructor(tag, f)`. Errors: `ReservedTypeTag` (the tag has
    /// the top bit set; typed tags get their drop glue automatically).
    /// "Installs `f`, replacing any earlier destructor for that tag": in the
    /// model only the fact that a destructor exists matters, so registering
    /// a tag twice is the same as registering it once.
    pub fn register_destructor(&mut self, tag: u64) -> Result<(), ModelError> {
        self.install_destructor(tag, false)
    }

    /// `register_destructor(tag, f)` with an `f` that panics after doing its
    /// work. SEMANTICS.md "Destructors": a panicking destructor counts as
    /// run; every other object due for destruction in the same operation
    /// still gets its destructor, and the operation's effect is complete
    /// when the panic reaches the caller ([`Model::panics`] says when).
    pub fn register_panicking_destructor(&mut self, tag: u64) -> Result<(), ModelError> {
        self.install_destructor(tag, true)
    }

    fn install_destructor(&mut self, tag: u64, panics: bool) -> Result<(), ModelError> {
        if tag & TYPED_TAG_BIT != 0 {
            return Err(ModelError::ReservedTypeTag);
        }
        self.destructors.insert(tag, panics);
        Ok(())
    }

    /// Whether destroying these objects (one operation's destruction log)
    /// makes the operation panic: some raw object among them had a
    /// panicking destructor, which ran.
    pub fn panics(&self, destroyed: &[Destroyed]) -> bool {
        destroyed.iter().any(|d| {
            d.destructor_ran
                && !d.last_state.typed
                && self.destructors.get(&d.last_state.tag) == Some(&true)
        })
    }

    /// Objects destroyed since the last call, in destruction order, each with
    /// whether a destructor ran for it (a destructor runs iff the object is
    /// raw and its tag had a registered destructor at destruction time, or it
    /// is typed with `needs_drop`; decision 6).
    pub fn take_destroyed(&mut self) -> Vec<(ObjectId, bool)> {
        self.take_destroyed_states()
            .into_iter()
            .map(|d| (d.id, d.destructor_ran))
            .collect()
    }

    /// Like [`Model::take_destroyed`], with each object's state at the moment
    /// it was destroyed ("[a destructor] receives the object's current home
    /// handle and its bytes", so a checker needs the last home and bytes).
    pub fn take_destroyed_states(&mut self) -> Vec<Destroyed> {
        std::mem::take(&mut self.destroyed)
    }

    /// Dropping the registry: "destroys every live object exactly once"
    /// (destructor once each, ascending id). Afterwards no region is live,
    /// not even the root (decision 7). Returns the destruction log like
    /// [`Model::take_destroyed`], including entries not yet taken.
    pub fn drop_registry(&mut self) -> Vec<(ObjectId, bool)> {
        self.drop_registry_states()
            .into_iter()
            .map(|d| (d.id, d.destructor_ran))
            .collect()
    }

    /// Like [`Model::drop_registry`], with each object's state at the moment
    /// it was destroyed (see [`Model::take_destroyed_states`]).
    pub fn drop_registry_states(&mut self) -> Vec<Destroyed> {
        let ids: Vec<ObjectId> = self.objects.keys().copied().collect();
        for o in ids {
            self.destroy(o);
        }
        self.regions.clear();
        self.take_destroyed_states()
    }

    /// Counters the harness uses to see that random runs are not vacuous.
    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// Checks the model's own structural invariants: the root is live (unless
    /// the registry was dropped), each live non-root region has a live parent
    /// that lists it as a child and a refcount of at least 1, child sets list
    /// exactly the live children, and every live object lives in a live
    /// region with `bytes.len() == size`.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_regions()?;
        self.check_objects()?;
        let index = Index::of(&self.objects);
        if index != self.index {
            return Err(format!(
                "the object index {:?} is not the one the objects give, {index:?}",
                self.index
            ));
        }
        Ok(())
    }

    fn check_regions(&self) -> Result<(), String> {
        if self.regions.is_empty() {
            if !self.objects.is_empty() {
                return Err("objects live after registry drop".into());
            }
            return Ok(());
        }
        match self.regions.get(&RegionId(0)) {
            Some(root) if root.parent.is_none() && root.refcount == 0 => {}
            other => return Err(format!("bad root: {other:?}")),
        }
        for (&id, state) in &self.regions {
            if id != RegionId(0) {
                self.check_child_link(id, state)?;
            }
            for child in &state.children {
                let child_parent = self.regions.get(child).and_then(|c| c.parent);
                if child_parent != Some(id) {
                    return Err(format!(
                        "{id:?} lists {child:?} whose parent is {child_parent:?}"
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_child_link(&self, id: RegionId, state: &RegionState) -> Result<(), String> {
        if state.refcount == 0 {
            return Err(format!("{id:?} is live with refcount 0"));
        }
        let parent = state
            .parent
            .ok_or_else(|| format!("{id:?} has no parent"))?;
        match self.regions.get(&parent) {
            Some(p) if p.children.contains(&id) => Ok(()),
            _ => Err(format!(
                "{id:?}: parent {parent:?} missing or does not list it"
            )),
        }
    }

    fn check_objects(&self) -> Result<(), String> {
        for (id, state) in &self.objects {
            if !self.regions.contains_key(&state.home) {
                return Err(format!("{id:?} lives in dead region {:?}", state.home));
            }
            if state.bytes.len() != state.size {
                return Err(format!(
                    "{id:?}: {} bytes, size {}",
                    state.bytes.len(),
                    state.size
                ));
            }
        }
        Ok(())
    }

    /// Destroys a live object: removes it and records whether a destructor
    /// ran for it (decision 6). Callers have checked that `o` is live.
    fn destroy(&mut self, o: ObjectId) {
        let state = self.objects.remove(&o).expect("destroy: object is live");
        self.index.remove(o, &state);
        let ran = if state.typed {
            state.needs_drop
        } else {
            self.destructors.contains_key(&state.tag)
        };
        if ran {
            self.reach.destructor_calls += 1;
        }
        self.destroyed.push(Destroyed {
            id: o,
            destructor_ran: ran,
            last_state: state,
        });
    }

    /// Moves a live object to `target` (a live region other than its home),
    /// keeping contents, type and counts. Callers count the promotion kind.
    fn move_object(&mut self, o: ObjectId, target: RegionId) {
        let state = self.objects.get_mut(&o).expect("move: object is live");
        let index = &mut self.index;
        index.unhome(o, state);
        index.home(o, state, target);
        if state.left_homes.insert(state.home) {
            *index.left_by.entry(state.home).or_default() += 1;
        }
        state.home = target;
        state.promotions += 1;
        let moves = state.promotions;
        let max = &mut self.reach.max_promotions_of_one_object;
        *max = (*max).max(moves);
    }
}

#[cfg(test)]
mod tests;

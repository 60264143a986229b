//! The op language: one value per call into the registry.
//!
//! Every engine (proptest state machine, cargo-fuzz, the soak runner, the
//! repro tool) speaks this language, and the one [`Driver`](crate::driver::Driver)
//! runs it against both the reference model and the core.
//!
//! # Operands
//!
//! Ops never carry real handles. A [`RegionRef`], [`ObjectRef`] or
//! [`WeakRef`] either picks a handle by index from the handles the driver has
//! seen so far (live *and* dead: every region handle, every object handle an
//! object ever had, every weak handle returned), or builds one from raw field
//! values. Indices are taken modulo the number of handles seen, so every op
//! is meaningful whatever came before it; fabricated field values are small,
//! so a fabricated handle often collides with a real one (and is then treated
//! as that handle). Stale, freed, wrong-type and fabricated handles are thus
//! generated on purpose, and the driver checks they are rejected.
//!
//! # Reading and pasting traces
//!
//! `Debug` output of an op is valid Rust once [`prelude`] is imported, so a
//! printed trace pastes straight into a regression test:
//!
//! ```
//! use regions_model::op::prelude::*;
//! let trace: &[Op] = &[
//!     CreateRegion { parent: Root },
//!     Alloc { region: Region(1), size: 24, align_log2: 3, tag: 1, fill: 7, mismatched_len: false },
//!     Retain { object: Object(0) },
//!     ReleaseRegion { region: Region(1) },
//! ];
//! regions_model::driver::run(trace).unwrap();
//! ```
//!
//! # Type parameters
//!
//! `Op` is generic over its operand types only so that the driver can map an
//! op's operands to core handles and to model identities with one function
//! ([`Op::map_operands`]); everyone else uses the defaults.

use std::cell::RefCell;

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

mod decode;
mod weights;
pub use decode::OpDecoder;
pub use weights::{weight, OP_WEIGHTS};

/// Largest `id` of a fabricated region handle ([`RegionRef::FakeRegion`]).
pub const FAKE_REGION_IDS: u8 = 7;
/// Largest generation of a fabricated handle (region or slot generation).
pub const FAKE_GENERATIONS: u8 = 3;
/// Largest slot of a fabricated object handle.
pub const FAKE_SLOTS: u8 = 15;
/// Sizes up to this are generated; with the driver's 4096-byte arena blocks
/// this covers inline (<= 16), arena (<= 1024) and dedicated objects.
pub const MAX_GENERATED_SIZE: u16 = 6000;
/// `align_log2` values up to this are generated; 13 (8192) is above the
/// core's maximum alignment and must be rejected.
pub const MAX_GENERATED_ALIGN_LOG2: u8 = 13;
/// Largest `align_log2` the driver uses; larger values act as this one.
pub const ALIGN_LOG2_CAP: u8 = 20;
/// Largest `len` of a generated `AllocSlice`: most are `0..=SMALL_SLICE_LEN`,
/// some reach this, so slices land in arena pages and large pages.
pub const MAX_SLICE_LEN: u8 = 200;
/// Most generated `AllocSlice` lengths are at most this.
pub const SMALL_SLICE_LEN: u8 = 12;
/// Largest `count` of a generated `AllocBulk`: most are `0..=SMALL_BULK_COUNT`,
/// one in 33 is in the thousands, so runs reach the states that exist only
/// at scale (slot tables, hash indexes and page lists that grew many times).
pub const MAX_BULK_COUNT: u16 = 8192;
/// Most generated `AllocBulk` counts are at most this.
pub const SMALL_BULK_COUNT: u16 = 8;
/// `Compact { max_bytes }` with this value passes `usize::MAX` (no limit);
/// any other value `v` passes `v * COMPACT_BYTES_UNIT` bytes.
pub const COMPACT_UNLIMITED: u16 = u16::MAX;
/// Bytes per unit of `Compact { max_bytes }`.
pub const COMPACT_BYTES_UNIT: usize = 16;

/// The `max_bytes_moved` a `Compact { max_bytes }` passes: `usize::MAX` for
/// [`COMPACT_UNLIMITED`], else `max_bytes * COMPACT_BYTES_UNIT` (0 moves
/// nothing but zero-sized objects; 64 units is a partial step of 1 KiB).
pub fn compact_byte_limit(max_bytes: u16) -> usize {
    if max_bytes == COMPACT_UNLIMITED {
        usize::MAX
    } else {
        usize::from(max_bytes) * COMPACT_BYTES_UNIT
    }
}
/// The typed-tag bit: raw tags with it set are reserved.
const RESERVED_TAG_BIT: u64 = 1 << 63;

/// Names a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionRef {
    /// The root region's handle.
    Root,
    /// The region handle at this index, modulo the number of region handles
    /// seen so far (index 0 is the root; dead regions stay in the list).
    Region(u16),
    /// `RegionHandle::from_raw_parts(id, generation)`.
    FakeRegion {
        /// Region id, `0..=FAKE_REGION_IDS` when generated.
        id: u8,
        /// Region generation, `0..=FAKE_GENERATIONS` when generated.
        generation: u8,
    },
}

/// Names an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectRef {
    /// The object handle at this index, modulo the number of object handles
    /// seen so far (every handle an object ever had: its allocation handle
    /// and each home it was promoted to; dead objects' handles stay).
    Object(u16),
    /// `ObjectHandle::from_raw_parts(region_id, region_generation, slot, slot_generation)`.
    FakeObject {
        /// Region id, `0..=FAKE_REGION_IDS` when generated.
        region_id: u8,
        /// Region generation, `0..=FAKE_GENERATIONS` when generated.
        region_generation: u8,
        /// Slot id, `0..=FAKE_SLOTS` when generated.
        slot: u8,
        /// Slot generation, `0..=FAKE_GENERATIONS` when generated.
        slot_generation: u8,
    },
}

/// Names a weak reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeakRef {
    /// The weak handle at this index, modulo the number of weak handles
    /// returned so far by `downgrade`.
    Weak(u16),
    /// `WeakHandle::from_object_handle(object)`: a weak handle nobody
    /// obtained from `downgrade`.
    WeakOf(ObjectRef),
}

/// The Rust types that typed ops allocate and read.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TypedKind {
    /// `u64`: inline, no drop glue.
    U64,
    /// `i64`: the same size and alignment as `u64` but another type, so a
    /// typed access that checks the layout instead of the type is caught.
    I64,
    /// `[u64; 8]`: 64 bytes in an arena, no drop glue.
    Words,
    /// A 16-byte inline value that needs drop and records it.
    Tracked,
    /// A 56-byte arena value that needs drop and records it.
    TrackedWords,
    /// A `#[repr(align(4096))]` 4096-byte value: a dedicated block.
    Page,
}

impl TypedKind {
    /// Every kind, in declaration order.
    pub const ALL: [TypedKind; 6] = [
        TypedKind::U64,
        TypedKind::I64,
        TypedKind::Words,
        TypedKind::Tracked,
        TypedKind::TrackedWords,
        TypedKind::Page,
    ];
}

/// The allocations of [`Op::AllocOversized`]: sizes just above
/// `MAX_OBJECT_SIZE` that no buffer is built for.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Oversized {
    /// `alloc_slice_fill_with(region, MAX_OBJECT_SIZE / size_of::<T>() + 1,
    /// f)`: `SizeOverflow`, and `f` is never called.
    Slice(SliceKind),
    /// `alloc_bulk(region, Layout(MAX_OBJECT_SIZE + 1, 1), TypeTag(0),
    /// count, &[])`: `SizeOverflow` for `count == 0`, else `SizeMismatch`
    /// (the bytes cannot be `count` such objects long).
    Bulk {
        /// How many objects.
        count: u8,
    },
}

/// How an [`Op::AllocConvenient`] makes its object: one of the
/// convenience allocations, each a core allocation with its value or bytes
/// made differently.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Convenient {
    /// `alloc_default::<kind>(region)`: the kind's default value (all-zero
    /// words; a tracked kind gets the token the model issues).
    DefaultOf(TypedKind),
    /// `alloc_zeroed(region, Layout(size, 2^align_log2), TypeTag(tag))`.
    Zeroed {
        /// `layout.size()`.
        #[arbitrary(with = arbitrary_size)]
        size: u16,
        /// `layout.align()` is `2^align_log2`.
        #[arbitrary(with = arbitrary_align_log2)]
        align_log2: u8,
        /// The raw tag.
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
    },
    /// `alloc_bytes(region, TypeTag(tag), align, bytes)` with `size`
    /// pattern bytes seeded by `fill`; `align` is mostly a power of two,
    /// sometimes not (then `UnsupportedAlignment`).
    FromBytes {
        /// `bytes.len()`.
        #[arbitrary(with = arbitrary_size)]
        size: u16,
        /// The alignment, as passed.
        #[arbitrary(with = arbitrary_raw_align)]
        align: u16,
        /// The raw tag.
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
        /// Seed of the contents.
        fill: u8,
    },
    /// `alloc_with(region, Layout(size, 2^align_log2), TypeTag(tag), init)`
    /// whose `init` writes the pattern seeded by `fill` over the zeroed
    /// bytes, or, if `panics`, panics instead: then no object may exist.
    FilledInPlace {
        /// `layout.size()`.
        #[arbitrary(with = arbitrary_size)]
        size: u16,
        /// `layout.align()` is `2^align_log2`.
        #[arbitrary(with = arbitrary_align_log2)]
        align_log2: u8,
        /// The raw tag.
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
        /// Seed of the contents.
        fill: u8,
        /// `init` panics.
        panics: bool,
    },
}

/// What an [`Op::Iterate`] iterates; the driver compares the set of
/// objects (and their contents) with the model's.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Iteration {
    /// `iter::<kind>(region)`.
    OfType(TypedKind),
    /// `iter_mut::<kind>(region)`, setting each value's payload from
    /// `payload` (its drop-tracking token stays).
    OfTypeMut {
        /// The type.
        kind: TypedKind,
        /// Seed of the new payloads.
        payload: u64,
    },
    /// `iter_raw(region, TypeTag(tag))`.
    RawTagged {
        /// The raw tag (reserved ones are refused).
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
    },
    /// `subtree_objects(region)`.
    Subtree,
    /// `all_objects()` (the region operand is not used).
    Everything,
}

/// The element types of typed slices (`AllocSlice`, `GetSlice`).
///
/// Its `Debug` prints the path (`SliceKind::Words`): the variant names are
/// those of [`TypedKind`]'s on purpose, and a pasted trace must not be
/// ambiguous.
#[derive(Arbitrary, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SliceKind {
    /// `[u8]`, `Copy`: allocated with `alloc_slice_copy`.
    Bytes,
    /// `[u64]`, `Copy`: allocated with `alloc_slice_copy`.
    Words,
    /// `[Tracked<0>]` (16-byte elements that record their drop, each with a
    /// token of its own): allocated with `alloc_slice_fill_with`.
    Tracked,
}

impl SliceKind {
    /// Every kind, in declaration order.
    pub const ALL: [SliceKind; 3] = [SliceKind::Bytes, SliceKind::Words, SliceKind::Tracked];
}

impl std::fmt::Debug for SliceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            SliceKind::Bytes => "Bytes",
            SliceKind::Words => "Words",
            SliceKind::Tracked => "Tracked",
        };
        write!(f, "SliceKind::{name}")
    }
}

/// One call into the registry (plus the inspection queries). See the module
/// documentation for how operands are chosen.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op<R = RegionRef, O = ObjectRef, W = WeakRef> {
    /// `create_region(parent)`.
    CreateRegion {
        /// The parent.
        parent: R,
    },
    /// `retain_region(region)`.
    RetainRegion {
        /// The region.
        region: R,
    },
    /// `release_region(region)`; may kill it.
    ReleaseRegion {
        /// The region.
        region: R,
    },
    /// `with_region(parent, body)` whose body allocates one raw object of
    /// `size` bytes (alignment 8, tag 0) in the scoped region and, if `keep`,
    /// retains it so that it is promoted to `parent` when the scope ends.
    WithRegion {
        /// The parent of the scoped region.
        parent: R,
        /// Size of the object the body allocates.
        #[arbitrary(with = arbitrary_size)]
        size: u16,
        /// Whether the body retains the object.
        keep: bool,
    },
    /// Raw `alloc(region, Layout(size, 2^align_log2), bytes, TypeTag(tag))`.
    /// The bytes are a pattern seeded by `fill`, one byte too long if
    /// `mismatched_len` (to provoke `SizeMismatch`).
    Alloc {
        /// Where.
        region: R,
        /// `layout.size()`.
        #[arbitrary(with = arbitrary_size)]
        size: u16,
        /// `layout.align()` is `2^align_log2` (capped at [`ALIGN_LOG2_CAP`]).
        #[arbitrary(with = arbitrary_align_log2)]
        align_log2: u8,
        /// The raw type tag (values with the top bit set are reserved).
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
        /// Seed of the contents.
        fill: u8,
        /// Pass `size + 1` bytes.
        mismatched_len: bool,
    },
    /// `alloc_typed(region, value)` of a value of `kind` built from `payload`.
    AllocTyped {
        /// Where.
        region: R,
        /// The Rust type.
        kind: TypedKind,
        /// Seed of the value.
        payload: u64,
    },
    /// `get(object)`: the bytes of a raw object.
    Get {
        /// The object.
        object: O,
    },
    /// `get_mut(object)`, then copies `len` pattern bytes seeded by `fill` to
    /// `offset`, clipped at the end of the object.
    Write {
        /// The object.
        object: O,
        /// Where the bytes go.
        #[arbitrary(with = arbitrary_offset)]
        offset: u16,
        /// How many bytes.
        len: u8,
        /// Seed of the bytes.
        fill: u8,
    },
    /// `get_typed::<kind>(object)`.
    GetTyped {
        /// The object.
        object: O,
        /// The type asked for (often not the object's).
        kind: TypedKind,
    },
    /// `get_typed_mut::<kind>(object)`, then sets the value's payload (never
    /// its drop-tracking token) from `payload`.
    SetTyped {
        /// The object.
        object: O,
        /// The type asked for.
        kind: TypedKind,
        /// Seed of the new payload.
        payload: u64,
    },
    /// `free(object)`.
    Free {
        /// The object.
        object: O,
    },
    /// `retain(object)`.
    Retain {
        /// The object.
        object: O,
    },
    /// `release(object)`.
    Release {
        /// The object.
        object: O,
    },
    /// `store_handle(container, object)`.
    StoreHandle {
        /// The region the handle is stored in.
        container: R,
        /// The object.
        object: O,
    },
    /// `downgrade(object)`.
    Downgrade {
        /// The object.
        object: O,
    },
    /// `upgrade(weak)`.
    Upgrade {
        /// The weak handle.
        weak: W,
    },
    /// `drop_weak(weak)`.
    DropWeak {
        /// The weak handle.
        weak: W,
    },
    /// `promote(object, target)`.
    Promote {
        /// The object.
        object: O,
        /// Where to.
        target: R,
    },
    /// `resolve(object)`.
    Resolve {
        /// The object.
        object: O,
    },
    /// `region_of(object)`.
    RegionOf {
        /// The object.
        object: O,
    },
    /// `register_destructor(TypeTag(tag), f)`; the driver's `f` records its calls.
    RegisterDestructor {
        /// The raw tag.
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
    },
    /// Every object query: `type_tag`, `layout_of`, `strong_count`,
    /// `weak_count`, `region_of`.
    InspectObject {
        /// The object.
        object: O,
    },
    /// Every region query: `is_region_alive`, `region_refcount`,
    /// `parent_of`, `children`, `object_count`, `objects`.
    InspectRegion {
        /// The region.
        region: R,
    },
    /// `compact(region, max_bytes_moved)`: one incremental compaction step.
    /// `max_bytes_moved` is `max_bytes * COMPACT_BYTES_UNIT`, or `usize::MAX`
    /// when `max_bytes` is [`COMPACT_UNLIMITED`]. Nothing observable may
    /// change; the driver checks every object of the region afterwards.
    Compact {
        /// The region.
        region: R,
        /// The byte limit, in units of [`COMPACT_BYTES_UNIT`] (see above).
        #[arbitrary(with = arbitrary_compact_bytes)]
        max_bytes: u16,
    },
    /// One typed slice of `len` elements of `kind` built from `payload`:
    /// `alloc_slice_copy` for the `Copy` kinds, `alloc_slice_fill_with` for
    /// [`SliceKind::Tracked`] (each element with its own drop token).
    AllocSlice {
        /// Where.
        region: R,
        /// The element type.
        kind: SliceKind,
        /// Number of elements (mostly small, sometimes up to [`MAX_SLICE_LEN`]).
        #[arbitrary(with = arbitrary_slice_len)]
        len: u8,
        /// Seed of the elements.
        payload: u64,
    },
    /// `get_slice::<kind>(object)`.
    GetSlice {
        /// The object.
        object: O,
        /// The element type asked for (often not the object's).
        kind: SliceKind,
    },
    /// Raw `alloc_bulk(region, Layout(size, 2^align_log2), TypeTag(tag),
    /// count, bytes)`: object `i` holds the pattern seeded by
    /// `fill.wrapping_add(i)`; one byte too many if `mismatched_len` (to
    /// provoke `SizeMismatch`).
    AllocBulk {
        /// Where.
        region: R,
        /// `layout.size()` of every object.
        #[arbitrary(with = arbitrary_bulk_size)]
        size: u16,
        /// `layout.align()` is `2^align_log2` (capped at [`ALIGN_LOG2_CAP`]).
        #[arbitrary(with = arbitrary_align_log2)]
        align_log2: u8,
        /// The raw type tag (values with the top bit set are reserved).
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
        /// How many objects (mostly small, sometimes up to [`MAX_BULK_COUNT`]).
        #[arbitrary(with = arbitrary_bulk_count)]
        count: u16,
        /// Seed of the contents of object 0.
        fill: u8,
        /// Pass one byte more than `count * size`.
        mismatched_len: bool,
    },
    /// `register_destructor(TypeTag(tag), f)` with an `f` that records its
    /// call and then panics: the operations that destroy such objects must
    /// still destroy everything due, then panic.
    RegisterPanickingDestructor {
        /// The raw tag.
        #[arbitrary(with = arbitrary_tag)]
        tag: u64,
    },
    /// Test hook `set_counts_for_testing(object, u32::MAX - 1, u32::MAX - 1)`:
    /// the next `Retain` / `Downgrade` of the object succeeds, the one after
    /// overflows (`RefcountOverflow`).
    SaturateCounts {
        /// The object.
        object: O,
    },
    /// Test hook `set_region_refcount_for_testing(region, u32::MAX - 1)`:
    /// the next `RetainRegion` succeeds, the one after overflows.
    SaturateRegionRefcount {
        /// The region.
        region: R,
    },
    /// An allocation too large to exist, which must fail with
    /// `SizeOverflow` (or an earlier error) and allocate nothing.
    AllocOversized {
        /// Where.
        region: R,
        /// Which allocation.
        what: Oversized,
    },
    /// Harness op: the registry configuration of the run, as the first op
    /// (the first byte of a fuzz input, the first op of a soak episode).
    /// Before anything else has happened, the driver replaces its empty
    /// registry with one built with these settings; later it does nothing.
    /// The settings are not observable through the API, so the model
    /// ignores them: every configuration must behave the same.
    Configure {
        /// `arena_block_size(1 << arena_block_log2)` (12..=20).
        #[arbitrary(with = arbitrary_arena_block_log2)]
        arena_block_log2: u8,
        /// `nursery_bytes`: none (0), or `1 << nursery_log2` (8..=20).
        #[arbitrary(with = arbitrary_nursery_log2)]
        nursery_log2: u8,
        /// `block_cache_bytes(cache_kib * 1024)`; 0 disables the cache.
        cache_kib: u16,
    },
    /// Test hook `regions::failure::fail_after(after)`: the allocation after
    /// the next `after` allocations of the registry fails, once. The op that
    /// meets it must return `OutOfMemory` and change nothing observable (or,
    /// where the registry can do without that memory, succeed as predicted).
    InjectAllocFailure {
        /// Allocations that still succeed first.
        #[arbitrary(with = arbitrary_failure_delay)]
        after: u8,
    },
    /// `set_budget(budget)`: the registry-wide payload budget in bytes
    /// (`None` removes it). Mostly small, so later allocations hit it.
    SetBudget {
        /// The budget.
        #[arbitrary(with = arbitrary_budget)]
        budget: Option<u16>,
    },
    /// `create_region_with_budget(parent, budget)`: a child whose own
    /// objects may hold at most `budget` payload bytes.
    CreateRegionWithBudget {
        /// The parent.
        parent: R,
        /// The region's budget in bytes (mostly small).
        #[arbitrary(with = arbitrary_region_budget)]
        budget: u16,
    },
    /// `unstore(container, object)`: gives back one reference `container`
    /// stored.
    Unstore {
        /// The region that stored the reference.
        container: R,
        /// The object.
        object: O,
    },
    /// The identity queries `current(object)`, `is_alive(object)` and
    /// `same_object(object, other)`.
    Identify {
        /// The object.
        object: O,
        /// The object it is compared with.
        other: O,
    },
    /// One of the convenience allocations (see [`Convenient`]).
    AllocConvenient {
        /// Where.
        region: R,
        /// Which one.
        how: Convenient,
    },
    /// One of the iterations (see [`Iteration`]).
    Iterate {
        /// The region iterated.
        region: R,
        /// What is iterated.
        what: Iteration,
    },
    /// `region_builder().parent(parent).capacity(capacity)
    /// .first_block_size(1 << first_block_log2)` and, if given,
    /// `.budget(budget)`, then `.create()`.
    BuildRegion {
        /// The parent.
        parent: R,
        /// Objects the region's table has room for at creation.
        #[arbitrary(with = arbitrary_capacity)]
        capacity: u16,
        /// log2 of the first block's size (clamped by the core).
        #[arbitrary(with = arbitrary_first_block_log2)]
        first_block_log2: u8,
        /// The region's budget, if any.
        #[arbitrary(with = arbitrary_budget)]
        budget: Option<u16>,
    },
    /// `serialize(region)`, then `deserialize(parent, bytes)`: a copy of
    /// the subtree under `parent`, whose handle map the driver checks for
    /// every handle the copied regions and objects ever had.
    SerializeRoundTrip {
        /// The subtree copied.
        region: R,
        /// Where the copy goes.
        parent: R,
    },
}

impl<R, O, W> Op<R, O, W> {
    /// The same op with every operand mapped. The three functions are called
    /// in field order, so a mapping with side effects sees the operands in
    /// the order they are written.
    pub fn map_operands<'a, R2, O2, W2>(
        &'a self,
        mut region: impl FnMut(&'a R) -> R2,
        mut object: impl FnMut(&'a O) -> O2,
        mut weak: impl FnMut(&'a W) -> W2,
    ) -> Op<R2, O2, W2> {
        use Op::*;
        match self {
            CreateRegion { parent } => CreateRegion {
                parent: region(parent),
            },
            CreateRegionWithBudget { parent, budget } => CreateRegionWithBudget {
                parent: region(parent),
                budget: *budget,
            },
            Unstore {
                container,
                object: o,
            } => Unstore {
                container: region(container),
                object: object(o),
            },
            Identify { object: o, other } => Identify {
                object: object(o),
                other: object(other),
            },
            AllocConvenient { region: r, how } => AllocConvenient {
                region: region(r),
                how: *how,
            },
            Iterate { region: r, what } => Iterate {
                region: region(r),
                what: *what,
            },
            SerializeRoundTrip { region: r, parent } => SerializeRoundTrip {
                region: region(r),
                parent: region(parent),
            },
            BuildRegion {
                parent,
                capacity,
                first_block_log2,
                budget,
            } => BuildRegion {
                parent: region(parent),
                capacity: *capacity,
                first_block_log2: *first_block_log2,
                budget: *budget,
            },
            SetBudget { budget } => SetBudget { budget: *budget },
            InjectAllocFailure { after } => InjectAllocFailure { after: *after },
            Configure {
                arena_block_log2,
                nursery_log2,
                cache_kib,
            } => Configure {
                arena_block_log2: *arena_block_log2,
                nursery_log2: *nursery_log2,
                cache_kib: *cache_kib,
            },
            RegisterPanickingDestructor { tag } => RegisterPanickingDestructor { tag: *tag },
            SaturateCounts { object: o } => SaturateCounts { object: object(o) },
            SaturateRegionRefcount { region: r } => SaturateRegionRefcount { region: region(r) },
            AllocOversized { region: r, what } => AllocOversized {
                region: region(r),
                what: *what,
            },
            RetainRegion { region: r } => RetainRegion { region: region(r) },
            ReleaseRegion { region: r } => ReleaseRegion { region: region(r) },
            WithRegion { parent, size, keep } => WithRegion {
                parent: region(parent),
                size: *size,
                keep: *keep,
            },
            Alloc {
                region: r,
                size,
                align_log2,
                tag,
                fill,
                mismatched_len,
            } => Alloc {
                region: region(r),
                size: *size,
                align_log2: *align_log2,
                tag: *tag,
                fill: *fill,
                mismatched_len: *mismatched_len,
            },
            AllocTyped {
                region: r,
                kind,
                payload,
            } => AllocTyped {
                region: region(r),
                kind: *kind,
                payload: *payload,
            },
            Get { object: o } => Get { object: object(o) },
            Write {
                object: o,
                offset,
                len,
                fill,
            } => Write {
                object: object(o),
                offset: *offset,
                len: *len,
                fill: *fill,
            },
            GetTyped { object: o, kind } => GetTyped {
                object: object(o),
                kind: *kind,
            },
            SetTyped {
                object: o,
                kind,
                payload,
            } => SetTyped {
                object: object(o),
                kind: *kind,
                payload: *payload,
            },
            Free { object: o } => Free { object: object(o) },
            Retain { object: o } => Retain { object: object(o) },
            Release { object: o } => Release { object: object(o) },
            StoreHandle {
                container,
                object: o,
            } => StoreHandle {
                container: region(container),
                object: object(o),
            },
            Downgrade { object: o } => Downgrade { object: object(o) },
            Upgrade { weak: w } => Upgrade { weak: weak(w) },
            DropWeak { weak: w } => DropWeak { weak: weak(w) },
            Promote { object: o, target } => Promote {
                object: object(o),
                target: region(target),
            },
            Resolve { object: o } => Resolve { object: object(o) },
            RegionOf { object: o } => RegionOf { object: object(o) },
            RegisterDestructor { tag } => RegisterDestructor { tag: *tag },
            InspectObject { object: o } => InspectObject { object: object(o) },
            InspectRegion { region: r } => InspectRegion { region: region(r) },
            Compact {
                region: r,
                max_bytes,
            } => Compact {
                region: region(r),
                max_bytes: *max_bytes,
            },
            AllocSlice {
                region: r,
                kind,
                len,
                payload,
            } => AllocSlice {
                region: region(r),
                kind: *kind,
                len: *len,
                payload: *payload,
            },
            GetSlice { object: o, kind } => GetSlice {
                object: object(o),
                kind: *kind,
            },
            AllocBulk {
                region: r,
                size,
                align_log2,
                tag,
                count,
                fill,
                mismatched_len,
            } => AllocBulk {
                region: region(r),
                size: *size,
                align_log2: *align_log2,
                tag: *tag,
                count: *count,
                fill: *fill,
                mismatched_len: *mismatched_len,
            },
        }
    }

    /// The operands, in field order.
    pub fn operands(&self) -> Vec<Operand<&R, &O, &W>> {
        let list = RefCell::new(Vec::new());
        self.map_operands(
            |r| list.borrow_mut().push(Operand::Region(r)),
            |o| list.borrow_mut().push(Operand::Object(o)),
            |w| list.borrow_mut().push(Operand::Weak(w)),
        );
        list.into_inner()
    }

    /// Whether the op can add objects, storage or regions to the registry
    /// (every allocation, every new region, a serialization round trip's
    /// copy): the ops a run at the driver's scale cap skips.
    pub fn can_grow(&self) -> bool {
        matches!(
            self,
            Op::CreateRegion { .. }
                | Op::CreateRegionWithBudget { .. }
                | Op::WithRegion { .. }
                | Op::Alloc { .. }
                | Op::AllocTyped { .. }
                | Op::AllocSlice { .. }
                | Op::AllocBulk { .. }
                | Op::AllocConvenient { .. }
                | Op::BuildRegion { .. }
                | Op::SerializeRoundTrip { .. }
        )
    }

    /// The variant's name, for per-kind counters and progress output.
    pub fn kind_name(&self) -> &'static str {
        use Op::*;
        match self {
            CreateRegion { .. } => "CreateRegion",
            RetainRegion { .. } => "RetainRegion",
            ReleaseRegion { .. } => "ReleaseRegion",
            WithRegion { .. } => "WithRegion",
            Alloc { .. } => "Alloc",
            AllocTyped { .. } => "AllocTyped",
            Get { .. } => "Get",
            Write { .. } => "Write",
            GetTyped { .. } => "GetTyped",
            SetTyped { .. } => "SetTyped",
            Free { .. } => "Free",
            Retain { .. } => "Retain",
            Release { .. } => "Release",
            StoreHandle { .. } => "StoreHandle",
            Downgrade { .. } => "Downgrade",
            Upgrade { .. } => "Upgrade",
            DropWeak { .. } => "DropWeak",
            Promote { .. } => "Promote",
            Resolve { .. } => "Resolve",
            RegionOf { .. } => "RegionOf",
            RegisterDestructor { .. } => "RegisterDestructor",
            InspectObject { .. } => "InspectObject",
            InspectRegion { .. } => "InspectRegion",
            Compact { .. } => "Compact",
            AllocSlice { .. } => "AllocSlice",
            GetSlice { .. } => "GetSlice",
            AllocBulk { .. } => "AllocBulk",
            SetBudget { .. } => "SetBudget",
            InjectAllocFailure { .. } => "InjectAllocFailure",
            Configure { .. } => "Configure",
            RegisterPanickingDestructor { .. } => "RegisterPanickingDestructor",
            SaturateCounts { .. } => "SaturateCounts",
            SaturateRegionRefcount { .. } => "SaturateRegionRefcount",
            AllocOversized { .. } => "AllocOversized",
            CreateRegionWithBudget { .. } => "CreateRegionWithBudget",
            Unstore { .. } => "Unstore",
            Identify { .. } => "Identify",
            AllocConvenient { .. } => "AllocConvenient",
            Iterate { .. } => "Iterate",
            BuildRegion { .. } => "BuildRegion",
            SerializeRoundTrip { .. } => "SerializeRoundTrip",
        }
    }
}

/// One operand of an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand<R, O, W> {
    /// A region operand.
    Region(R),
    /// An object operand.
    Object(O),
    /// A weak operand.
    Weak(W),
}

/// Number of op variants (the length of [`Op::kind_name`]'s range).
pub const OP_KINDS: usize = 41;

/// How many handles of each kind the driver has seen: the valid index range
/// of [`RegionRef::Region`], [`ObjectRef::Object`] and [`WeakRef::Weak`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLens {
    /// Region handles seen (at least 1: the root).
    pub regions: usize,
    /// Object handles seen.
    pub objects: usize,
    /// Weak handles returned.
    pub weaks: usize,
}

/// One of the driver's handle tables, which table indices name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// Region handles ([`RegionRef::Region`]).
    Regions,
    /// Object handles ([`ObjectRef::Object`]).
    Objects,
    /// Weak handles ([`WeakRef::Weak`]).
    Weaks,
}

impl TableLens {
    /// The length of `table`.
    pub fn of(self, table: Table) -> usize {
        match table {
            Table::Regions => self.regions,
            Table::Objects => self.objects,
            Table::Weaks => self.weaks,
        }
    }

    /// No bound: indices are drawn from all of `u16` and taken modulo.
    pub const UNBOUNDED: TableLens = TableLens {
        regions: usize::MAX,
        objects: usize::MAX,
        weaks: usize::MAX,
    };
}

impl Op {
    /// The same op with every table index `i` of table `t` replaced by
    /// `f(t, i)` (fabricated operands are kept as they are).
    pub fn map_indices(&self, f: impl Fn(Table, u16) -> u16) -> Op {
        let object = |o: &ObjectRef| match *o {
            ObjectRef::Object(i) => ObjectRef::Object(f(Table::Objects, i)),
            fake => fake,
        };
        self.map_operands(
            |r| match *r {
                RegionRef::Region(i) => RegionRef::Region(f(Table::Regions, i)),
                other => other,
            },
            object,
            |w| match w {
                WeakRef::Weak(i) => WeakRef::Weak(f(Table::Weaks, *i)),
                WeakRef::WeakOf(o) => WeakRef::WeakOf(object(o)),
            },
        )
    }

    /// Whether every table index in this op is below the table's length.
    /// The state machine re-checks this while shrinking: deleting the op
    /// that created a handle must not silently re-aim later ops at another.
    pub fn operands_within(&self, lens: TableLens) -> bool {
        let object_ok = |o: &ObjectRef| match o {
            ObjectRef::Object(i) => usize::from(*i) < lens.objects,
            ObjectRef::FakeObject { .. } => true,
        };
        self.operands().into_iter().all(|operand| match operand {
            Operand::Region(RegionRef::Region(i)) => usize::from(*i) < lens.regions,
            Operand::Region(_) => true,
            Operand::Object(o) | Operand::Weak(WeakRef::WeakOf(o)) => object_ok(o),
            Operand::Weak(WeakRef::Weak(i)) => usize::from(*i) < lens.weaks,
        })
    }
}

/// The registry configuration a fuzz input's first byte (or a soak
/// episode's seed) chooses: two bits each for the arena block size (4, 16,
/// 64 KiB or 1 MiB), the nursery (none, 256 bytes, 4 KiB or the whole
/// block) and the block cache (none, 16 KiB, 1 MiB or 64 MiB). Every
/// combination is a registry users can build; byte 0x55 is close to the
/// driver's default (16 KiB blocks, 256-byte nurseries).
pub fn configure_from_byte(byte: u8) -> Op {
    let pick = |shift: u32| usize::from((byte >> shift) & 3);
    let arena_block_log2 = [12, 14, 16, 20][pick(0)];
    Op::Configure {
        arena_block_log2,
        nursery_log2: [0, 8, 12, arena_block_log2][pick(2)],
        cache_kib: [0, 16, 1024, 65535][pick(4)],
    }
}

/// Everything imported by a pasted trace: `Op`, its variants and the operand
/// variants (their names are unique across the enums on purpose), and
/// `SliceKind`, whose variants print with their path.
pub mod prelude {
    pub use super::Convenient::*;
    pub use super::Iteration::*;
    pub use super::ObjectRef::*;
    pub use super::Op::*;
    pub use super::Oversized::*;
    pub use super::RegionRef::*;
    pub use super::TypedKind::*;
    pub use super::WeakRef::*;
    pub use super::{
        Convenient, Iteration, ObjectRef, Op, Oversized, RegionRef, SliceKind, TypedKind, WeakRef,
    };
}

// ---------------------------------------------------------------------------
// Distributions. The proptest strategies and the `Arbitrary` field functions
// draw from the same classes, so fuzzing and proptest explore alike.

/// Size classes: inline, small arena, large arena, dedicated block.
const SIZE_CLASSES: [(u32, u16, u16); 4] = [
    (6, 0, 16),
    (3, 17, 256),
    (1, 257, 1024),
    (1, 1025, MAX_GENERATED_SIZE),
];
/// Alignment classes (log2): small, large, unsupported.
const ALIGN_CLASSES: [(u32, u8, u8); 3] =
    [(16, 0, 4), (4, 5, 12), (1, 13, MAX_GENERATED_ALIGN_LOG2)];
/// Sizes of `AllocBulk` objects: mostly small arena classes (so bulk
/// allocations fill the slab pages that compaction moves objects between),
/// some inline, some large arena, a few dedicated.
const BULK_SIZE_CLASSES: [(u32, u16, u16); 4] =
    [(3, 0, 16), (8, 17, 256), (2, 257, 1024), (1, 1025, 4096)];
/// `AllocSlice` lengths: mostly short, sometimes long enough for a page of
/// its own.
const SLICE_LEN_CLASSES: [(u32, u8, u8); 2] = [
    (6, 0, SMALL_SLICE_LEN),
    (1, SMALL_SLICE_LEN + 1, MAX_SLICE_LEN),
];
/// `AllocBulk` counts: mostly a few objects, sometimes many.
const BULK_COUNT_CLASSES: [(u32, u16, u16); 4] = [
    (24, 0, SMALL_BULK_COUNT),
    (6, SMALL_BULK_COUNT + 1, 40),
    (2, 41, 512),
    (1, 513, MAX_BULK_COUNT),
];
/// `Compact` byte limits (in [`COMPACT_BYTES_UNIT`]s): zero, a partial step
/// (16 to 1024 bytes), no limit at all, or anything else.
const COMPACT_BYTES_CLASSES: [(u32, u16, u16); 4] = [
    (1, 0, 0),
    (3, 1, 64),
    (3, COMPACT_UNLIMITED, COMPACT_UNLIMITED),
    (1, 65, COMPACT_UNLIMITED - 1),
];
/// Budgets (registry-wide and per region), in bytes: tight (a few objects
/// fit), moderate (a page or so) and loose.
const BUDGET_CLASSES: [(u32, u16, u16); 3] = [(2, 0, 256), (3, 257, 4096), (3, 4097, u16::MAX)];
/// One `SetBudget` in this many removes the budget (a registry budget
/// stays until the next `SetBudget`, so tight ones must not dominate).
const NO_BUDGET_ODDS: u32 = 2;
/// Raw tags: a few small ones (so destructor registrations collide), rarely a reserved one.
const RAW_TAGS: [u64; 4] = [0, 1, 2, 3];
/// One raw tag in this many is reserved.
const RESERVED_TAG_ODDS: u32 = 30;

/// How often a region operand is the root, a handle seen (an index) or a
/// fabricated handle, in that order: the fuzz decoding and the proptest
/// generators draw from these odds alike. (`Arbitrary`'s derive made a
/// third of the fuzzer's region operands and half of its object operands
/// fabricated, which only ever get rejected.)
const REGION_REF_ODDS: [(u32, u8, u8); 3] = [(2, 0, 0), (12, 1, 1), (1, 2, 2)];
/// An object operand: a handle seen, or a fabricated one.
const OBJECT_REF_ODDS: [(u32, u8, u8); 2] = [(14, 0, 0), (1, 1, 1)];
/// A weak operand: a weak handle returned, or one made from an object operand.
const WEAK_REF_ODDS: [(u32, u8, u8); 2] = [(6, 0, 0), (1, 1, 1)];

impl<'a> Arbitrary<'a> for RegionRef {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match pick_class(u, &REGION_REF_ODDS)?.0 {
            0 => RegionRef::Root,
            1 => RegionRef::Region(decode::arbitrary_index(u)?),
            _ => RegionRef::FakeRegion {
                id: fake_region_id(u)?,
                generation: fake_generation(u)?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for ObjectRef {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match pick_class(u, &OBJECT_REF_ODDS)?.0 {
            0 => ObjectRef::Object(decode::arbitrary_index(u)?),
            _ => ObjectRef::FakeObject {
                region_id: fake_region_id(u)?,
                region_generation: fake_generation(u)?,
                slot: fake_slot(u)?,
                slot_generation: fake_generation(u)?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for WeakRef {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match pick_class(u, &WEAK_REF_ODDS)?.0 {
            0 => WeakRef::Weak(decode::arbitrary_index(u)?),
            _ => WeakRef::WeakOf(ObjectRef::arbitrary(u)?),
        })
    }
}

fn pick_class<T: Copy>(
    u: &mut Unstructured<'_>,
    classes: &[(u32, T, T)],
) -> arbitrary::Result<(T, T)> {
    let total: u32 = classes.iter().map(|c| c.0).sum();
    let mut roll = u.int_in_range(0..=total - 1)?;
    for &(weight, low, high) in classes {
        if roll < weight {
            return Ok((low, high));
        }
        roll -= weight;
    }
    unreachable!("roll is below the total weight")
}

fn arbitrary_size(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let (low, high) = pick_class(u, &SIZE_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_align_log2(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    let (low, high) = pick_class(u, &ALIGN_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_bulk_size(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let (low, high) = pick_class(u, &BULK_SIZE_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_slice_len(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    let (low, high) = pick_class(u, &SLICE_LEN_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_arena_block_log2(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    u.int_in_range(12..=20)
}

fn arbitrary_nursery_log2(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    let log2 = u.int_in_range(7..=20)?;
    Ok(if log2 == 7 { 0 } else { log2 })
}

fn arbitrary_bulk_count(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let (low, high) = pick_class(u, &BULK_COUNT_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_compact_bytes(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let (low, high) = pick_class(u, &COMPACT_BYTES_CLASSES)?;
    u.int_in_range(low..=high)
}

/// `InjectAllocFailure` delays: mostly the next few allocations (most ops
/// make none, so a small delay lands in the next allocating op or two),
/// sometimes further away.
const FAILURE_DELAY_CLASSES: [(u32, u8, u8); 2] = [(4, 0, 3), (1, 4, 40)];

fn arbitrary_failure_delay(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    let (low, high) = pick_class(u, &FAILURE_DELAY_CLASSES)?;
    u.int_in_range(low..=high)
}

fn failure_delay_strategy() -> BoxedStrategy<u8> {
    class_strategy(&FAILURE_DELAY_CLASSES)
}

fn arbitrary_region_budget(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let (low, high) = pick_class(u, &BUDGET_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_budget(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<u16>> {
    if u.ratio(1, NO_BUDGET_ODDS)? {
        return Ok(None);
    }
    arbitrary_region_budget(u).map(Some)
}

/// Alignments `FromBytes` passes as a number: mostly the powers of two of
/// [`ALIGN_CLASSES`], sometimes any small number (0 and non-powers of two
/// are refused).
fn arbitrary_raw_align(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    if u.ratio(1, RAW_ALIGN_ODD_ODDS)? {
        return u.int_in_range(0..=64);
    }
    Ok(1 << arbitrary_align_log2(u)?.min(15))
}

/// One `FromBytes` alignment in this many is any small number.
const RAW_ALIGN_ODD_ODDS: u32 = 8;
/// `BuildRegion` capacities: none, a few, many (the table's growth is
/// skipped), or far too many to reserve (`OutOfMemory`, predicted never:
/// the range stops below that).
const CAPACITY_CLASSES: [(u32, u16, u16); 3] = [(2, 0, 0), (3, 1, 64), (1, 65, 4096)];
/// `BuildRegion` first-block sizes (log2): below the smallest block, the
/// usual range, and above the largest (both clamped by the core).
const FIRST_BLOCK_LOG2_CLASSES: [(u32, u8, u8); 3] = [(1, 0, 6), (4, 7, 16), (1, 17, 40)];

fn arbitrary_capacity(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let (low, high) = pick_class(u, &CAPACITY_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_first_block_log2(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    let (low, high) = pick_class(u, &FIRST_BLOCK_LOG2_CLASSES)?;
    u.int_in_range(low..=high)
}

fn arbitrary_tag(u: &mut Unstructured<'_>) -> arbitrary::Result<u64> {
    let tag = *u.choose(&RAW_TAGS)?;
    let reserved = u.ratio(1, RESERVED_TAG_ODDS)?;
    Ok(if reserved {
        tag | RESERVED_TAG_BIT
    } else {
        tag
    })
}

fn arbitrary_offset(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    if u.ratio(1, 8)? {
        u.int_in_range(0..=MAX_GENERATED_SIZE)
    } else {
        u.int_in_range(0..=32)
    }
}

fn fake_region_id(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    u.int_in_range(0..=FAKE_REGION_IDS)
}

fn fake_generation(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    u.int_in_range(0..=FAKE_GENERATIONS)
}

fn fake_slot(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    u.int_in_range(0..=FAKE_SLOTS)
}

fn class_strategy<T>(classes: &[(u32, T, T)]) -> BoxedStrategy<T>
where
    T: Copy + std::fmt::Debug + 'static,
    std::ops::RangeInclusive<T>: Strategy<Value = T>,
{
    let weighted = classes
        .iter()
        .map(|&(weight, low, high)| (weight, (low..=high).boxed()))
        .collect();
    proptest::strategy::Union::new_weighted(weighted).boxed()
}

fn size_strategy() -> BoxedStrategy<u16> {
    class_strategy(&SIZE_CLASSES)
}

fn align_log2_strategy() -> BoxedStrategy<u8> {
    class_strategy(&ALIGN_CLASSES)
}

fn tag_strategy() -> BoxedStrategy<u64> {
    let tag = proptest::sample::select(RAW_TAGS.to_vec());
    prop_oneof![
        RESERVED_TAG_ODDS - 1 => tag.clone(),
        1 => tag.prop_map(|t| t | RESERVED_TAG_BIT),
    ]
    .boxed()
}

fn bulk_size_strategy() -> BoxedStrategy<u16> {
    class_strategy(&BULK_SIZE_CLASSES)
}

fn slice_len_strategy() -> BoxedStrategy<u8> {
    class_strategy(&SLICE_LEN_CLASSES)
}

fn bulk_count_strategy() -> BoxedStrategy<u16> {
    class_strategy(&BULK_COUNT_CLASSES)
}

fn compact_bytes_strategy() -> BoxedStrategy<u16> {
    class_strategy(&COMPACT_BYTES_CLASSES)
}

fn region_budget_strategy() -> BoxedStrategy<u16> {
    class_strategy(&BUDGET_CLASSES)
}

fn budget_strategy() -> BoxedStrategy<Option<u16>> {
    prop_oneof![
        1 => Just(None),
        NO_BUDGET_ODDS - 1 => region_budget_strategy().prop_map(Some),
    ]
    .boxed()
}

fn oversized_strategy() -> BoxedStrategy<Oversized> {
    prop_oneof![
        slice_kind_strategy().prop_map(Oversized::Slice),
        (0..=2u8).prop_map(|count| Oversized::Bulk { count }),
    ]
    .boxed()
}

fn raw_align_strategy() -> BoxedStrategy<u16> {
    prop_oneof![
        RAW_ALIGN_ODD_ODDS - 1 => align_log2_strategy().prop_map(|log2| 1 << log2.min(15)),
        1 => 0..=64u16,
    ]
    .boxed()
}

fn convenient_strategy() -> BoxedStrategy<Convenient> {
    prop_oneof![
        2 => kind_strategy().prop_map(Convenient::DefaultOf),
        2 => (size_strategy(), align_log2_strategy(), tag_strategy())
            .prop_map(|(size, align_log2, tag)| Convenient::Zeroed { size, align_log2, tag }),
        2 => (size_strategy(), raw_align_strategy(), tag_strategy(), any::<u8>())
            .prop_map(|(size, align, tag, fill)| Convenient::FromBytes { size, align, tag, fill }),
        2 => (size_strategy(), align_log2_strategy(), tag_strategy(), any::<u8>(), proptest::bool::weighted(0.2))
            .prop_map(|(size, align_log2, tag, fill, panics)| Convenient::FilledInPlace {
                size, align_log2, tag, fill, panics,
            }),
    ]
    .boxed()
}

fn iteration_strategy() -> BoxedStrategy<Iteration> {
    prop_oneof![
        3 => kind_strategy().prop_map(Iteration::OfType),
        2 => (kind_strategy(), any::<u64>())
            .prop_map(|(kind, payload)| Iteration::OfTypeMut { kind, payload }),
        2 => tag_strategy().prop_map(|tag| Iteration::RawTagged { tag }),
        2 => Just(Iteration::Subtree),
        1 => Just(Iteration::Everything),
    ]
    .boxed()
}

fn slice_kind_strategy() -> BoxedStrategy<SliceKind> {
    proptest::sample::select(SliceKind::ALL.to_vec()).boxed()
}

fn offset_strategy() -> BoxedStrategy<u16> {
    prop_oneof![7 => 0..=32u16, 1 => 0..=MAX_GENERATED_SIZE].boxed()
}

fn kind_strategy() -> BoxedStrategy<TypedKind> {
    proptest::sample::select(TypedKind::ALL.to_vec()).boxed()
}

/// An index into a table of `len` handles: uniform, with extra weight on the
/// newest few (they are the likeliest to be alive). `None` if the table is
/// empty. With an unbounded length, any `u16` (taken modulo by the driver).
fn index_strategy(len: usize) -> Option<BoxedStrategy<u16>> {
    if len == usize::MAX {
        return Some(any::<u16>().boxed());
    }
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    if len == 0 {
        return None;
    }
    let recent = len.saturating_sub(4);
    Some(prop_oneof![1 => 0..len, 1 => recent..len].boxed())
}

fn fake_region_strategy() -> BoxedStrategy<RegionRef> {
    (0..=FAKE_REGION_IDS, 0..=FAKE_GENERATIONS)
        .prop_map(|(id, generation)| RegionRef::FakeRegion { id, generation })
        .boxed()
}

fn region_strategy(lens: TableLens) -> BoxedStrategy<RegionRef> {
    match index_strategy(lens.regions) {
        Some(index) => prop_oneof![
            REGION_REF_ODDS[0].0 => Just(RegionRef::Root),
            REGION_REF_ODDS[1].0 => index.prop_map(RegionRef::Region),
            REGION_REF_ODDS[2].0 => fake_region_strategy(),
        ]
        .boxed(),
        None => prop_oneof![4 => Just(RegionRef::Root), 1 => fake_region_strategy()].boxed(),
    }
}

fn fake_object_strategy() -> BoxedStrategy<ObjectRef> {
    (
        0..=FAKE_REGION_IDS,
        0..=FAKE_GENERATIONS,
        0..=FAKE_SLOTS,
        0..=FAKE_GENERATIONS,
    )
        .prop_map(
            |(region_id, region_generation, slot, slot_generation)| ObjectRef::FakeObject {
                region_id,
                region_generation,
                slot,
                slot_generation,
            },
        )
        .boxed()
}

fn object_strategy(lens: TableLens) -> BoxedStrategy<ObjectRef> {
    match index_strategy(lens.objects) {
        Some(index) => prop_oneof![
            OBJECT_REF_ODDS[0].0 => index.prop_map(ObjectRef::Object),
            OBJECT_REF_ODDS[1].0 => fake_object_strategy(),
        ]
        .boxed(),
        None => fake_object_strategy(),
    }
}

fn weak_strategy(lens: TableLens) -> BoxedStrategy<WeakRef> {
    let of_object = object_strategy(lens).prop_map(WeakRef::WeakOf);
    match index_strategy(lens.weaks) {
        Some(index) => prop_oneof![
            WEAK_REF_ODDS[0].0 => index.prop_map(WeakRef::Weak),
            WEAK_REF_ODDS[1].0 => of_object,
        ]
        .boxed(),
        None => of_object.boxed(),
    }
}

/// The op distribution with indices drawn from all of `u16` (the driver takes
/// them modulo the table lengths). For engines without a reference state;
/// the state machine uses [`op_strategy_within`].
pub fn op_strategy() -> impl Strategy<Value = Op> {
    op_strategy_within(TableLens::UNBOUNDED)
}

/// The op distribution with every index below `lens`, each kind drawn with
/// its weight in [`OP_WEIGHTS`] (the fuzz decoding uses the same table);
/// region operands pick parents among existing regions, so trees nest.
pub fn op_strategy_within(lens: TableLens) -> BoxedStrategy<Op> {
    let region = || region_strategy(lens);
    let object = || object_strategy(lens);
    let weak = || weak_strategy(lens);
    prop_oneof![
        weight("CreateRegion") => region().prop_map(|parent| Op::CreateRegion { parent }),
        weight("RetainRegion") => region().prop_map(|region| Op::RetainRegion { region }),
        weight("ReleaseRegion") => region().prop_map(|region| Op::ReleaseRegion { region }),
        weight("WithRegion") => (region(), size_strategy(), any::<bool>())
            .prop_map(|(parent, size, keep)| Op::WithRegion { parent, size, keep }),
        weight("Alloc") => (region(), size_strategy(), align_log2_strategy(), tag_strategy(), any::<u8>(), proptest::bool::weighted(0.03))
            .prop_map(|(region, size, align_log2, tag, fill, mismatched_len)| Op::Alloc {
                region, size, align_log2, tag, fill, mismatched_len,
            }),
        weight("AllocTyped") => (region(), kind_strategy(), any::<u64>())
            .prop_map(|(region, kind, payload)| Op::AllocTyped { region, kind, payload }),
        weight("Get") => object().prop_map(|object| Op::Get { object }),
        weight("Write") => (object(), offset_strategy(), 0..=32u8, any::<u8>())
            .prop_map(|(object, offset, len, fill)| Op::Write { object, offset, len, fill }),
        weight("GetTyped") => (object(), kind_strategy()).prop_map(|(object, kind)| Op::GetTyped { object, kind }),
        weight("SetTyped") => (object(), kind_strategy(), any::<u64>())
            .prop_map(|(object, kind, payload)| Op::SetTyped { object, kind, payload }),
        weight("Free") => object().prop_map(|object| Op::Free { object }),
        weight("Retain") => object().prop_map(|object| Op::Retain { object }),
        weight("Release") => object().prop_map(|object| Op::Release { object }),
        weight("StoreHandle") => (region(), object()).prop_map(|(container, object)| Op::StoreHandle { container, object }),
        weight("Downgrade") => object().prop_map(|object| Op::Downgrade { object }),
        weight("Upgrade") => weak().prop_map(|weak| Op::Upgrade { weak }),
        weight("DropWeak") => weak().prop_map(|weak| Op::DropWeak { weak }),
        weight("Promote") => (object(), region()).prop_map(|(object, target)| Op::Promote { object, target }),
        weight("Resolve") => object().prop_map(|object| Op::Resolve { object }),
        weight("RegionOf") => object().prop_map(|object| Op::RegionOf { object }),
        weight("RegisterDestructor") => tag_strategy().prop_map(|tag| Op::RegisterDestructor { tag }),
        weight("InspectObject") => object().prop_map(|object| Op::InspectObject { object }),
        weight("InspectRegion") => region().prop_map(|region| Op::InspectRegion { region }),
        weight("Compact") => (region(), compact_bytes_strategy())
            .prop_map(|(region, max_bytes)| Op::Compact { region, max_bytes }),
        weight("AllocSlice") => (region(), slice_kind_strategy(), slice_len_strategy(), any::<u64>())
            .prop_map(|(region, kind, len, payload)| Op::AllocSlice { region, kind, len, payload }),
        weight("GetSlice") => (object(), slice_kind_strategy()).prop_map(|(object, kind)| Op::GetSlice { object, kind }),
        weight("AllocBulk") => (region(), bulk_size_strategy(), align_log2_strategy(), tag_strategy(), bulk_count_strategy(), any::<u8>(), proptest::bool::weighted(0.03))
            .prop_map(|(region, size, align_log2, tag, count, fill, mismatched_len)| Op::AllocBulk {
                region, size, align_log2, tag, count, fill, mismatched_len,
            }),
        weight("SetBudget") => budget_strategy().prop_map(|budget| Op::SetBudget { budget }),
        weight("InjectAllocFailure") => failure_delay_strategy().prop_map(|after| Op::InjectAllocFailure { after }),
        weight("Configure") => any::<u8>().prop_map(configure_from_byte),
        weight("RegisterPanickingDestructor") => tag_strategy().prop_map(|tag| Op::RegisterPanickingDestructor { tag }),
        weight("SaturateCounts") => object().prop_map(|object| Op::SaturateCounts { object }),
        weight("SaturateRegionRefcount") => region().prop_map(|region| Op::SaturateRegionRefcount { region }),
        weight("AllocOversized") => (region(), oversized_strategy()).prop_map(|(region, what)| Op::AllocOversized { region, what }),
        weight("CreateRegionWithBudget") => (region(), region_budget_strategy())
            .prop_map(|(parent, budget)| Op::CreateRegionWithBudget { parent, budget }),
        weight("Unstore") => (region(), object()).prop_map(|(container, object)| Op::Unstore { container, object }),
        weight("SerializeRoundTrip") => (region(), region()).prop_map(|(region, parent)| Op::SerializeRoundTrip { region, parent }),
        weight("Identify") => (object(), object()).prop_map(|(object, other)| Op::Identify { object, other }),
        weight("AllocConvenient") => (region(), convenient_strategy()).prop_map(|(region, how)| Op::AllocConvenient { region, how }),
        weight("Iterate") => (region(), iteration_strategy()).prop_map(|(region, what)| Op::Iterate { region, what }),
        weight("BuildRegion") => (region(), class_strategy(&CAPACITY_CLASSES), class_strategy(&FIRST_BLOCK_LOG2_CLASSES), budget_strategy())
            .prop_map(|(parent, capacity, first_block_log2, budget)| Op::BuildRegion {
                parent, capacity, first_block_log2, budget,
            }),
    ]
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::decode_ops;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;

    #[test]
    fn every_kind_name_is_distinct_and_counted() {
        let mut runner = TestRunner::deterministic();
        let strategy = op_strategy();
        let names: BTreeSet<&str> = (0..5000)
            .map(|_| {
                strategy
                    .new_tree(&mut runner)
                    .unwrap()
                    .current()
                    .kind_name()
            })
            .collect();
        assert_eq!(
            names.len(),
            OP_KINDS,
            "the strategy generates every op kind: {names:?}"
        );
    }

    #[test]
    fn bounded_strategy_stays_within_the_tables() {
        let mut runner = TestRunner::deterministic();
        let lens = TableLens {
            regions: 3,
            objects: 0,
            weaks: 2,
        };
        let strategy = op_strategy_within(lens);
        for _ in 0..2000 {
            let op = strategy.new_tree(&mut runner).unwrap().current();
            assert!(op.operands_within(lens), "{op:?}");
        }
    }

    #[test]
    fn operands_within_rejects_indices_past_the_end() {
        let lens = TableLens {
            regions: 1,
            objects: 2,
            weaks: 0,
        };
        assert!(Op::Free {
            object: ObjectRef::Object(1)
        }
        .operands_within(lens));
        assert!(!Op::Free {
            object: ObjectRef::Object(2)
        }
        .operands_within(lens));
        assert!(!Op::CreateRegion {
            parent: RegionRef::Region(1)
        }
        .operands_within(lens));
        assert!(!Op::Upgrade {
            weak: WeakRef::Weak(0)
        }
        .operands_within(lens));
        assert!(!Op::Upgrade {
            weak: WeakRef::WeakOf(ObjectRef::Object(5))
        }
        .operands_within(lens));
    }

    #[test]
    fn slice_kinds_print_with_their_path_so_traces_paste() {
        use super::prelude::*;
        let op: Op = GetSlice {
            object: Object(2),
            kind: SliceKind::Words,
        };
        assert_eq!(
            format!("{op:?}"),
            "GetSlice { object: Object(2), kind: SliceKind::Words }"
        );
        // The same names in `TypedKind` stay usable unqualified.
        let typed: TypedKind = Words;
        assert_eq!(format!("{typed:?}"), "Words");
    }

    #[test]
    fn compact_limits_cover_zero_partial_and_unlimited() {
        assert_eq!(compact_byte_limit(0), 0);
        assert_eq!(compact_byte_limit(64), 1024);
        assert_eq!(compact_byte_limit(COMPACT_UNLIMITED), usize::MAX);
    }

    #[test]
    fn new_op_fields_reach_every_class() {
        let mut runner = TestRunner::deterministic();
        let strategy = op_strategy();
        let (mut short, mut long, mut few, mut many) = (false, false, false, false);
        let (mut zero, mut unlimited, mut partial) = (false, false, false);
        for _ in 0..20_000 {
            match strategy.new_tree(&mut runner).unwrap().current() {
                Op::AllocSlice { len, .. } => {
                    short |= len <= SMALL_SLICE_LEN;
                    long |= len > SMALL_SLICE_LEN;
                    assert!(len <= MAX_SLICE_LEN);
                }
                Op::AllocBulk { count, .. } => {
                    few |= (2..=SMALL_BULK_COUNT).contains(&count);
                    many |= count > SMALL_BULK_COUNT;
                    assert!(count <= MAX_BULK_COUNT);
                }
                Op::Compact { max_bytes, .. } => {
                    zero |= max_bytes == 0;
                    unlimited |= max_bytes == COMPACT_UNLIMITED;
                    partial |= (1..=64).contains(&max_bytes);
                }
                _ => {}
            }
        }
        assert!(short && long && few && many && zero && unlimited && partial);
    }

    #[test]
    fn decode_ops_respects_the_cap_and_ends_on_short_input() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(decode_ops(&data, 5).len(), 5);
        assert!(!decode_ops(&data, 1000).is_empty());
        assert!(decode_ops(&[], 10).is_empty());
    }

    #[test]
    fn arbitrary_fields_stay_in_their_documented_ranges() {
        let data: Vec<u8> = (0..65536u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for op in decode_ops(&data, 10_000) {
            match op {
                Op::Alloc {
                    size,
                    align_log2,
                    tag,
                    ..
                } => {
                    assert!(size <= MAX_GENERATED_SIZE);
                    assert!(align_log2 <= MAX_GENERATED_ALIGN_LOG2);
                    assert!(RAW_TAGS.contains(&(tag & !RESERVED_TAG_BIT)));
                }
                Op::CreateRegion {
                    parent: RegionRef::FakeRegion { id, generation },
                } => assert!(id <= FAKE_REGION_IDS && generation <= FAKE_GENERATIONS),
                Op::AllocSlice { len, .. } => assert!(len <= MAX_SLICE_LEN),
                Op::AllocBulk {
                    size,
                    align_log2,
                    tag,
                    count,
                    ..
                } => {
                    assert!(size <= 4096 && count <= MAX_BULK_COUNT);
                    assert!(align_log2 <= MAX_GENERATED_ALIGN_LOG2);
                    assert!(RAW_TAGS.contains(&(tag & !RESERVED_TAG_BIT)));
                }
                _ => {}
            }
        }
    }
}

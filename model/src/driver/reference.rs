//! The model side of a run: the reference model plus the operand tables, in
//! model identities.
//!
//! The driver keeps the core side of the same tables (core handles, entry for
//! entry). The proptest state machine uses a `Reference` alone as its
//! reference state: it only needs the table lengths to generate in-range
//! operands and to re-check them while shrinking. Alone, a `Reference` cannot
//! know which fabricated handles collide with real ones (that depends on the
//! core's id assignment), so it treats them all as unknown; its table lengths
//! can then lag the driver's, which only makes preconditions stricter.

use std::cell::RefCell;

use crate::model::{Destroyed, Model, ModelError, ObjectId, RegionId, MAX_OBJECT_SIZE};
use crate::op::{ObjectRef, Op, Oversized, RegionRef, TableLens, WeakRef, ALIGN_LOG2_CAP};

use super::id_set::IdSet;
use super::outcome::{ObjectQueries, Outcome, RegionQueries, Res};

mod api_ops;

/// The model identity of a handle the driver has never seen (fabricated, or
/// picked from an empty table). The model never issues it.
pub const UNKNOWN_REGION: RegionId = RegionId(u64::MAX);
/// See [`UNKNOWN_REGION`].
pub const UNKNOWN_OBJECT: ObjectId = ObjectId(u64::MAX);

/// Tag of the object a `WithRegion` body allocates.
pub(crate) const SCOPED_TAG: u64 = 0;
/// Alignment of that object.
pub(crate) const SCOPED_ALIGN: usize = 8;
/// Fill seed of its contents.
pub(crate) const SCOPED_FILL: u8 = 0xa5;

/// An op whose operands are model identities.
pub(crate) type ModelOp = Op<RegionId, ObjectId, ObjectId>;

/// The contents of `len` bytes seeded by `fill` (`Alloc`, `Write`, `WithRegion`).
pub(crate) fn pattern(fill: u8, len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len);
    extend_with_pattern(&mut bytes, fill, len);
    bytes
}

/// The pattern's period: a prime, so objects whose sizes are powers of two
/// never line up with it.
const PATTERN_PERIOD: usize = 251;

/// One period of the pattern seeded by 0: byte `i` is `31 * i` (wrapping).
const PATTERN_CYCLE: [u8; PATTERN_PERIOD] = {
    let mut cycle = [0; PATTERN_PERIOD];
    let mut i = 0;
    while i < PATTERN_PERIOD {
        cycle[i] = (i as u8).wrapping_mul(31);
        i += 1;
    }
    cycle
};

/// Appends [`pattern`]`(fill, len)` to `bytes` (byte `i` is `fill + 31 *
/// (i % 251)`, wrapping), allocating nothing more than `bytes` needs. It
/// goes a period at a time: a division per byte made it the driver's
/// costliest function on bulk allocations.
fn extend_with_pattern(bytes: &mut Vec<u8>, fill: u8, len: usize) {
    let mut left = len;
    while left > 0 {
        let run = left.min(PATTERN_PERIOD);
        bytes.extend(PATTERN_CYCLE[..run].iter().map(|b| b.wrapping_add(fill)));
        left -= run;
    }
}

/// The bytes an `AllocBulk` passes: object `i` gets the pattern seeded by
/// `fill + i` (wrapping), and `mismatched` adds one byte more.
pub(crate) fn bulk_bytes(fill: u8, size: usize, count: usize, mismatched: bool) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size * count + usize::from(mismatched));
    for i in 0..count {
        extend_with_pattern(&mut bytes, fill.wrapping_add(i as u8), size);
    }
    if mismatched {
        bytes.push(fill);
    }
    bytes
}

/// The element count of an oversized slice of `element_size`-byte
/// elements: one more than `MAX_OBJECT_SIZE` allows.
pub(crate) fn oversized_len(element_size: usize) -> usize {
    MAX_OBJECT_SIZE / element_size + 1
}

/// The alignment an op's `align_log2` stands for.
pub(crate) fn align_of_log2(align_log2: u8) -> usize {
    1 << align_log2.min(ALIGN_LOG2_CAP)
}

/// What the model says an op does.
#[derive(Clone, Debug)]
pub(crate) struct Prediction {
    /// The result.
    pub outcome: Outcome<ObjectId, RegionId>,
    /// Objects that changed home, in the order their new homes join the
    /// object table.
    pub moved: Vec<ObjectId>,
    /// Objects destroyed, with their last state.
    pub destroyed: Vec<Destroyed>,
    /// What a `SerializeRoundTrip` copied, original → copy.
    pub copied: Option<crate::model::Copied>,
    /// The token an `AllocTyped` value carries, or the first token of the
    /// elements of a tracked `AllocSlice` (element `i` carries `token + i`).
    pub token: Option<u64>,
    /// Regions whose state the op may have changed or read (operands, their
    /// parents and children, homes of object operands, new homes).
    pub touched_regions: IdSet<RegionId>,
    /// Objects the op may have changed or read (operands, moved objects).
    pub touched_objects: IdSet<ObjectId>,
    /// Whether an operand was unknown to the driver (a fabricated handle
    /// that named nothing it had seen).
    pub had_unknown_operand: bool,
    /// Whether the op was a promotion refused by the budget of a target
    /// that already held objects (its budget check must count them).
    pub refused_by_an_occupied_budget: bool,
    /// Whether the op was an `unstore` of a moved object while its
    /// container also stored another object of the same region (the record
    /// must be matched by object, not by region).
    pub unstored_beside_a_neighbour: bool,
}

impl Prediction {
    /// A prediction of `outcome` with nothing moved, destroyed or touched.
    fn new(outcome: Outcome<ObjectId, RegionId>) -> Self {
        Prediction {
            outcome,
            moved: Vec::new(),
            destroyed: Vec::new(),
            copied: None,
            token: None,
            touched_regions: IdSet::new(),
            touched_objects: IdSet::new(),
            had_unknown_operand: false,
            refused_by_an_occupied_budget: false,
            unstored_beside_a_neighbour: false,
        }
    }
}

/// The reference model plus the operand tables, in model identities.
#[derive(Clone, Debug)]
pub struct Reference {
    model: Model,
    /// Every region handle seen, in order; index 0 is the root.
    regions: Vec<RegionId>,
    /// Every object handle seen, in order, as the object it names. An object
    /// appears once per handle it had (allocation, then each new home).
    objects: Vec<ObjectId>,
    /// Every weak handle `downgrade` returned, as the object it names.
    weaks: Vec<ObjectId>,
    /// Tokens issued to `AllocTyped` values and tracked slice elements so far.
    tokens_issued: u64,
    /// Deepest region seen (the root is depth 0).
    max_region_depth: usize,
}

impl Default for Reference {
    fn default() -> Self {
        Self::new()
    }
}

impl Reference {
    /// A fresh model with the root as the only region handle seen.
    pub fn new() -> Self {
        let model = Model::new();
        let root = model.root();
        Reference {
            model,
            regions: vec![root],
            objects: Vec::new(),
            weaks: Vec::new(),
            tokens_issued: 0,
            max_region_depth: 0,
        }
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model, for the driver's last act: dropping its registry.
    pub(crate) fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    /// The lengths of the operand tables.
    pub fn table_lens(&self) -> TableLens {
        TableLens {
            regions: self.regions.len(),
            objects: self.objects.len(),
            weaks: self.weaks.len(),
        }
    }

    /// The deepest region seen so far (the root is depth 0).
    pub fn max_region_depth(&self) -> usize {
        self.max_region_depth
    }

    /// Applies `op` to the model alone, resolving fabricated handles as
    /// unknown (see the module documentation).
    pub fn apply(&mut self, op: &Op) {
        let model_op = op.map_operands(
            |r| self.own_region(r),
            |o| self.own_object(o),
            |w| match w {
                WeakRef::Weak(i) => pick(&self.weaks, *i).unwrap_or(UNKNOWN_OBJECT),
                WeakRef::WeakOf(o) => self.own_object(o),
            },
        );
        self.predict(&model_op);
    }

    fn own_region(&self, r: &RegionRef) -> RegionId {
        match r {
            RegionRef::Root => self.model.root(),
            RegionRef::Region(i) => pick(&self.regions, *i).unwrap_or(UNKNOWN_REGION),
            RegionRef::FakeRegion { .. } => UNKNOWN_REGION,
        }
    }

    fn own_object(&self, o: &ObjectRef) -> ObjectId {
        match o {
            ObjectRef::Object(i) => pick(&self.objects, *i).unwrap_or(UNKNOWN_OBJECT),
            ObjectRef::FakeObject { .. } => UNKNOWN_OBJECT,
        }
    }

    /// The region table entries from `start` on.
    pub(crate) fn regions_from(&self, start: usize) -> &[RegionId] {
        &self.regions[start..]
    }

    /// The object table entries from `start` on.
    pub(crate) fn objects_from(&self, start: usize) -> &[ObjectId] {
        &self.objects[start..]
    }

    /// The token the next typed value (or the first element of the next
    /// tracked slice) will carry.
    pub(crate) fn next_token(&self) -> u64 {
        self.tokens_issued
    }

    /// What `op` must have done if it failed with `outcome` (an injected
    /// allocation failure): nothing. The model is not touched.
    pub(crate) fn refused(&self, op: &ModelOp, outcome: Outcome<ObjectId, RegionId>) -> Prediction {
        let mut prediction = Prediction::new(outcome);
        self.note_operands(op, &mut prediction);
        prediction
    }

    /// The model's part of running `op`: applies it, grows the tables, and
    /// says what should have happened.
    pub(crate) fn predict(&mut self, op: &ModelOp) -> Prediction {
        let mut prediction = Prediction::new(Outcome::Done(Ok(())));
        let regions_before = self.regions.len();
        self.note_operands(op, &mut prediction);
        prediction.outcome = self.run(op, &mut prediction);
        prediction.destroyed = self.model.take_destroyed_states();
        for &o in &prediction.moved {
            self.objects.push(o);
            prediction.touched_objects.insert(o);
            if let Some(state) = self.model.object(o) {
                prediction.touched_regions.insert(state.home);
            }
        }
        // Only a new region can be deeper than every region before it (a
        // death moves children up, never down).
        let created = &self.regions[regions_before..];
        let deepest = created.iter().map(|&r| self.depth(r)).max();
        self.max_region_depth = self.max_region_depth.max(deepest.unwrap_or(0));
        prediction
    }

    /// Records the operands (and what hangs off them) as touched.
    fn note_operands(&self, op: &ModelOp, prediction: &mut Prediction) {
        // Walked in place: `Op::operands` would build a list on every op.
        let mut regions = IdSet::new();
        let objects = RefCell::new(IdSet::new());
        op.map_operands(
            |&r| regions.insert(r),
            |&o| objects.borrow_mut().insert(o),
            |&o| objects.borrow_mut().insert(o),
        );
        let objects = objects.into_inner();
        let unknown = regions.contains(&UNKNOWN_REGION) || objects.contains(&UNKNOWN_OBJECT);
        for o in objects.iter() {
            if let Some(state) = self.model.object(o) {
                regions.insert(state.home);
            }
        }
        // Only a region's death changes its neighbours: its parent loses a
        // child, its children move up. (A birth changes only the parent,
        // which is an operand, and the new region, which is added when it
        // is created.)
        if let Op::ReleaseRegion { region } = *op {
            if let Some(state) = self.model.region(region) {
                regions.extend(state.parent);
                regions.extend(state.children.iter().copied());
            }
        }
        prediction.touched_regions = regions;
        prediction.touched_objects = objects;
        prediction.had_unknown_operand = unknown;
    }

    /// Runs `op` on the model; pushes new table entries (moved objects are
    /// pushed by the caller, after this).
    fn run(&mut self, op: &ModelOp, prediction: &mut Prediction) -> Outcome<ObjectId, RegionId> {
        let m = &mut self.model;
        match *op {
            Op::CreateRegion { parent } => {
                let created = m.create_region(parent);
                self.created_region(created, prediction)
            }
            Op::CreateRegionWithBudget { parent, budget } => {
                let created = m.create_region_with_budget(parent, usize::from(budget));
                self.created_region(created, prediction)
            }
            // Capacity and first block size are not observable.
            Op::BuildRegion { parent, budget, .. } => {
                let created = match budget {
                    Some(budget) => m.create_region_with_budget(parent, usize::from(budget)),
                    None => m.create_region(parent),
                };
                self.created_region(created, prediction)
            }
            Op::Unstore { container, object } => {
                let moved_home = m
                    .object(object)
                    .filter(|state| state.promotions > 0)
                    .map(|state| state.home);
                let neighbour = m.stored_in(container).is_ok_and(|stored| {
                    stored.iter().any(|&other| {
                        other != object && m.object(other).map(|s| s.home) == moved_home
                    })
                });
                let unstored = m.unstore(container, object);
                prediction.unstored_beside_a_neighbour =
                    unstored.is_ok() && moved_home.is_some() && neighbour;
                Outcome::Done(unstored.map_err(Into::into))
            }
            Op::SerializeRoundTrip { region, parent } => {
                let copied = m.serialize_round_trip(region, parent, super::typed::stream_type);
                if let Ok(copied) = &copied {
                    let new_regions = copied.regions.iter().map(|&(_, new)| new);
                    self.regions.extend(new_regions.clone());
                    prediction.touched_regions.extend(new_regions);
                    let new_objects = copied.objects.iter().map(|&(_, new)| new);
                    self.objects.extend(new_objects.clone());
                    prediction.touched_objects.extend(new_objects);
                }
                let root = copied
                    .as_ref()
                    .map(|copied| copied.root)
                    .map_err(|e| (*e).into());
                prediction.copied = copied.ok();
                Outcome::Region(root)
            }
            Op::Identify { object, other } => self.identify(object, other),
            Op::AllocConvenient { region, how } => self.run_convenient(region, how, prediction),
            Op::Iterate { region, what } => self.run_iteration(region, what, prediction),
            Op::RegisterPanickingDestructor { tag } => {
                Outcome::Done(m.register_panicking_destructor(tag).map_err(Into::into))
            }
            Op::SaturateCounts { object } => {
                Outcome::Done(m.saturate_counts(object).map_err(Into::into))
            }
            Op::SaturateRegionRefcount { region } => {
                Outcome::Done(m.saturate_region_refcount(region).map_err(Into::into))
            }
            Op::AllocOversized { region, what } => match what {
                Oversized::Slice(kind) => {
                    let info = kind.info();
                    let size = oversized_len(info.element_size) * info.element_size;
                    let refused = m
                        .check_typed_allocation(region, size, info.align)
                        .expect_err("a slice above MAX_OBJECT_SIZE is never allocated");
                    Outcome::Object(Err(refused.into()))
                }
                Oversized::Bulk { count } => {
                    let size = MAX_OBJECT_SIZE + 1;
                    let allocated = m.alloc_bulk(region, size, 1, 0, usize::from(count), &[]);
                    assert!(
                        allocated.is_err(),
                        "an oversized bulk allocation is refused"
                    );
                    Outcome::Objects(allocated.map_err(Into::into))
                }
            },
            // Which op meets the failure depends on the core's memory, so
            // the driver learns it from the core (see `Driver::step`).
            Op::InjectAllocFailure { .. } | Op::Configure { .. } => Outcome::Done(Ok(())),
            Op::SetBudget { budget } => {
                m.set_budget(budget.map(usize::from));
                Outcome::Done(Ok(()))
            }
            Op::RetainRegion { region } => {
                Outcome::Done(m.retain_region(region).map_err(Into::into))
            }
            Op::ReleaseRegion { region } => {
                let homed: Vec<ObjectId> = m.objects_in(region).map(|(o, _)| o).collect();
                // Its death gives back what it stored: those counts change.
                if let Some(state) = m.region(region) {
                    prediction
                        .touched_objects
                        .extend(state.stored.iter().copied());
                }
                let died = m.release_region(region);
                if died == Ok(true) {
                    prediction.moved = homed
                        .into_iter()
                        .filter(|&o| m.object(o).is_some())
                        .collect();
                }
                Outcome::Flag(died.map_err(Into::into))
            }
            Op::WithRegion { parent, size, keep } => {
                let scoped = self.run_scope(parent, usize::from(size), keep, prediction);
                Outcome::Scoped(scoped.map_err(Into::into))
            }
            Op::Alloc {
                region,
                size,
                align_log2,
                tag,
                fill,
                mismatched_len,
            } => {
                let size = usize::from(size);
                let bytes = pattern(fill, size + usize::from(mismatched_len));
                let allocated = m.alloc(region, size, align_of_log2(align_log2), &bytes, tag);
                self.objects.extend(allocated.iter().copied());
                Outcome::Object(allocated.map_err(Into::into))
            }
            Op::AllocTyped {
                region,
                kind,
                payload,
            } => {
                let token = self.tokens_issued;
                self.tokens_issued += 1;
                prediction.token = Some(token);
                let info = kind.info();
                let bytes = kind.model_bytes(token, payload);
                let allocated = m.alloc_typed(
                    region,
                    info.size,
                    info.align,
                    &bytes,
                    info.tag,
                    info.needs_drop,
                );
                self.objects.extend(allocated.iter().copied());
                Outcome::Object(allocated.map_err(Into::into))
            }
            Op::Get { object } => {
                Outcome::Bytes(m.get(object).map(<[u8]>::to_vec).map_err(Into::into))
            }
            Op::Write {
                object,
                offset,
                len,
                fill,
            } => Outcome::Done(
                m.write(
                    object,
                    usize::from(offset),
                    &pattern(fill, usize::from(len)),
                )
                .map_err(Into::into),
            ),
            Op::GetTyped { object, kind } => {
                let bytes = m.get_typed(object, kind.info().tag).map(<[u8]>::to_vec);
                Outcome::Bytes(bytes.map_err(Into::into))
            }
            Op::SetTyped {
                object,
                kind,
                payload,
            } => {
                let tag = kind.info().tag;
                let written = m.get_typed(object, tag).map(|bytes| {
                    let token = if kind.info().tracked {
                        super::typed::first_word(bytes)
                    } else {
                        0
                    };
                    kind.model_bytes(token, payload)
                });
                Outcome::Done(
                    written
                        .and_then(|bytes| m.write_typed(object, tag, &bytes))
                        .map_err(Into::into),
                )
            }
            Op::Free { object } => Outcome::Done(m.free(object).map_err(Into::into)),
            Op::Retain { object } => Outcome::Done(m.retain(object).map_err(Into::into)),
            Op::Release { object } => Outcome::Done(m.release(object).map_err(Into::into)),
            Op::StoreHandle { container, object } => {
                Outcome::Flag(m.store_handle(container, object).map_err(Into::into))
            }
            Op::Downgrade { object } => {
                let downgraded = m.downgrade(object).map(|()| object);
                self.weaks.extend(downgraded.iter().copied());
                Outcome::Weak(downgraded.map_err(Into::into))
            }
            Op::Upgrade { weak } => Outcome::Upgraded(m.upgrade(weak)),
            Op::DropWeak { weak } => Outcome::Done(m.drop_weak(weak).map_err(Into::into)),
            Op::Promote { object, target } => {
                let home = m.object(object).map(|state| state.home);
                let promoted = m.promote(object, target).map(|()| object);
                if promoted.is_ok() && home != Some(target) {
                    prediction.moved = vec![object];
                }
                prediction.refused_by_an_occupied_budget = promoted
                    == Err(ModelError::BudgetExceeded)
                    && m.region_object_count(target) > 0;
                Outcome::Object(promoted.map_err(Into::into))
            }
            Op::Resolve { object } => Outcome::Object(m.resolve(object).map_err(Into::into)),
            Op::RegionOf { object } => Outcome::Region(m.region_of(object).map_err(Into::into)),
            Op::RegisterDestructor { tag } => {
                Outcome::Done(m.register_destructor(tag).map_err(Into::into))
            }
            Op::InspectObject { object } => Outcome::ObjectInfo(self.object_queries(object)),
            Op::InspectRegion { region } => Outcome::RegionInfo(self.region_queries(region)),
            Op::Compact { region, .. } => {
                let compacted = m.compact(region);
                // Nothing may change: every object of the region is compared.
                if compacted.is_ok() {
                    let homed = m.objects_in(region).map(|(o, _)| o);
                    prediction.touched_objects.extend(homed);
                }
                Outcome::Done(compacted.map_err(Into::into))
            }
            Op::AllocSlice {
                region,
                kind,
                len,
                payload,
            } => {
                let info = kind.info();
                let len = usize::from(len);
                let first_token = self.tokens_issued;
                if info.tracked {
                    self.tokens_issued += len as u64;
                    prediction.token = Some(first_token);
                }
                let bytes = kind.model_bytes(len, first_token, payload);
                let allocated = m.alloc_typed(
                    region,
                    len * info.element_size,
                    info.align,
                    &bytes,
                    info.tag,
                    info.needs_drop,
                );
                self.objects.extend(allocated.iter().copied());
                prediction.touched_objects.extend(allocated.iter().copied());
                Outcome::Object(allocated.map_err(Into::into))
            }
            Op::GetSlice { object, kind } => {
                let bytes = m.get_typed(object, kind.info().tag).map(<[u8]>::to_vec);
                Outcome::Bytes(bytes.map_err(Into::into))
            }
            Op::AllocBulk {
                region,
                size,
                align_log2,
                tag,
                count,
                fill,
                mismatched_len,
            } => {
                let (size, count) = (usize::from(size), usize::from(count));
                let bytes = bulk_bytes(fill, size, count, mismatched_len);
                let align = align_of_log2(align_log2);
                let allocated = m.alloc_bulk(region, size, align, tag, count, &bytes);
                if let Ok(ids) = &allocated {
                    self.objects.extend(ids.iter().copied());
                    prediction.touched_objects.extend(ids.iter().copied());
                }
                Outcome::Objects(allocated.map_err(Into::into))
            }
        }
    }

    /// `with_region(parent, body)`: create, allocate (and maybe retain) one
    /// object, release.
    /// The outcome of a region creation; a new region joins the table.
    fn created_region(
        &mut self,
        created: Result<RegionId, ModelError>,
        prediction: &mut Prediction,
    ) -> Outcome<ObjectId, RegionId> {
        if let Ok(r) = created {
            self.regions.push(r);
            prediction.touched_regions.insert(r);
        }
        Outcome::Region(created.map_err(Into::into))
    }

    fn run_scope(
        &mut self,
        parent: RegionId,
        size: usize,
        keep: bool,
        prediction: &mut Prediction,
    ) -> Result<(RegionId, ObjectId), ModelError> {
        let m = &mut self.model;
        let scoped = m.create_region(parent)?;
        let bytes = pattern(SCOPED_FILL, size);
        let allocated = m.alloc(scoped, size, SCOPED_ALIGN, &bytes, SCOPED_TAG);
        if let (Ok(object), true) = (allocated, keep) {
            m.retain(object)?;
        }
        // `with_region` releases the region whatever the body returns.
        let died = m.release_region(scoped)?;
        assert!(died, "a scoped region holds only the body's reference");
        // A failed body returns no handle, so the driver never sees the
        // scoped region's: it joins the table only on success.
        let object = allocated?;
        self.regions.push(scoped);
        if keep {
            prediction.moved = vec![object];
        }
        prediction.touched_objects.insert(object);
        Ok((scoped, object))
    }

    fn object_queries(&self, o: ObjectId) -> ObjectQueries<RegionId> {
        let state = self.model.object(o);
        let stale = ModelError::StaleHandle;
        ObjectQueries {
            tag: query(state, stale, |s| s.tag),
            layout: query(state, stale, |s| (s.size, s.align)),
            strong: query(state, stale, |s| s.strong),
            weak: query(state, stale, |s| s.weak),
            region: query(state, stale, |s| s.home),
        }
    }

    fn region_queries(&self, r: RegionId) -> RegionQueries<RegionId, ObjectId> {
        let state = self.model.region(r);
        let invalid = ModelError::InvalidRegion;
        let homed = || self.model.objects_in(r).map(|(o, _)| o);
        RegionQueries {
            alive: state.is_some(),
            refcount: query(state, invalid, |s| s.refcount),
            parent: query(state, invalid, |s| s.parent),
            children: query(state, invalid, |s| s.children.clone()),
            object_count: query(state, invalid, |_| homed().count()),
            objects: query(state, invalid, |_| homed().collect()),
            stored: self
                .model
                .stored_in(r)
                .map(|stored| super::sorted(stored.into_iter()))
                .map_err(Into::into),
        }
    }

    /// Depth of the deepest live region.
    /// How many parents `r` has (0 for the root and for dead regions).
    fn depth(&self, mut r: RegionId) -> usize {
        let mut depth = 0;
        while let Some(parent) = self.model.region(r).and_then(|s| s.parent) {
            depth += 1;
            r = parent;
        }
        depth
    }
}

/// `f` of a live thing's state, or the error for a dead one.
fn query<S, T>(state: Option<&S>, missing: ModelError, f: impl FnOnce(&S) -> T) -> Res<T> {
    state.map(f).ok_or(missing.into())
}

/// Entry `index` of `table`, modulo its length; `None` if it is empty.
pub(crate) fn pick<T: Copy>(table: &[T], index: u16) -> Option<T> {
    (!table.is_empty()).then(|| table[usize::from(index) % table.len()])
}

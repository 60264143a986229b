//! Object operations: `docs/SEMANTICS.md` "Objects".

use super::{Model, ModelError, ObjectId, ObjectState, RegionId};
use super::{MAX_ALIGN, MAX_OBJECT_SIZE, TYPED_TAG_BIT};
use std::collections::BTreeSet;

impl Model {
    /// Raw `alloc(region, layout, bytes, type_tag)`: a new object homed in
    /// `region` whose contents are exactly `bytes`, with "strong count 0,
    /// weak count 0 on creation".
    ///
    /// Errors, in order (SEMANTICS.md): `InvalidRegion` (region not live) →
    /// `ReservedTypeTag` (tag has the top bit set) → `SizeMismatch`
    /// (`bytes.len() != size`) → `SizeOverflow` (`size > MAX_OBJECT_SIZE`) →
    /// `UnsupportedAlignment` (`align > MAX_ALIGN`, or not a power of two:
    /// module decision 3) → `BudgetExceeded` (decision 1). `OutOfMemory` is
    /// never predicted (decision 2).
    pub fn alloc(
        &mut self,
        region: RegionId,
        size: usize,
        align: usize,
        bytes: &[u8],
        tag: u64,
    ) -> Result<ObjectId, ModelError> {
        self.check_raw_allocation(region, size, align, bytes.len(), tag)?;
        Ok(self.insert_object(region, align, bytes, tag, false, false))
    }

    /// The checks of [`Model::alloc`], in order, without allocating: what a
    /// raw allocation of `size` bytes given `len` bytes would fail with.
    /// `alloc_with` makes these checks before it calls its closure; if the
    /// closure panics, no object exists (SEMANTICS.md "Convenience
    /// allocation").
    pub fn check_raw_allocation(
        &self,
        region: RegionId,
        size: usize,
        align: usize,
        len: usize,
        tag: u64,
    ) -> Result<(), ModelError> {
        self.live_region(region)?;
        if tag & TYPED_TAG_BIT != 0 {
            return Err(ModelError::ReservedTypeTag);
        }
        if len != size {
            return Err(ModelError::SizeMismatch);
        }
        check_size(size)?;
        check_align(align)?;
        self.check_budget(region, size)
    }

    /// Typed `alloc::<T>(region, value)`: like [`Model::alloc`], but the
    /// object is typed. `tag` must already have [`TYPED_TAG_BIT`] set and
    /// `bytes.len()` must equal `size` (a value always has its type's size);
    /// breaking either is a caller bug and panics (module decision 4).
    /// `needs_drop` says whether destroying it runs drop glue ("Typed
    /// allocations register `drop_in_place::<T>` automatically when
    /// `needs_drop::<T>()`").
    ///
    /// Errors, in order (SEMANTICS.md): `InvalidRegion` →
    /// `UnsupportedAlignment` → `SizeOverflow` (decision 4: alignment is
    /// checked first) → `BudgetExceeded`. `OutOfMemory` is never predicted.
    pub fn alloc_typed(
        &mut self,
        region: RegionId,
        size: usize,
        align: usize,
        bytes: &[u8],
        tag: u64,
        needs_drop: bool,
    ) -> Result<ObjectId, ModelError> {
        assert!(
            tag & TYPED_TAG_BIT != 0,
            "alloc_typed: tag {tag:#x} is not typed"
        );
        assert_eq!(
            bytes.len(),
            size,
            "alloc_typed: value bytes differ from size"
        );
        self.check_typed_allocation(region, size, align)?;
        Ok(self.insert_object(region, align, bytes, tag, true, needs_drop))
    }

    /// The checks of [`Model::alloc_typed`], in order, without allocating:
    /// what a typed allocation of `size` bytes would fail with (used alone
    /// for sizes too large to build a value of).
    pub fn check_typed_allocation(
        &self,
        region: RegionId,
        size: usize,
        align: usize,
    ) -> Result<(), ModelError> {
        self.live_region(region)?;
        check_align(align)?;
        check_size(size)?;
        self.check_budget(region, size)
    }

    /// Raw `alloc_bulk(region, layout, tag, count, bytes)`: `count` new raw
    /// objects of `size` bytes aligned to `align`, homed in `region`, with
    /// raw `tag`; "object `i` holds `bytes[i*size..(i+1)*size]`", each with
    /// strong count 0 and weak count 0. "All or nothing": on `Err` no object
    /// was allocated. Returns the new ids in order (module decision 12);
    /// "`count == 0` returns `Ok(vec![])`" once the checks pass.
    ///
    /// Errors, in order: `InvalidRegion` (region not live) →
    /// `ReservedTypeTag` (tag has the top bit set) → `SizeMismatch`
    /// (`bytes.len() != count * size`, a product that overflows included) →
    /// `SizeOverflow` (`size > MAX_OBJECT_SIZE`) → `UnsupportedAlignment`
    /// (as in [`Model::alloc`], decision 3) → `BudgetExceeded` (decision 12:
    /// the sum of the sizes). `OutOfMemory` is never predicted (decision 2).
    pub fn alloc_bulk(
        &mut self,
        region: RegionId,
        size: usize,
        align: usize,
        tag: u64,
        count: usize,
        bytes: &[u8],
    ) -> Result<Vec<ObjectId>, ModelError> {
        self.live_region(region)?;
        if tag & TYPED_TAG_BIT != 0 {
            return Err(ModelError::ReservedTypeTag);
        }
        let total = count.checked_mul(size);
        if total != Some(bytes.len()) {
            return Err(ModelError::SizeMismatch);
        }
        check_size(size)?;
        check_align(align)?;
        self.check_budget(region, bytes.len())?;
        let ids = (0..count)
            .map(|i| {
                let contents = &bytes[i * size..(i + 1) * size];
                self.insert_object(region, align, contents, tag, false, false)
            })
            .collect();
        Ok(ids)
    }

    /// `get(h)` (bytes): the object's bytes.
    ///
    /// Errors, in order: `StaleHandle` → `TypeMismatch` ("byte access to a
    /// typed object is `TypeMismatch`").
    pub fn get(&self, o: ObjectId) -> Result<&[u8], ModelError> {
        let state = self.live_object(o)?;
        if state.typed {
            return Err(ModelError::TypeMismatch);
        }
        Ok(&state.bytes)
    }

    /// `get_mut(h)` followed by copying `data` to `offset`: bytes that would
    /// land at or past the object's size are ignored (module decision 10).
    ///
    /// Errors, in order: `StaleHandle` → `TypeMismatch` (typed object).
    pub fn write(&mut self, o: ObjectId, offset: usize, data: &[u8]) -> Result<(), ModelError> {
        self.get(o)?;
        let bytes = &mut self.live_object_mut(o).bytes;
        if offset >= bytes.len() {
            return Ok(());
        }
        let len = data.len().min(bytes.len() - offset);
        bytes[offset..offset + len].copy_from_slice(&data[..len]);
        Ok(())
    }

    /// `get_typed::<T>(h)`: the object's bytes if it is typed with exactly
    /// `tag` ("typed `get::<T>` checks the type tag").
    ///
    /// Errors, in order: `StaleHandle` → `TypeMismatch` (raw object, or a
    /// typed object with another tag).
    pub fn get_typed(&self, o: ObjectId, tag: u64) -> Result<&[u8], ModelError> {
        let state = self.live_object(o)?;
        if !state.typed || state.tag != tag {
            return Err(ModelError::TypeMismatch);
        }
        Ok(&state.bytes)
    }

    /// `get_typed_mut::<T>(h)` followed by storing a new value of `T`: the
    /// object's bytes become `bytes` (the new value's bytes, so `bytes.len()`
    /// must equal the object's size; anything else is a caller bug and
    /// panics, as in [`Model::alloc_typed`]).
    ///
    /// Errors, in order: `StaleHandle` → `TypeMismatch` (raw object, or a
    /// typed object with another tag).
    pub fn write_typed(&mut self, o: ObjectId, tag: u64, bytes: &[u8]) -> Result<(), ModelError> {
        let size = self.get_typed(o, tag)?.len();
        assert_eq!(
            bytes.len(),
            size,
            "write_typed: value bytes differ from size"
        );
        self.live_object_mut(o).bytes = bytes.to_vec();
        Ok(())
    }

    /// `free(h)`: "destroys the object now (destructor once), via any handle
    /// that resolves to it; afterwards every handle to it is invalid. A
    /// second free is `Err`." It destroys the object "whatever its strong
    /// and weak counts are".
    ///
    /// Errors: `StaleHandle`.
    pub fn free(&mut self, o: ObjectId) -> Result<(), ModelError> {
        self.live_object(o)?;
        self.destroy(o);
        self.counters.frees += 1;
        Ok(())
    }

    /// `retain(h)`: strong count +1.
    ///
    /// Errors, in order: `StaleHandle` → `RefcountOverflow`.
    pub fn retain(&mut self, o: ObjectId) -> Result<(), ModelError> {
        let strong = self.live_object(o)?.strong;
        let strong = strong.checked_add(1).ok_or(ModelError::RefcountOverflow)?;
        self.live_object_mut(o).strong = strong;
        Ok(())
    }

    /// `release(h)`: strong count -1. "`release` to 0 does **not** destroy
    /// the object."
    ///
    /// Errors, in order: `StaleHandle` → `RefcountUnderflow` (strong is 0).
    pub fn release(&mut self, o: ObjectId) -> Result<(), ModelError> {
        let strong = self.live_object(o)?.strong;
        let strong = strong.checked_sub(1).ok_or(ModelError::RefcountUnderflow)?;
        self.live_object_mut(o).strong = strong;
        Ok(())
    }

    /// Write barrier `store_handle(container, h)`: "if the object's current
    /// home is not `container`, its strong count is incremented, the
    /// registry records that `container` holds that reference, and the
    /// result is `Ok(true)`; otherwise nothing changes and the result is
    /// `Ok(false)`" (so `Ok(false)` cannot overflow; module decision 9).
    ///
    /// Errors, in order: `InvalidRegion` (container) → `StaleHandle` →
    /// `RefcountOverflow`.
    pub fn store_handle(&mut self, container: RegionId, o: ObjectId) -> Result<bool, ModelError> {
        self.live_region(container)?;
        if self.live_object(o)?.home == container {
            return Ok(false);
        }
        self.retain(o)?;
        self.regions
            .get_mut(&container)
            .expect("checked above")
            .stored
            .push(o);
        Ok(true)
    }

    /// `unstore(container, h)`: "releases one stored reference: the
    /// object's strong count goes down by one and one record of
    /// `(container, object)` goes".
    ///
    /// Errors, in order: `InvalidRegion` (container) → `StaleHandle` →
    /// `NotStored` (no record) → `RefcountUnderflow` (the count was
    /// released to 0 by hand).
    pub fn unstore(&mut self, container: RegionId, o: ObjectId) -> Result<(), ModelError> {
        let records = &self.live_region(container)?.stored;
        self.live_object(o)?;
        let index = records
            .iter()
            .position(|&stored| stored == o)
            .ok_or(ModelError::NotStored)?;
        self.release(o)?;
        self.regions
            .get_mut(&container)
            .expect("checked above")
            .stored
            .remove(index);
        self.reach.unstores += 1;
        Ok(())
    }

    /// `stored_in(container)`: the live objects `container` holds stored
    /// references to, one entry per reference.
    ///
    /// Errors: `InvalidRegion`.
    pub fn stored_in(&self, container: RegionId) -> Result<Vec<ObjectId>, ModelError> {
        let records = &self.live_region(container)?.stored;
        Ok(records
            .iter()
            .copied()
            .filter(|o| self.objects.contains_key(o))
            .collect())
    }

    /// `downgrade(h)`: "increments the weak count and returns a weak handle
    /// naming the object" (in the model the weak handle is the object id).
    ///
    /// Errors, in order: `StaleHandle` → `RefcountOverflow`.
    pub fn downgrade(&mut self, o: ObjectId) -> Result<(), ModelError> {
        let weak = self.live_object(o)?.weak;
        let weak = weak.checked_add(1).ok_or(ModelError::RefcountOverflow)?;
        self.live_object_mut(o).weak = weak;
        Ok(())
    }

    /// `upgrade(w)`: "returns the object's current home handle if it is
    /// alive, `None` otherwise, and changes no count". Weak references never
    /// keep an object alive.
    pub fn upgrade(&self, o: ObjectId) -> Option<ObjectId> {
        self.objects.get(&o).map(|_| o)
    }

    /// `drop_weak(w)`: "decrements the weak count of its object; a weak
    /// handle whose object is gone (or that names nothing) is simply
    /// dropped: `Ok`, nothing changes".
    ///
    /// Errors: `RefcountUnderflow` (weak is 0).
    pub fn drop_weak(&mut self, o: ObjectId) -> Result<(), ModelError> {
        let Ok(state) = self.live_object(o) else {
            return Ok(());
        };
        let weak = state.weak;
        let weak = weak.checked_sub(1).ok_or(ModelError::RefcountUnderflow)?;
        self.live_object_mut(o).weak = weak;
        Ok(())
    }

    /// `promote(h, target)`: manual promotion (move) "to any live region,
    /// including a descendant of its home"; contents, type and counts are
    /// kept and the identity is unchanged. "If the object already lives in
    /// `target`, it is a no-op" (not counted in [`super::Reach`]; module
    /// decision 8).
    ///
    /// Errors, in order: `StaleHandle` → `InvalidRegion` (target) →
    /// `BudgetExceeded` (the target region's own budget only: "the payload
    /// of the registry does not change"; SEMANTICS.md "Budgets").
    /// `OutOfMemory` is never predicted.
    pub fn promote(&mut self, o: ObjectId, target: RegionId) -> Result<(), ModelError> {
        let object = self.live_object(o)?;
        let (home, size) = (object.home, object.size);
        self.live_region(target)?;
        if home == target {
            return Ok(());
        }
        self.check_region_budget(target, size)?;
        self.move_object(o, target);
        self.reach.manual_promotions += 1;
        self.counters.manual_promotions += 1;
        Ok(())
    }

    /// Test hook `set_counts_for_testing(h, u32::MAX - 1, u32::MAX - 1)`:
    /// both counts one below the maximum, so that the next `retain` (or
    /// `downgrade`) succeeds and the one after overflows.
    ///
    /// Errors: `StaleHandle`.
    pub fn saturate_counts(&mut self, o: ObjectId) -> Result<(), ModelError> {
        self.live_object(o)?;
        let state = self.live_object_mut(o);
        state.strong = u32::MAX - 1;
        state.weak = u32::MAX - 1;
        Ok(())
    }

    /// `resolve(h)`: the current home handle. The model's identity never
    /// changes, so this is `o` itself while the object is alive.
    ///
    /// Errors: `StaleHandle`.
    pub fn resolve(&self, o: ObjectId) -> Result<ObjectId, ModelError> {
        self.live_object(o)?;
        Ok(o)
    }

    /// `region_of(h)`: the object's current home region.
    ///
    /// Errors: `StaleHandle`.
    pub fn region_of(&self, o: ObjectId) -> Result<RegionId, ModelError> {
        Ok(self.live_object(o)?.home)
    }

    /// The state of `o`, or `StaleHandle` if it is not live.
    fn live_object(&self, o: ObjectId) -> Result<&ObjectState, ModelError> {
        self.objects.get(&o).ok_or(ModelError::StaleHandle)
    }

    /// Mutable state of an object the caller already checked is live.
    fn live_object_mut(&mut self, o: ObjectId) -> &mut ObjectState {
        self.objects.get_mut(&o).expect("object is live")
    }

    /// `BudgetExceeded` if `size` more payload bytes in live `region` would
    /// exceed the registry-wide budget (module decision 1) or the region's
    /// own (SEMANTICS.md "Budgets"): the registry's is checked first.
    fn check_budget(&self, region: RegionId, size: usize) -> Result<(), ModelError> {
        within(self.budget, self.live_bytes(), size)?;
        self.check_region_budget(region, size)
    }

    /// `BudgetExceeded` if `size` more payload bytes homed in live `region`
    /// would exceed its own budget.
    fn check_region_budget(&self, region: RegionId, size: usize) -> Result<(), ModelError> {
        let budget = self.live_region(region)?.budget;
        within(budget, self.region_payload(region), size)
    }

    /// Adds a new object with a fresh, never-reused id.
    pub(super) fn insert_object(
        &mut self,
        home: RegionId,
        align: usize,
        bytes: &[u8],
        tag: u64,
        typed: bool,
        needs_drop: bool,
    ) -> ObjectId {
        let id = ObjectId(self.next_object);
        self.next_object += 1;
        let state = ObjectState {
            home,
            size: bytes.len(),
            align,
            bytes: bytes.to_vec(),
            tag,
            typed,
            strong: 0,
            weak: 0,
            needs_drop,
            promotions: 0,
            left_homes: BTreeSet::new(),
        };
        self.index.add(id, &state);
        self.objects.insert(id, state);
        let peak = &mut self.reach.peak_live_objects;
        *peak = (*peak).max(self.objects.len());
        let live_bytes = self.live_bytes() as u64;
        let counters = &mut self.counters;
        counters.allocations += 1;
        counters.peak_objects = counters.peak_objects.max(self.objects.len() as u64);
        counters.peak_payload_bytes = counters.peak_payload_bytes.max(live_bytes);
        id
    }
}

/// `BudgetExceeded` if `used + size` exceeds `budget` (reaching it exactly
/// is allowed; no budget admits everything).
fn within(budget: Option<usize>, used: usize, size: usize) -> Result<(), ModelError> {
    match (budget, used.checked_add(size)) {
        (None, _) => Ok(()),
        (Some(budget), Some(total)) if total <= budget => Ok(()),
        _ => Err(ModelError::BudgetExceeded),
    }
}

/// `SizeOverflow` if `size > MAX_OBJECT_SIZE`.
fn check_size(size: usize) -> Result<(), ModelError> {
    if size > MAX_OBJECT_SIZE {
        return Err(ModelError::SizeOverflow);
    }
    Ok(())
}

/// `UnsupportedAlignment` unless `align` is a power of two `<= MAX_ALIGN`.
fn check_align(align: usize) -> Result<(), ModelError> {
    if !align.is_power_of_two() || align > MAX_ALIGN {
        return Err(ModelError::UnsupportedAlignment);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_fails_unchanged, raw};
    use super::super::ModelError::*;
    use super::*;

    const TYPED: u64 = TYPED_TAG_BIT | 1;
    const OTHER_TYPED: u64 = TYPED_TAG_BIT | 2;

    /// A zeroed buffer one byte longer than `MAX_OBJECT_SIZE`. It is
    /// allocated with `alloc_zeroed`, so its pages are never touched here.
    #[cfg(target_pointer_width = "64")]
    fn oversized() -> Vec<u8> {
        vec![0; MAX_OBJECT_SIZE + 1]
    }

    fn model_with_region() -> (Model, RegionId) {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        (m, a)
    }

    #[test]
    fn alloc_stores_exact_bytes_with_zero_counts() {
        let (mut m, a) = model_with_region();
        let o = m.alloc(a, 3, 2, &[1, 2, 3], 9).unwrap();
        let state = m.object(o).unwrap();
        assert_eq!(state.bytes, vec![1, 2, 3]);
        assert_eq!((state.home, state.size, state.align), (a, 3, 2));
        assert_eq!((state.tag, state.typed), (9, false));
        assert_eq!((state.strong, state.weak), (0, 0));
        assert_eq!(m.get(o), Ok(&[1u8, 2, 3][..]));
    }

    #[test]
    fn alloc_precedence_invalid_region_first() {
        let (mut m, _) = model_with_region();
        assert_fails_unchanged(&mut m, InvalidRegion, |m| {
            m.alloc(RegionId(77), 5, 3, &[0], TYPED)
        });
    }

    #[test]
    fn alloc_precedence_reserved_tag_before_size_mismatch() {
        let (mut m, a) = model_with_region();
        assert_fails_unchanged(&mut m, ReservedTypeTag, |m| {
            m.alloc(a, MAX_OBJECT_SIZE + 1, 3, &[0], TYPED_TAG_BIT)
        });
    }

    #[test]
    fn alloc_precedence_size_mismatch_before_overflow_and_alignment() {
        let mut m = Model::with_budget(0);
        let r = m.root();
        assert_fails_unchanged(&mut m, SizeMismatch, |m| {
            m.alloc(r, MAX_OBJECT_SIZE + 1, 3, &[0], 0)
        });
        assert_fails_unchanged(&mut m, SizeMismatch, |m| m.alloc(r, 0, 1, &[0], 0));
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn alloc_precedence_size_overflow_before_alignment() {
        let mut m = Model::with_budget(0);
        let r = m.root();
        let big = oversized();
        assert_fails_unchanged(&mut m, SizeOverflow, |m| {
            m.alloc(r, big.len(), MAX_ALIGN * 2, &big, 0)
        });
    }

    #[test]
    fn alloc_precedence_alignment_before_budget() {
        let mut m = Model::with_budget(0);
        let r = m.root();
        for align in [0, 3, 12, MAX_ALIGN * 2] {
            assert_fails_unchanged(&mut m, UnsupportedAlignment, |m| {
                m.alloc(r, 1, align, &[0], 0)
            });
        }
        assert_fails_unchanged(&mut m, BudgetExceeded, |m| {
            m.alloc(r, 1, MAX_ALIGN, &[0], 0)
        });
    }

    #[test]
    fn alloc_accepts_every_power_of_two_alignment_up_to_max() {
        let mut m = Model::new();
        let mut align = 1;
        while align <= MAX_ALIGN {
            assert!(
                m.alloc(m.root(), 1, align, &[0], 0).is_ok(),
                "align {align}"
            );
            align *= 2;
        }
    }

    #[test]
    fn alloc_bulk_splits_the_bytes_in_order_with_fresh_ids() {
        let (mut m, a) = model_with_region();
        let first = raw(&mut m, a, &[0]);
        let ids = m.alloc_bulk(a, 2, 2, 5, 3, &[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]) && first < ids[0]);
        for (i, &o) in ids.iter().enumerate() {
            let state = m.object(o).unwrap();
            let n = 2 * i as u8;
            assert_eq!(state.bytes, vec![n + 1, n + 2]);
            assert_eq!((state.home, state.size, state.align), (a, 2, 2));
            assert_eq!(
                (state.tag, state.typed, state.needs_drop),
                (5, false, false)
            );
            assert_eq!((state.strong, state.weak), (0, 0));
        }
        assert_eq!(m.objects_in(a).count(), 4);
    }

    #[test]
    fn alloc_bulk_of_nothing_is_ok_and_allocates_nothing() {
        let (mut m, a) = model_with_region();
        let before = m.clone();
        assert_eq!(m.alloc_bulk(a, 8, 8, 0, 0, &[]), Ok(vec![]));
        assert_eq!(m, before);
        // Checks that do not depend on the count still apply.
        assert_fails_unchanged(&mut m, UnsupportedAlignment, |m| {
            m.alloc_bulk(a, 8, MAX_ALIGN * 2, 0, 0, &[])
        });
        assert_fails_unchanged(&mut m, SizeMismatch, |m| m.alloc_bulk(a, 8, 8, 0, 0, &[1]));
    }

    #[test]
    fn alloc_bulk_precedence() {
        let mut m = Model::with_budget(4);
        let r = m.root();
        assert_fails_unchanged(&mut m, InvalidRegion, |m| {
            m.alloc_bulk(RegionId(9), 3, 3, TYPED, 2, &[0])
        });
        assert_fails_unchanged(&mut m, ReservedTypeTag, |m| {
            m.alloc_bulk(r, 3, 3, TYPED, 2, &[0])
        });
        assert_fails_unchanged(&mut m, SizeMismatch, |m| {
            m.alloc_bulk(r, MAX_OBJECT_SIZE + 1, 3, 0, 2, &[0; 6])
        });
        assert_fails_unchanged(&mut m, SizeMismatch, |m| {
            m.alloc_bulk(r, usize::MAX, 1, 0, 2, &[])
        });
        assert_fails_unchanged(&mut m, UnsupportedAlignment, |m| {
            m.alloc_bulk(r, 3, 3, 0, 2, &[0; 6])
        });
        // The budget counts every object: 2 * 3 bytes > 4, though 3 <= 4.
        assert_fails_unchanged(&mut m, BudgetExceeded, |m| {
            m.alloc_bulk(r, 3, 4, 0, 2, &[0; 6])
        });
        assert_eq!(m.alloc_bulk(r, 2, 4, 0, 2, &[0; 4]).map(|v| v.len()), Ok(2));
        assert_fails_unchanged(&mut m, BudgetExceeded, |m| {
            m.alloc_bulk(r, 1, 1, 0, 1, &[0])
        });
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn alloc_bulk_checks_size_overflow_before_alignment() {
        let mut m = Model::with_budget(0);
        let r = m.root();
        let big = oversized();
        assert_fails_unchanged(&mut m, SizeOverflow, |m| {
            m.alloc_bulk(r, big.len(), MAX_ALIGN * 2, 0, 1, &big)
        });
    }

    #[test]
    fn alloc_typed_precedence() {
        let mut m = Model::with_budget(0);
        let r = m.root();
        assert_fails_unchanged(&mut m, InvalidRegion, |m| {
            m.alloc_typed(RegionId(5), 1, 3, &[0], TYPED, false)
        });
        assert_fails_unchanged(&mut m, UnsupportedAlignment, |m| {
            m.alloc_typed(r, 1, 3, &[0], TYPED, false)
        });
        assert_fails_unchanged(&mut m, BudgetExceeded, |m| {
            m.alloc_typed(r, 1, 1, &[0], TYPED, false)
        });
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn alloc_typed_checks_alignment_before_size_and_size_before_budget() {
        let mut m = Model::with_budget(0);
        let r = m.root();
        let big = oversized();
        assert_fails_unchanged(&mut m, UnsupportedAlignment, |m| {
            m.alloc_typed(r, big.len(), 3, &big, TYPED, false)
        });
        assert_fails_unchanged(&mut m, SizeOverflow, |m| {
            m.alloc_typed(r, big.len(), 8, &big, TYPED, false)
        });
    }

    #[test]
    #[should_panic(expected = "is not typed")]
    fn alloc_typed_with_raw_tag_is_a_caller_bug() {
        let mut m = Model::new();
        let _ = m.alloc_typed(RegionId(0), 1, 1, &[0], 1, false);
    }

    #[test]
    #[should_panic(expected = "value bytes differ")]
    fn alloc_typed_with_wrong_byte_count_is_a_caller_bug() {
        let mut m = Model::new();
        let _ = m.alloc_typed(RegionId(0), 2, 1, &[0], TYPED, false);
    }

    #[test]
    fn get_precedence_stale_then_type_mismatch() {
        let (mut m, a) = model_with_region();
        let typed = m.alloc_typed(a, 1, 1, &[5], TYPED, false).unwrap();
        assert_eq!(m.get(typed), Err(TypeMismatch));
        m.free(typed).unwrap();
        assert_eq!(m.get(typed), Err(StaleHandle));
        assert_eq!(m.get(ObjectId(1000)), Err(StaleHandle));
    }

    #[test]
    fn get_typed_requires_typed_object_with_the_same_tag() {
        let (mut m, a) = model_with_region();
        let typed = m.alloc_typed(a, 2, 1, &[1, 2], TYPED, false).unwrap();
        let raw_obj = m.alloc(a, 1, 1, &[3], TYPED & !TYPED_TAG_BIT).unwrap();
        assert_eq!(m.get_typed(typed, TYPED), Ok(&[1u8, 2][..]));
        assert_eq!(m.get_typed(typed, OTHER_TYPED), Err(TypeMismatch));
        assert_eq!(m.get_typed(raw_obj, TYPED), Err(TypeMismatch));
        assert_eq!(
            m.get_typed(raw_obj, TYPED & !TYPED_TAG_BIT),
            Err(TypeMismatch)
        );
        m.free(typed).unwrap();
        assert_eq!(m.get_typed(typed, OTHER_TYPED), Err(StaleHandle));
    }

    #[test]
    fn write_typed_replaces_the_value_of_the_same_type_only() {
        let (mut m, a) = model_with_region();
        let typed = m.alloc_typed(a, 2, 1, &[1, 2], TYPED, false).unwrap();
        let raw_obj = raw(&mut m, a, &[1, 2]);
        m.write_typed(typed, TYPED, &[3, 4]).unwrap();
        assert_eq!(m.get_typed(typed, TYPED), Ok(&[3u8, 4][..]));
        assert_fails_unchanged(&mut m, TypeMismatch, |m| {
            m.write_typed(typed, OTHER_TYPED, &[0, 0])
        });
        assert_fails_unchanged(&mut m, TypeMismatch, |m| {
            m.write_typed(raw_obj, TYPED, &[0, 0])
        });
        m.free(typed).unwrap();
        assert_fails_unchanged(&mut m, StaleHandle, |m| {
            m.write_typed(typed, TYPED, &[0, 0])
        });
    }

    #[test]
    fn write_copies_at_offset_and_clips_at_the_end() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[0; 4]);
        m.write(o, 1, &[7, 8]).unwrap();
        assert_eq!(m.get(o), Ok(&[0u8, 7, 8, 0][..]));
        m.write(o, 2, &[1, 2, 3, 4]).unwrap();
        assert_eq!(m.get(o), Ok(&[0u8, 7, 1, 2][..]));
        m.write(o, 4, &[9]).unwrap();
        m.write(o, usize::MAX, &[9]).unwrap();
        assert_eq!(m.get(o), Ok(&[0u8, 7, 1, 2][..]));
    }

    #[test]
    fn write_precedence_stale_then_type_mismatch() {
        let (mut m, a) = model_with_region();
        let typed = m.alloc_typed(a, 1, 1, &[0], TYPED, false).unwrap();
        assert_fails_unchanged(&mut m, TypeMismatch, |m| m.write(typed, 0, &[1]));
        assert_fails_unchanged(&mut m, TypeMismatch, |m| m.write(typed, 5, &[]));
        m.free(typed).unwrap();
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.write(typed, 0, &[1]));
    }

    #[test]
    fn free_destroys_whatever_the_counts_and_second_free_is_stale() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.retain(o).unwrap();
        m.downgrade(o).unwrap();
        m.free(o).unwrap();
        assert_eq!(m.take_destroyed(), vec![(o, false)]);
        assert!(m.object(o).is_none());
        assert_eq!(m.upgrade(o), None);
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.free(o));
        assert_eq!(m.take_destroyed(), vec![]);
    }

    #[test]
    fn free_works_after_promotion() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.promote(o, RegionId(0)).unwrap();
        m.free(o).unwrap();
        assert_eq!(m.resolve(o), Err(StaleHandle));
    }

    #[test]
    fn retain_release_count_and_release_to_zero_keeps_the_object() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.retain(o).unwrap();
        m.retain(o).unwrap();
        assert_eq!(m.object(o).unwrap().strong, 2);
        m.release(o).unwrap();
        m.release(o).unwrap();
        assert_eq!(m.object(o).unwrap().strong, 0);
        assert_eq!(m.get(o), Ok(&[1u8][..]));
        assert_eq!(m.take_destroyed(), vec![]);
        assert_fails_unchanged(&mut m, RefcountUnderflow, |m| m.release(o));
    }

    #[test]
    fn retain_at_u32_max_overflows() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.objects.get_mut(&o).unwrap().strong = u32::MAX - 1;
        m.retain(o).unwrap();
        assert_fails_unchanged(&mut m, RefcountOverflow, |m| m.retain(o));
    }

    #[test]
    fn retain_release_on_dead_object_is_stale_not_count_error() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.objects.get_mut(&o).unwrap().strong = u32::MAX;
        let p = raw(&mut m, a, &[1]);
        m.free(o).unwrap();
        m.free(p).unwrap();
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.retain(o));
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.release(p));
    }

    #[test]
    fn store_handle_retains_only_across_regions() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        assert_eq!(m.store_handle(a, o), Ok(false));
        assert_eq!(m.object(o).unwrap().strong, 0);
        assert_eq!(m.store_handle(RegionId(0), o), Ok(true));
        assert_eq!(m.object(o).unwrap().strong, 1);
        // After a promotion the home changes, and so does the answer.
        m.promote(o, RegionId(0)).unwrap();
        assert_eq!(m.store_handle(RegionId(0), o), Ok(false));
        assert_eq!(m.store_handle(a, o), Ok(true));
        assert_eq!(m.object(o).unwrap().strong, 2);
    }

    #[test]
    fn store_handle_overflow_only_when_crossing() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.objects.get_mut(&o).unwrap().strong = u32::MAX;
        assert_eq!(m.store_handle(a, o), Ok(false));
        assert_fails_unchanged(&mut m, RefcountOverflow, |m| m.store_handle(RegionId(0), o));
    }

    #[test]
    fn store_handle_precedence_invalid_region_then_stale() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, RegionId(0), &[1]);
        m.free(o).unwrap();
        m.release_region(a).unwrap();
        assert_fails_unchanged(&mut m, InvalidRegion, |m| m.store_handle(a, o));
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.store_handle(RegionId(0), o));
    }

    #[test]
    fn weak_counts_and_upgrade() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.downgrade(o).unwrap();
        m.downgrade(o).unwrap();
        assert_eq!(m.upgrade(o), Some(o));
        let state = m.object(o).unwrap();
        assert_eq!((state.strong, state.weak), (0, 2));
        m.drop_weak(o).unwrap();
        m.drop_weak(o).unwrap();
        assert_eq!(m.object(o).unwrap().weak, 0);
        assert_fails_unchanged(&mut m, RefcountUnderflow, |m| m.drop_weak(o));
        assert_eq!(m.upgrade(ObjectId(999)), None);
    }

    #[test]
    fn downgrade_at_u32_max_overflows() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.objects.get_mut(&o).unwrap().weak = u32::MAX;
        assert_fails_unchanged(&mut m, RefcountOverflow, |m| m.downgrade(o));
    }

    #[test]
    fn weak_ops_on_dead_object_are_stale_but_dropping_is_fine() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        m.downgrade(o).unwrap();
        m.release_region(a).unwrap(); // weak does not keep it alive
        assert_eq!(m.upgrade(o), None);
        let before = m.clone();
        assert_eq!(m.drop_weak(o), Ok(()));
        assert_eq!(m, before, "dropping a gone weak handle changes nothing");
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.downgrade(o));
    }

    #[test]
    fn unstore_gives_back_one_stored_reference() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, RegionId(0), &[1]);
        assert_eq!(m.store_handle(a, o), Ok(true));
        assert_eq!(m.store_handle(a, o), Ok(true));
        assert_eq!(m.stored_in(a), Ok(vec![o, o]));
        m.unstore(a, o).unwrap();
        assert_eq!(m.object(o).unwrap().strong, 1);
        assert_eq!(m.stored_in(a), Ok(vec![o]));
        m.release(o).unwrap(); // by hand: the record stays, the count is 0
        assert_fails_unchanged(&mut m, RefcountUnderflow, |m| m.unstore(a, o));
        assert_fails_unchanged(&mut m, NotStored, |m| m.unstore(RegionId(0), o));
        assert_fails_unchanged(&mut m, InvalidRegion, |m| m.unstore(RegionId(99), o));
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.unstore(a, ObjectId(99)));
    }

    #[test]
    fn a_container_death_releases_after_deciding_promotions() {
        let (mut m, a) = model_with_region();
        let b = m.create_region(RegionId(0)).unwrap();
        // `kept` lives in b, stored by a; `inside` moves into a after being stored.
        let kept = raw(&mut m, b, &[1]);
        let inside = raw(&mut m, b, &[2]);
        m.store_handle(a, kept).unwrap();
        m.store_handle(a, inside).unwrap();
        m.promote(inside, a).unwrap();
        m.release_region(a).unwrap();
        // `inside` was promoted (its count held it), then released to 0.
        assert_eq!(m.object(inside).unwrap().home, RegionId(0));
        assert_eq!(m.object(inside).unwrap().strong, 0);
        assert_eq!(m.object(kept).unwrap().strong, 0);
        // Stored only by the dead container: it now dies with its region.
        m.release_region(b).unwrap();
        assert!(m.object(kept).is_none());
    }

    #[test]
    fn promote_moves_and_keeps_everything_else() {
        let (mut m, a) = model_with_region();
        let child = m.create_region(a).unwrap();
        let o = m.alloc(a, 2, 2, &[4, 5], 3).unwrap();
        m.retain(o).unwrap();
        m.downgrade(o).unwrap();
        let before = m.object(o).unwrap().clone();
        m.promote(o, child).unwrap(); // into a descendant is allowed
        let after = m.object(o).unwrap();
        assert_eq!(after.home, child);
        assert_eq!(after.bytes, before.bytes);
        assert_eq!((after.strong, after.weak, after.tag), (1, 1, 3));
        assert_eq!(m.resolve(o), Ok(o));
        assert_eq!(m.region_of(o), Ok(child));
        assert_eq!(m.take_destroyed(), vec![]);
        assert_eq!(m.reach().manual_promotions, 1);
        assert_eq!(m.reach().max_promotions_of_one_object, 1);
    }

    #[test]
    fn promote_to_current_home_is_a_no_op() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        let before = m.clone();
        m.promote(o, a).unwrap();
        assert_eq!(m, before);
        assert_eq!(m.reach().manual_promotions, 0);
    }

    #[test]
    fn promotions_of_one_object_add_up_across_manual_and_death() {
        let (mut m, a) = model_with_region();
        let b = m.create_region(a).unwrap();
        let o = raw(&mut m, a, &[1]);
        let other = raw(&mut m, a, &[1]);
        m.promote(other, b).unwrap();
        m.promote(o, b).unwrap();
        m.promote(o, a).unwrap();
        m.promote(o, b).unwrap();
        m.retain(o).unwrap();
        m.release_region(b).unwrap();
        assert_eq!(m.region_of(o), Ok(a));
        assert_eq!(m.object(o).unwrap().promotions, 4);
        assert_eq!(m.reach().max_promotions_of_one_object, 4);
        assert_eq!(m.reach().manual_promotions, 4);
        assert_eq!(m.reach().promotions_by_death, 1);
    }

    #[test]
    fn promote_precedence_stale_then_invalid_region() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, RegionId(0), &[1]);
        m.release_region(a).unwrap();
        assert_fails_unchanged(&mut m, InvalidRegion, |m| m.promote(o, a));
        m.free(o).unwrap();
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.promote(o, a));
        assert_fails_unchanged(&mut m, StaleHandle, |m| m.promote(o, RegionId(0)));
    }

    #[test]
    fn resolve_and_region_of_on_dead_object_are_stale() {
        let (mut m, a) = model_with_region();
        let o = raw(&mut m, a, &[1]);
        assert_eq!(m.resolve(o), Ok(o));
        assert_eq!(m.region_of(o), Ok(a));
        m.release_region(a).unwrap();
        assert_eq!(m.resolve(o), Err(StaleHandle));
        assert_eq!(m.region_of(o), Err(StaleHandle));
    }
}

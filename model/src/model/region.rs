//! Region operations: `docs/SEMANTICS.md` "Regions".

use super::{Model, ModelError, ObjectId, RegionId, RegionState};
use std::collections::BTreeSet;

impl Model {
    /// `create_region(parent)`: "parent must be a valid region, else `Err`.
    /// The new region starts with refcount 1 (the caller's reference)."
    ///
    /// Errors, in order: `InvalidRegion` (parent not live). (`OutOfMemory` /
    /// `IdSpaceExhausted` are never predicted; module decision 2.)
    pub fn create_region(&mut self, parent: RegionId) -> Result<RegionId, ModelError> {
        self.create_region_with(parent, None)
    }

    /// `create_region_with_budget(parent, budget)`: like
    /// [`Model::create_region`], and the new region's own objects may hold
    /// at most `budget` payload bytes (SEMANTICS.md "Budgets").
    ///
    /// Errors: `InvalidRegion` (parent not live).
    pub fn create_region_with_budget(
        &mut self,
        parent: RegionId,
        budget: usize,
    ) -> Result<RegionId, ModelError> {
        self.create_region_with(parent, Some(budget))
    }

    pub(super) fn create_region_with(
        &mut self,
        parent: RegionId,
        budget: Option<usize>,
    ) -> Result<RegionId, ModelError> {
        self.live_region(parent)?;
        let id = RegionId(self.next_region);
        self.next_region += 1;
        let state = RegionState {
            parent: Some(parent),
            refcount: 1,
            children: BTreeSet::new(),
            budget,
            stored: Vec::new(),
        };
        self.regions.insert(id, state);
        self.live_region_mut(parent).children.insert(id);
        self.counters.regions_created += 1;
        Ok(id)
    }

    /// `retain_region(r)`: refcount +1. "The root is permanent: retain/release
    /// of root is `Err`."
    ///
    /// Errors, in order: `RootRegion` (r is the root) → `InvalidRegion`
    /// (r not live) → `RefcountOverflow` (refcount is `u32::MAX`).
    pub fn retain_region(&mut self, r: RegionId) -> Result<(), ModelError> {
        self.non_root(r)?;
        let count = self.live_region(r)?.refcount;
        let count = count.checked_add(1).ok_or(ModelError::RefcountOverflow)?;
        self.live_region_mut(r).refcount = count;
        Ok(())
    }

    /// `release_region(r)`: refcount -1; returns `Ok(true)` iff the region
    /// died. "When a region's refcount reaches 0 it dies, in this order":
    /// 1. "its live children are reparented to its parent, keeping their
    ///    refcounts";
    /// 2. "every object whose home is the dying region and whose strong
    ///    count is greater than 0 moves to the parent (as by `promote`);
    ///    every other object whose home is the dying region is destroyed
    ///    (destructor once)". Weak counts do not matter; objects homed in
    ///    descendants are not touched; destruction is in ascending id
    ///    (module decision 5);
    /// 3. "forwarding records and ghost tables pass to the parent": nothing
    ///    to do in the model, identities never change;
    /// 4. "the region's handle is stale from now on": it is no longer live;
    /// 5. the strong references it stored are given back
    ///    (`Model::release_stored`).
    ///
    /// "Death never cascades: releasing one region never kills another."
    ///
    /// Errors, in order: `RootRegion` (r is the root) → `InvalidRegion`
    /// (r not live). A live non-root region has refcount >= 1, so there is no
    /// underflow case (module decision 11).
    pub fn release_region(&mut self, r: RegionId) -> Result<bool, ModelError> {
        self.non_root(r)?;
        let count = self.live_region(r)?.refcount - 1;
        self.live_region_mut(r).refcount = count;
        if count > 0 {
            return Ok(false);
        }
        self.kill_region(r);
        Ok(true)
    }

    /// Region death, steps 1 to 4 of [`Model::release_region`].
    fn kill_region(&mut self, r: RegionId) {
        let dying = self.regions.remove(&r).expect("kill: region is live");
        let parent = dying.parent.expect("kill: never the root");
        self.reparent_children(r, parent, &dying.children);
        let promoted = self.evacuate_objects(r, parent);
        self.release_stored(&dying.stored);
        self.reach.region_deaths += 1;
        self.counters.region_deaths += 1;
        if promoted > 0 {
            self.reach.deaths_with_promotions += 1;
        }
    }

    /// Death step 5: "every strong reference the dying region stored is
    /// given back: for each record whose object is alive and whose strong
    /// count is above 0, the count goes down by one" (after step 2 decided
    /// the promotions with those references counted).
    fn release_stored(&mut self, stored: &[ObjectId]) {
        for &o in stored {
            match self.objects.get_mut(&o) {
                Some(state) if state.strong > 0 => {
                    state.strong -= 1;
                    self.reach.stored_references_released_by_death += 1;
                }
                _ => {}
            }
        }
    }

    /// Death step 1: the children of `dying` become children of `parent`;
    /// their refcounts are untouched.
    fn reparent_children(&mut self, dying: RegionId, parent: RegionId, kids: &BTreeSet<RegionId>) {
        for &child in kids {
            self.live_region_mut(child).parent = Some(parent);
        }
        let parent_state = self.live_region_mut(parent);
        parent_state.children.remove(&dying);
        parent_state.children.extend(kids.iter().copied());
    }

    /// Death step 2: objects homed in `dying` with strong > 0 move to
    /// `parent`, the others are destroyed (ascending id; module decision 5).
    /// Objects in descendants of `dying` are not touched. Returns how many
    /// objects moved.
    fn evacuate_objects(&mut self, dying: RegionId, parent: RegionId) -> u64 {
        let homed: Vec<(ObjectId, u32, u32)> = self
            .objects_in(dying)
            .map(|(id, state)| (id, state.strong, state.weak))
            .collect();
        let mut promoted = 0;
        for (o, strong, weak) in homed {
            if strong > 0 {
                self.move_object(o, parent);
                promoted += 1;
            } else {
                self.reach.weakly_held_destroyed_by_death += u64::from(weak > 0);
                self.destroy(o);
                self.counters.destroyed_by_death += 1;
            }
        }
        self.reach.promotions_by_death += promoted;
        self.counters.promotions_by_death += promoted;
        promoted
    }

    /// `compact(region, max_bytes_moved)`: "one incremental compaction step:
    /// moves live objects of `region` between its arena pages (never between
    /// regions)". "Nothing observable changes — every handle still resolves
    /// to the same object with the same bytes, counts, tag, layout, home
    /// region; no destructor runs" (module decision 14), so the model only
    /// checks the region. The byte limit does not matter to the model.
    ///
    /// Errors: `InvalidRegion` (region not live; the root is fine).
    pub fn compact(&self, region: RegionId) -> Result<(), ModelError> {
        self.live_region(region)?;
        Ok(())
    }

    /// Test hook `set_region_refcount_for_testing(r, u32::MAX - 1)`: the
    /// next `retain_region` succeeds, the one after overflows.
    ///
    /// Errors, in order: `RootRegion` → `InvalidRegion`.
    pub fn saturate_region_refcount(&mut self, r: RegionId) -> Result<(), ModelError> {
        self.non_root(r)?;
        self.live_region(r)?;
        self.live_region_mut(r).refcount = u32::MAX - 1;
        Ok(())
    }

    /// `RootRegion` if `r` is the root (checked before liveness).
    fn non_root(&self, r: RegionId) -> Result<(), ModelError> {
        if r == self.root() {
            return Err(ModelError::RootRegion);
        }
        Ok(())
    }

    /// The state of `r`, or `InvalidRegion` if it is not live.
    pub(super) fn live_region(&self, r: RegionId) -> Result<&RegionState, ModelError> {
        self.regions.get(&r).ok_or(ModelError::InvalidRegion)
    }

    /// Mutable state of a region the caller already checked is live.
    pub(super) fn live_region_mut(&mut self, r: RegionId) -> &mut RegionState {
        self.regions.get_mut(&r).expect("region is live")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_fails_unchanged, raw};
    use super::*;

    #[test]
    fn compact_changes_nothing_and_accepts_the_root() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let o = raw(&mut m, a, &[1, 2, 3]);
        let p = raw(&mut m, a, &[4]);
        m.retain(o).unwrap();
        m.free(p).unwrap();
        m.take_destroyed();
        let before = m.clone();
        assert_eq!(m.compact(a), Ok(()));
        assert_eq!(m.compact(m.root()), Ok(()));
        assert_eq!(m, before);
        assert_eq!(m.take_destroyed(), vec![]);
    }

    #[test]
    fn compact_of_a_dead_or_unknown_region_is_invalid() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        m.release_region(a).unwrap();
        assert_fails_unchanged(&mut m, ModelError::InvalidRegion, |m| m.compact(a));
        assert_fails_unchanged(&mut m, ModelError::InvalidRegion, |m| {
            m.compact(RegionId(99))
        });
    }

    #[test]
    fn root_is_region_zero_with_no_parent_and_refcount_zero() {
        let m = Model::new();
        assert_eq!(m.root(), RegionId(0));
        let root = m.region(RegionId(0)).unwrap();
        assert_eq!(root.parent, None);
        assert_eq!(root.refcount, 0);
        assert_eq!(m.regions().count(), 1);
    }

    #[test]
    fn create_region_starts_at_refcount_one_under_parent() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let b = m.create_region(a).unwrap();
        assert_eq!(m.region(b).unwrap().refcount, 1);
        assert_eq!(m.region(b).unwrap().parent, Some(a));
        assert!(m.region(a).unwrap().children.contains(&b));
        // Parents hold no reference on children.
        assert_eq!(m.region(a).unwrap().refcount, 1);
        m.check_invariants().unwrap();
    }

    #[test]
    fn create_region_under_dead_or_unknown_parent_is_invalid_region() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        m.release_region(a).unwrap();
        assert_fails_unchanged(&mut m, ModelError::InvalidRegion, |m| {
            m.create_region(a).map(drop)
        });
        assert_fails_unchanged(&mut m, ModelError::InvalidRegion, |m| {
            m.create_region(RegionId(99)).map(drop)
        });
    }

    #[test]
    fn region_ids_are_never_reused() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        m.release_region(a).unwrap();
        let b = m.create_region(m.root()).unwrap();
        assert_ne!(a, b);
        assert!(b > a);
        assert!(m.region(a).is_none());
    }

    #[test]
    fn root_retain_and_release_are_root_region_errors() {
        let mut m = Model::new();
        assert_fails_unchanged(&mut m, ModelError::RootRegion, |m| {
            m.retain_region(RegionId(0))
        });
        assert_fails_unchanged(&mut m, ModelError::RootRegion, |m| {
            m.release_region(RegionId(0)).map(drop)
        });
    }

    #[test]
    fn root_region_error_takes_precedence_after_registry_drop() {
        let mut m = Model::new();
        m.drop_registry();
        assert_eq!(m.retain_region(RegionId(0)), Err(ModelError::RootRegion));
        assert_eq!(m.release_region(RegionId(0)), Err(ModelError::RootRegion));
        assert_eq!(m.retain_region(RegionId(1)), Err(ModelError::InvalidRegion));
    }

    #[test]
    fn retain_release_of_dead_or_unknown_region_is_invalid_region() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        m.release_region(a).unwrap();
        for r in [a, RegionId(1234)] {
            assert_fails_unchanged(&mut m, ModelError::InvalidRegion, |m| m.retain_region(r));
            assert_fails_unchanged(&mut m, ModelError::InvalidRegion, |m| {
                m.release_region(r).map(drop)
            });
        }
    }

    #[test]
    fn retain_then_release_counts_and_dies_only_at_zero() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        m.retain_region(a).unwrap();
        m.retain_region(a).unwrap();
        assert_eq!(m.region(a).unwrap().refcount, 3);
        assert_eq!(m.release_region(a), Ok(false));
        assert_eq!(m.release_region(a), Ok(false));
        assert_eq!(m.region(a).unwrap().refcount, 1);
        assert_eq!(m.release_region(a), Ok(true));
        assert!(m.region(a).is_none());
        assert!(!m.region(m.root()).unwrap().children.contains(&a));
        assert_eq!(m.reach().region_deaths, 1);
    }

    #[test]
    fn retain_region_at_u32_max_overflows() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        m.regions.get_mut(&a).unwrap().refcount = u32::MAX - 1;
        m.retain_region(a).unwrap();
        assert_fails_unchanged(&mut m, ModelError::RefcountOverflow, |m| m.retain_region(a));
    }

    #[test]
    fn death_reparents_children_keeping_their_refcounts() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let b = m.create_region(a).unwrap();
        let c = m.create_region(a).unwrap();
        m.retain_region(b).unwrap();
        assert_eq!(m.release_region(a), Ok(true));
        assert_eq!(m.region(b).unwrap().parent, Some(RegionId(0)));
        assert_eq!(m.region(c).unwrap().parent, Some(RegionId(0)));
        assert_eq!(m.region(b).unwrap().refcount, 2);
        assert_eq!(m.region(c).unwrap().refcount, 1);
        let root_children = &m.region(m.root()).unwrap().children;
        assert_eq!(root_children, &BTreeSet::from([b, c]));
        m.check_invariants().unwrap();
    }

    #[test]
    fn death_reparents_to_the_dying_regions_parent_not_to_root() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let b = m.create_region(a).unwrap();
        let c = m.create_region(b).unwrap();
        let o = m.alloc(b, 1, 1, &[7], 0).unwrap();
        m.retain(o).unwrap();
        m.release_region(b).unwrap();
        assert_eq!(m.region(c).unwrap().parent, Some(a));
        assert_eq!(m.region_of(o), Ok(a));
        m.check_invariants().unwrap();
    }

    #[test]
    fn death_promotes_strong_objects_and_destroys_the_rest() {
        let mut m = Model::new();
        m.register_destructor(5).unwrap();
        let a = m.create_region(m.root()).unwrap();
        let kept = m.alloc(a, 3, 1, &[1, 2, 3], 5).unwrap();
        let with_dtor = m.alloc(a, 1, 1, &[4], 5).unwrap();
        let no_dtor = m.alloc(a, 1, 1, &[5], 6).unwrap();
        let weak_only = m.alloc(a, 1, 1, &[6], 6).unwrap();
        m.retain(kept).unwrap();
        m.retain(kept).unwrap();
        m.downgrade(kept).unwrap();
        m.downgrade(weak_only).unwrap();
        m.take_destroyed();

        assert_eq!(m.release_region(a), Ok(true));

        let state = m.object(kept).unwrap();
        assert_eq!(state.home, RegionId(0));
        assert_eq!(state.bytes, vec![1, 2, 3]);
        assert_eq!((state.strong, state.weak, state.tag), (2, 1, 5));
        let destroyed = m.take_destroyed();
        assert_eq!(
            destroyed,
            vec![(with_dtor, true), (no_dtor, false), (weak_only, false)]
        );
        assert_eq!(m.upgrade(weak_only), None);
        assert_eq!(m.get(with_dtor), Err(ModelError::StaleHandle));
        let reach = m.reach();
        assert_eq!(reach.promotions_by_death, 1);
        assert_eq!(reach.deaths_with_promotions, 1);
        assert_eq!(reach.destructor_calls, 1);
        assert_eq!(reach.max_promotions_of_one_object, 1);
    }

    #[test]
    fn death_runs_typed_drop_glue_only_with_needs_drop() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let tag = super::super::TYPED_TAG_BIT | 1;
        let drops = m.alloc_typed(a, 1, 1, &[0], tag, true).unwrap();
        let plain = m.alloc_typed(a, 1, 1, &[0], tag, false).unwrap();
        m.release_region(a).unwrap();
        assert_eq!(m.take_destroyed(), vec![(drops, true), (plain, false)]);
    }

    #[test]
    fn death_without_promotions_is_not_counted_as_death_with_promotions() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        raw(&mut m, a, &[1]);
        m.release_region(a).unwrap();
        assert_eq!(m.reach().region_deaths, 1);
        assert_eq!(m.reach().deaths_with_promotions, 0);
        assert_eq!(m.reach().promotions_by_death, 0);
    }

    #[test]
    fn death_does_not_touch_objects_of_a_child_region() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let b = m.create_region(a).unwrap();
        let in_child = raw(&mut m, b, &[9]);
        raw(&mut m, a, &[8]);
        m.take_destroyed();
        m.release_region(a).unwrap();
        assert_eq!(m.take_destroyed().len(), 1);
        assert_eq!(m.region_of(in_child), Ok(b));
        assert_eq!(m.object(in_child).unwrap().promotions, 0);
        assert_eq!(m.region(b).unwrap().refcount, 1);
    }

    #[test]
    fn death_never_cascades() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let b = m.create_region(a).unwrap();
        let c = m.create_region(b).unwrap();
        assert_eq!(m.release_region(a), Ok(true));
        assert!(m.region(b).is_some());
        assert!(m.region(c).is_some());
        assert_eq!(m.reach().region_deaths, 1);
        assert_eq!(m.regions().count(), 3);
    }

    #[test]
    fn repeated_deaths_count_moves_of_one_object() {
        let mut m = Model::new();
        let a = m.create_region(m.root()).unwrap();
        let b = m.create_region(a).unwrap();
        let c = m.create_region(b).unwrap();
        let o = raw(&mut m, c, &[1]);
        m.retain(o).unwrap();
        m.release_region(c).unwrap();
        m.release_region(b).unwrap();
        m.release_region(a).unwrap();
        assert_eq!(m.region_of(o), Ok(RegionId(0)));
        assert_eq!(m.reach().max_promotions_of_one_object, 3);
        assert_eq!(m.reach().promotions_by_death, 3);
        assert_eq!(m.reach().deaths_with_promotions, 3);
    }
}

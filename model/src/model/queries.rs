//! Identity and iteration queries: `docs/SEMANTICS.md` "Handles as
//! identities" and "Iteration". None changes anything.
//!
//! In the model an object's identity never changes, so "the current home
//! handle" is the id itself and two handles name the same object iff their
//! ids are equal and live. Iterations are predicted as sets: the contract
//! leaves their order unspecified.

use super::{Model, ModelError, ObjectId, RegionId, TYPED_TAG_BIT};
use std::collections::BTreeSet;

impl Model {
    /// `current(h)`: the object's current home handle, here its id.
    ///
    /// Errors: `StaleHandle`.
    pub fn current(&self, o: ObjectId) -> Result<ObjectId, ModelError> {
        self.resolve(o)
    }

    /// `is_alive(h)`.
    pub fn is_alive(&self, o: ObjectId) -> bool {
        self.objects.contains_key(&o)
    }

    /// `same_object(a, b)`: "both name the same live object".
    pub fn same_object(&self, a: ObjectId, b: ObjectId) -> bool {
        a == b && self.is_alive(a)
    }

    /// `iter::<T>(region)`: the typed objects with tag `tag` homed in
    /// `region`.
    ///
    /// Errors: `InvalidRegion`.
    pub fn iter_typed(&self, region: RegionId, tag: u64) -> Result<BTreeSet<ObjectId>, ModelError> {
        self.live_region(region)?;
        let homed = self.objects_in(region);
        Ok(homed
            .filter(|(_, state)| state.typed && state.tag == tag)
            .map(|(o, _)| o)
            .collect())
    }

    /// `iter_raw(region, tag)`: the raw objects with tag `tag` homed in
    /// `region`.
    ///
    /// Errors, in order: `InvalidRegion` → `ReservedTypeTag` (`tag` has the
    /// top bit set).
    pub fn iter_raw(&self, region: RegionId, tag: u64) -> Result<BTreeSet<ObjectId>, ModelError> {
        self.live_region(region)?;
        if tag & TYPED_TAG_BIT != 0 {
            return Err(ModelError::ReservedTypeTag);
        }
        let homed = self.objects_in(region);
        Ok(homed
            .filter(|(_, state)| !state.typed && state.tag == tag)
            .map(|(o, _)| o)
            .collect())
    }

    /// `subtree_objects(region)`: the objects homed in `region` or any of
    /// its descendants.
    ///
    /// Errors: `InvalidRegion`.
    pub fn subtree_objects(&self, region: RegionId) -> Result<BTreeSet<ObjectId>, ModelError> {
        self.live_region(region)?;
        let mut regions = BTreeSet::from([region]);
        let mut frontier = vec![region];
        while let Some(r) = frontier.pop() {
            for &child in &self.regions[&r].children {
                regions.insert(child);
                frontier.push(child);
            }
        }
        Ok(self
            .objects()
            .filter(|(_, state)| regions.contains(&state.home))
            .map(|(o, _)| o)
            .collect())
    }

    /// `all_objects()`: every live object.
    pub fn all_objects(&self) -> BTreeSet<ObjectId> {
        self.objects().map(|(o, _)| o).collect()
    }
}

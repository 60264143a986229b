//! Hooks that put a registry into states tests cannot reach quickly
//! (feature `test-hooks`; never enable it in production).
//!
//! Counts near `u32::MAX` take four billion calls to reach honestly; these
//! setters get there in one, so that `RefcountOverflow` is tested (and
//! reached by the differential harness) like every other error.

use crate::error::{Error, Result};
use crate::handle::{ObjectHandle, RegionHandle};
use crate::registry::Registry;

impl Registry {
    /// Sets the strong and weak counts of the object `handle` resolves to,
    /// as if that many `retain`s and `downgrade`s had happened.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// reg.set_counts_for_testing(h, u32::MAX, 3).unwrap();
    /// assert_eq!((reg.strong_count(h).unwrap(), reg.weak_count(h).unwrap()), (u32::MAX, 3));
    /// assert_eq!(reg.retain(h).unwrap_err().kind(), ErrorKind::RefcountOverflow);
    /// ```
    pub fn set_counts_for_testing(
        &mut self,
        handle: ObjectHandle,
        strong: u32,
        weak: u32,
    ) -> Result<()> {
        let home = self.locate_mut(handle)?;
        let region = self.live_mut(home.region().id());
        let aux = region.slots.aux_mut(home.slot());
        let was_strong = aux.strong > 0;
        aux.strong = strong;
        aux.weak = weak;
        match (was_strong, strong > 0) {
            (false, true) => region.strong_objects += 1,
            (true, false) => region.strong_objects -= 1,
            _ => {}
        }
        Ok(())
    }

    /// Sets the reference count of `region` (not the root; at least 1), as
    /// if that many `retain_region`s had happened.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.set_region_refcount_for_testing(r, u32::MAX).unwrap();
    /// assert_eq!(reg.retain_region(r).unwrap_err().kind(), ErrorKind::RefcountOverflow);
    /// let err = reg.set_region_refcount_for_testing(reg.root(), 2).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::RootRegion);
    /// ```
    pub fn set_region_refcount_for_testing(
        &mut self,
        region: RegionHandle,
        refcount: u32,
    ) -> Result<()> {
        if region == self.root() {
            return Err(Error::RootRegion);
        }
        self.region(region)?;
        self.live_mut(region.id()).refcount = refcount.max(1);
        Ok(())
    }
}

/// A break of one invariant that [`Registry::check_invariants`] checks,
/// made by [`Registry::corrupt_for_testing`] so that a test can show the
/// checker notices it (no API call can make these states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The nursery or pool page holding this object counts one live object
    /// more than it holds.
    PageLiveCount(ObjectHandle),
    /// The root region names itself as its parent.
    RootParent,
    /// The most recently freed region id is in the list of free ids twice.
    FreeRegionIdTwice,
}

impl Registry {
    /// Breaks the invariant `corruption` names. Returns `Ok(false)`, and
    /// changes nothing, for a `PageLiveCount` of an object that is in no
    /// page (inline, zero-sized or in a dedicated allocation), and for
    /// `FreeRegionIdTwice` when no region id is free.
    ///
    /// ```
    /// use regions::{Corruption, Registry};
    /// let mut reg = Registry::new();
    /// assert!(reg.check_invariants().is_ok());
    /// reg.corrupt_for_testing(Corruption::RootParent).unwrap();
    /// assert!(reg.check_invariants().is_err());
    /// ```
    pub fn corrupt_for_testing(&mut self, corruption: Corruption) -> Result<bool> {
        match corruption {
            Corruption::PageLiveCount(handle) => {
                let home = self.locate_mut(handle)?;
                let region = self.live_mut(home.region().id());
                let page = region
                    .slots
                    .record(home.slot())
                    .and_then(|record| record.heap());
                Ok(page.is_some_and(|heap| region.pool.miscount_page_for_testing(heap.page)))
            }
            Corruption::RootParent => {
                let root = self.root().id();
                self.live_mut(root).parent = root;
                Ok(true)
            }
            Corruption::FreeRegionIdTwice => {
                let Some(&id) = self.free_region_ids.last() else {
                    return Ok(false);
                };
                crate::fallible::reserve(&mut self.free_region_ids, 1)?;
                self.free_region_ids.push(id);
                Ok(true)
            }
        }
    }
}

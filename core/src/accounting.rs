//! Byte budgets and the registry-wide counters behind `global_stats`.
//!
//! Budgets count *payload bytes*: the sum of the sizes of live objects
//! (alignment padding and metadata are not payload). The registry-wide
//! budget limits every live object; a region budget limits the objects
//! whose home is that region (not its children's). Only allocation checks
//! budgets, and a manual `promote` checks the target region's budget; a
//! region death promotes its survivors whatever their new home's budget
//! says, because a death cannot be refused for lack of budget (see
//! `docs/SEMANTICS.md`, "Budgets").
//!
//! The counters are registry-wide so that the allocation path updates a
//! few words the registry already has in cache; per-region figures are
//! computed from the region's tables when asked (see `stats.rs`).

use hashbrown::HashMap;

use crate::error::{Budget, Error, Result};
use crate::handle::RegionHandle;

/// No budget: no sum of object sizes reaches it (each is below 2^31).
pub(crate) const UNLIMITED: u64 = u64::MAX;

/// Registry-wide payload, budgets and event counters.
#[derive(Debug)]
pub(crate) struct Accounts {
    /// Payload bytes of every live object.
    pub live_bytes: u64,
    /// Live objects.
    pub live_objects: u64,
    /// The registry-wide budget, or [`UNLIMITED`].
    pub budget: u64,
    /// Budgets of the live regions that have one, by region id (those
    /// regions have `RegionSlot::budgeted` set, so unbudgeted regions never
    /// look here).
    pub region_budgets: HashMap<u32, u64>,
    /// Objects destroyed by `free`.
    pub frees: u64,
    /// Objects destroyed by their region's death.
    pub destroyed_by_death: u64,
    /// Objects moved by region deaths.
    pub promotions_by_death: u64,
    /// Objects moved by `promote` (promotions to their own home excluded).
    pub manual_promotions: u64,
    /// Regions created (the root excluded).
    pub regions_created: u64,
    /// Regions that died.
    pub region_deaths: u64,
    /// Most live objects at once.
    pub peak_objects: u64,
    /// Most payload bytes at once.
    pub peak_bytes: u64,
}

/// The event counters and peaks at one moment, to put back when an
/// operation that failed half-way undoes what it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counters {
    values: [u64; 8],
}

/// The peak figures at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Peaks {
    objects: u64,
    bytes: u64,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            live_bytes: 0,
            live_objects: 0,
            budget: UNLIMITED,
            region_budgets: HashMap::new(),
            frees: 0,
            destroyed_by_death: 0,
            promotions_by_death: 0,
            manual_promotions: 0,
            regions_created: 0,
            region_deaths: 0,
            peak_objects: 0,
            peak_bytes: 0,
        }
    }
}

impl Accounts {
    /// Whether `bytes` more payload fits the registry-wide budget: the
    /// check of the allocation fast path.
    #[inline(always)]
    pub fn fits(&self, bytes: u64) -> bool {
        // `live_bytes` stays far below 2^63, so the sum cannot wrap.
        self.live_bytes + bytes <= self.budget
    }

    /// Checks an allocation of `bytes` payload in `region` (whose live
    /// payload is `region_bytes`, and which has a budget iff `budgeted`)
    /// against the registry-wide budget, then the region's.
    pub fn admit(
        &self,
        region: RegionHandle,
        region_bytes: u64,
        budgeted: bool,
        bytes: u64,
    ) -> Result<()> {
        if !self.fits(bytes) {
            return Err(exceeded(
                Budget::Registry,
                bytes,
                self.budget,
                self.live_bytes,
            ));
        }
        if budgeted {
            self.admit_to_region(region, region_bytes, bytes)?;
        }
        Ok(())
    }

    /// Checks `bytes` more payload in budgeted `region` against its budget.
    pub fn admit_to_region(
        &self,
        region: RegionHandle,
        region_bytes: u64,
        bytes: u64,
    ) -> Result<()> {
        let limit = self.region_budgets[&region.id()];
        if region_bytes.saturating_add(bytes) > limit {
            return Err(exceeded(Budget::Region(region), bytes, limit, region_bytes));
        }
        Ok(())
    }

    /// Counts `count` new objects of `bytes` payload in total.
    #[inline(always)]
    pub fn allocated(&mut self, count: u64, bytes: u64) {
        self.live_objects += count;
        self.live_bytes += bytes;
        self.peak_objects = self.peak_objects.max(self.live_objects);
        self.peak_bytes = self.peak_bytes.max(self.live_bytes);
    }

    /// Counts an object of `bytes` destroyed by `free`.
    #[inline(always)]
    pub fn freed(&mut self, bytes: u64) {
        self.frees += 1;
        self.gone(1, bytes);
    }

    /// Takes back the allocation of an object of `bytes` that never came
    /// to exist (its initialization panicked): it is not counted anywhere,
    /// and the peaks go back to `peaks_before` (what [`peaks`](Self::peaks)
    /// said before it was allocated).
    pub fn discarded(&mut self, bytes: u64, peaks_before: Peaks) {
        self.gone(1, bytes);
        (self.peak_objects, self.peak_bytes) = (peaks_before.objects, peaks_before.bytes);
    }

    /// The event counters and peaks now.
    pub fn counters(&self) -> Counters {
        Counters {
            values: [
                self.frees,
                self.destroyed_by_death,
                self.promotions_by_death,
                self.manual_promotions,
                self.regions_created,
                self.region_deaths,
                self.peak_objects,
                self.peak_bytes,
            ],
        }
    }

    /// Puts back the event counters and peaks of `counters`.
    pub fn restore(&mut self, counters: Counters) {
        [
            self.frees,
            self.destroyed_by_death,
            self.promotions_by_death,
            self.manual_promotions,
            self.regions_created,
            self.region_deaths,
            self.peak_objects,
            self.peak_bytes,
        ] = counters.values;
    }

    /// The peaks now, to restore if an allocation is taken back.
    pub fn peaks(&self) -> Peaks {
        Peaks {
            objects: self.peak_objects,
            bytes: self.peak_bytes,
        }
    }

    /// Objects allocated so far: every object is live, freed or destroyed
    /// by a death (a discarded one is none of these), so this needs no
    /// counter of its own on the allocation path.
    pub fn allocations(&self) -> u64 {
        self.live_objects + self.frees + self.destroyed_by_death
    }

    /// Counts a region death that destroyed `count` objects of `bytes`
    /// payload and promoted `promoted`.
    pub fn region_died(&mut self, count: u64, bytes: u64, promoted: u64) {
        self.region_deaths += 1;
        self.destroyed_by_death += count;
        self.promotions_by_death += promoted;
        self.gone(count, bytes);
    }

    fn gone(&mut self, count: u64, bytes: u64) {
        self.live_objects -= count;
        self.live_bytes -= bytes;
    }

    /// The budget of region `id`, if it has one.
    pub fn region_budget(&self, id: u32) -> Option<u64> {
        self.region_budgets.get(&id).copied()
    }

    /// Makes room for one more region budget, so that setting it cannot fail.
    pub fn reserve_region_budget(&mut self) -> Result<()> {
        crate::fallible::reserve_map(&mut self.region_budgets, 1)
    }
}

#[cold]
#[inline(never)]
fn exceeded(budget: Budget, requested: u64, limit: u64, used: u64) -> Error {
    Error::BudgetExceeded {
        budget,
        requested,
        available: limit.saturating_sub(used),
    }
}

//! What a run reached: counters that let tests fail on vacuous runs.

use std::collections::BTreeMap;

use crate::model::Reach;

/// What a run reached. Engines print it; tests assert on it so that a
/// generator that stops reaching the interesting states fails loudly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Ops applied.
    pub ops: u64,
    /// The model's counters: peak live objects, region deaths, deaths with
    /// promotions, promotions by death and by hand, most moves of one
    /// object, destructor calls.
    pub reach: Reach,
    /// Deepest region nesting seen (the root is depth 0).
    pub max_region_depth: usize,
    /// Resolutions through a forwarding record in the core (from
    /// `Registry::forwarding_hops` deltas): old handles of moved objects used.
    pub forwarded_resolutions: u64,
    /// Destructor calls observed in the core (raw destructors and drops of
    /// tracked typed values).
    pub destructor_calls: u64,
    /// Of those, calls during `release_region` or `with_region` (region death).
    pub destructor_calls_on_region_death: u64,
    /// Ops rejected (`StaleHandle` / `InvalidRegion`) on a handle the driver
    /// had seen, of a dead object or region.
    pub stale_rejections: u64,
    /// Ops rejected (`StaleHandle` / `InvalidRegion`) with an operand the
    /// driver had never seen (fabricated).
    pub fabricated_rejections: u64,
    /// Ops rejected with `TypeMismatch`.
    pub type_mismatch_rejections: u64,
    /// New regions that reused a region id (with a new generation).
    pub region_id_recycles: u64,
    /// Core errors that found a retired id (generation exhausted; reachable
    /// with the core's `small-generations` feature).
    pub retired_ids_seen: u64,
    /// Full-state comparisons made.
    pub full_checks: u64,
    /// `compact` steps whose report says they moved at least one object.
    pub compactions_that_moved: u64,
    /// Objects moved by `compact` (sum of the reports' `objects_moved`).
    pub objects_moved_by_compaction: u64,
    /// Blocks `compact` gave back (sum of the reports' `blocks_released`).
    pub blocks_released_by_compaction: u64,
    /// Objects allocated by `alloc_bulk`.
    pub bulk_objects_allocated: u64,
    /// Most objects one `alloc_bulk` allocated.
    pub largest_bulk_allocation: usize,
    /// Typed slices allocated (`alloc_slice_copy`, `alloc_slice_fill_with`).
    pub slices_allocated: u64,
    /// Elements of destroyed tracked slices dropped as predicted (at free,
    /// region death or registry drop).
    pub tracked_slice_elements_dropped: u64,
    /// `GetSlice` ops rejected with `TypeMismatch`.
    pub slice_type_mismatches: u64,
    /// Promotions refused by the budget of a target region that already
    /// held objects (a budget check that forgets them lets these through).
    pub promotions_refused_by_an_occupied_budget: u64,
    /// Ops skipped because they would have grown the run past the driver's
    /// [`super::ScaleCap`].
    pub ops_skipped_at_scale_cap: u64,
    /// `unstore`s of a moved object from a container that also stored
    /// another object of its region (matching by region would pick either).
    pub unstores_beside_a_neighbour: u64,
    /// Ops that panicked, as predicted, because a destructor panicked (after
    /// destroying everything due); the registry drop at the end included.
    pub panicking_destructor_ops: u64,
    /// Ops that returned `OutOfMemory` because an injected allocation
    /// failure (`InjectAllocFailure`) fired during them, and changed nothing.
    pub injected_failures: u64,
    /// `Iterate` ops that listed at least one object.
    pub nonempty_iterations: u64,
    /// `Iterate` ops that changed values (`iter_mut` over at least one).
    pub mutating_iterations: u64,
    /// `alloc_with` calls whose `init` panicked (no object may exist).
    pub panicked_fills: u64,
    /// Ops applied, by variant.
    pub ops_by_kind: BTreeMap<&'static str, u64>,
    /// Rejections predicted (and matched), by kind (`Debug` of the [`Rejection`](super::Rejection)).
    pub rejections: BTreeMap<String, u64>,
}

impl Report {
    /// Rejections of this error kind (by the name of the kind).
    pub fn rejections_of(&self, kind: &str) -> u64 {
        self.rejections
            .iter()
            .filter(|(rejection, _)| rejection.contains(kind))
            .map(|(_, count)| count)
            .sum()
    }

    /// Adds `other` (another run) to this report: counts add up, maxima
    /// take the larger value.
    pub fn merge(&mut self, other: &Report) {
        let (r, o) = (&mut self.reach, &other.reach);
        r.peak_live_objects = r.peak_live_objects.max(o.peak_live_objects);
        r.region_deaths += o.region_deaths;
        r.deaths_with_promotions += o.deaths_with_promotions;
        r.promotions_by_death += o.promotions_by_death;
        r.manual_promotions += o.manual_promotions;
        r.max_promotions_of_one_object = r
            .max_promotions_of_one_object
            .max(o.max_promotions_of_one_object);
        r.destructor_calls += o.destructor_calls;
        r.weakly_held_destroyed_by_death += o.weakly_held_destroyed_by_death;
        r.stored_references_released_by_death += o.stored_references_released_by_death;
        r.unstores += o.unstores;
        r.round_trips += o.round_trips;
        r.objects_copied += o.objects_copied;
        self.nonempty_iterations += other.nonempty_iterations;
        self.mutating_iterations += other.mutating_iterations;
        self.panicked_fills += other.panicked_fills;
        self.ops += other.ops;
        self.max_region_depth = self.max_region_depth.max(other.max_region_depth);
        self.forwarded_resolutions += other.forwarded_resolutions;
        self.destructor_calls += other.destructor_calls;
        self.destructor_calls_on_region_death += other.destructor_calls_on_region_death;
        self.stale_rejections += other.stale_rejections;
        self.fabricated_rejections += other.fabricated_rejections;
        self.type_mismatch_rejections += other.type_mismatch_rejections;
        self.region_id_recycles += other.region_id_recycles;
        self.retired_ids_seen += other.retired_ids_seen;
        self.full_checks += other.full_checks;
        self.compactions_that_moved += other.compactions_that_moved;
        self.objects_moved_by_compaction += other.objects_moved_by_compaction;
        self.blocks_released_by_compaction += other.blocks_released_by_compaction;
        self.bulk_objects_allocated += other.bulk_objects_allocated;
        self.largest_bulk_allocation = self
            .largest_bulk_allocation
            .max(other.largest_bulk_allocation);
        self.slices_allocated += other.slices_allocated;
        self.tracked_slice_elements_dropped += other.tracked_slice_elements_dropped;
        self.slice_type_mismatches += other.slice_type_mismatches;
        self.promotions_refused_by_an_occupied_budget +=
            other.promotions_refused_by_an_occupied_budget;
        self.unstores_beside_a_neighbour += other.unstores_beside_a_neighbour;
        self.ops_skipped_at_scale_cap += other.ops_skipped_at_scale_cap;
        self.panicking_destructor_ops += other.panicking_destructor_ops;
        self.injected_failures += other.injected_failures;
        for (&kind, &count) in &other.ops_by_kind {
            *self.ops_by_kind.entry(kind).or_default() += count;
        }
        for (rejection, &count) in &other.rejections {
            *self.rejections.entry(rejection.clone()).or_default() += count;
        }
    }
}

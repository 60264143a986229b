//! `check_invariants`: a full internal-consistency check of a registry.
//!
//! It verifies, and reports every violation of:
//! - the region tree: the root is live at id 0 with no parent; every other
//!   live region has refcount >= 1 and a live parent whose child list holds
//!   it at its recorded index; every listed child names its parent back;
//!   every live region is reachable from the root;
//! - the region table: dead ids are on the free list exactly once unless
//!   retired; dead regions hold no objects, pages or children; the
//!   live-region count and the retained table bytes are exact;
//! - per region: the slot table's counts and free list, live generations
//!   odd; every object's layout limits, placement and typed tag; each heap
//!   object lies in a page of its region, aligned, alone in its chunk
//!   (slab: a carved chunk not on the free list; large: a used chunk that
//!   holds it); every page's live count, free list and chunk tiling; the
//!   pools' page lists; the strong, moved and dedicated counts;
//! - forwarding: every forwarding slot names a live object's node; every
//!   moved object's node names it as home; every ghost record (in the map
//!   or a region slot) names a dead region incarnation and a node; node
//!   record counts are exact;
//! - the block cache: its byte count, limit and block alignment;
//! - accounting: the registry's payload and object counts are the sums of
//!   the regions'; region budgets belong to live, flagged regions; peaks
//!   are at least the current figures;
//! - with the `leak-report` feature: every live object has exactly one
//!   allocation site and no site names a vacant slot or a dead region (see
//!   `leak_report.rs`);
//! - with the `poison` feature: that freed memory is still poison (vacant
//!   slot cells and spare records, of dead regions' kept tables too; free
//!   slab chunks and never-carved space; free large chunks; nursery bytes
//!   outside live objects, of dead regions' kept nurseries too; cached
//!   blocks), see `poison.rs`.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::fmt;

use hashbrown::HashMap;

use crate::handle::{ObjectHandle, RegionHandle};
use crate::region::{Region, NO_PARENT, NO_REGION};
use crate::registry::Registry;
use crate::slot_table::Occupant;

/// Every invariant violation `check_invariants` found, one line each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolations(pub Vec<String>);

impl fmt::Display for InvariantViolations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} invariant violation(s):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl core::error::Error for InvariantViolations {}

impl Registry {
    /// Checks every internal invariant (see the module list in the source);
    /// `Err` lists all violations found. Slow: O(everything). Tests and the
    /// differential harness call it after every operation.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, [0u64; 8]).unwrap();
    /// reg.check_invariants().unwrap();
    /// ```
    pub fn check_invariants(&self) -> Result<(), InvariantViolations> {
        let mut problems = Vec::new();
        self.check_tree(&mut problems);
        let mut slot_records = HashMap::new();
        for (id, slot) in self.regions.iter().enumerate() {
            let mut local = Vec::new();
            if slot.is_live() {
                self.check_region(id as u32, &slot.region, &mut slot_records, &mut local);
            } else {
                // A dead region's kept table and nursery are freed memory.
                #[cfg(feature = "poison")]
                {
                    slot.region.slots.check_poison(&mut local);
                    slot.region.pool.check_retained_poison(&mut local);
                }
            }
            problems.extend(local.into_iter().map(|p| format!("region {id}: {p}")));
        }
        for (region, slot, node) in self.slot_ghosts() {
            *slot_records.entry(node).or_default() += 1;
            if self.is_region_alive(region) {
                problems.push(format!("a slot ghost names live {region} slot {slot}"));
            }
            match self.forwarding.home(node) {
                Some(home) if home.region() == region => problems.push(format!(
                    "{region} slot {slot} forwards into its own dead incarnation"
                )),
                _ => {}
            }
        }
        self.forwarding
            .check(&slot_records, |r| self.is_region_alive(r), &mut problems);
        let moved: usize = self
            .regions
            .iter()
            .filter(|slot| slot.is_live())
            .map(|slot| slot.region.moved_objects as usize)
            .sum();
        if moved != self.forwarding.live_node_count() {
            problems.push(format!(
                "{moved} moved objects but {} live forwarding nodes",
                self.forwarding.live_node_count()
            ));
        }
        self.blocks.check(&mut problems);
        self.check_accounts(&mut problems);
        self.check_stored(&mut problems);
        #[cfg(feature = "leak-report")]
        self.leaks.check(&self.regions, &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvariantViolations(problems))
        }
    }

    /// Checks the invariants local to `regions`, in time proportional to
    /// their objects and pages rather than to the whole registry: for each
    /// live one, its slot table, objects, pages and pools, its strong, moved
    /// and dedicated counts, its tree links and its stored-reference list;
    /// a dead or unknown handle is skipped. Registry-wide facts (forwarding
    /// record counts, the registry's sums, the free list, reachability) are
    /// left to [`Registry::check_invariants`], which a harness runs now and
    /// then; this is the check it can afford after every operation.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, 7u32).unwrap();
    /// reg.check_region_invariants([r, reg.root()]).unwrap();
    /// ```
    pub fn check_region_invariants(
        &self,
        regions: impl IntoIterator<Item = RegionHandle>,
    ) -> Result<(), InvariantViolations> {
        let mut problems = Vec::new();
        // Forwarding records are only cross-checked by the full check.
        let mut slot_records = HashMap::new();
        for handle in regions {
            if !self.is_region_alive(handle) {
                continue;
            }
            let id = handle.id();
            let region = self.live(id);
            let mut local = Vec::new();
            self.check_region(id, region, &mut slot_records, &mut local);
            if id != 0 {
                self.check_links(id, region, &mut local);
            }
            if region.stores != self.stored.of(id).is_some_and(|list| !list.is_empty()) {
                local.push("its stores flag and its stored-reference list disagree".into());
            }
            problems.extend(local.into_iter().map(|p| format!("region {id}: {p}")));
        }
        let accounts = &self.accounts;
        if accounts.peak_objects < accounts.live_objects
            || accounts.peak_bytes < accounts.live_bytes
        {
            problems.push("a peak is below the current figure".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvariantViolations(problems))
        }
    }

    /// Exactly the live regions flagged `stores` have a list of stored
    /// references, and no list is empty.
    fn check_stored(&self, problems: &mut Vec<String>) {
        for id in self.stored.containers() {
            let live = self
                .regions
                .get(id as usize)
                .is_some_and(|slot| slot.is_live());
            if !live || !self.regions[id as usize].region.stores {
                problems.push(format!(
                    "region {id} has stored references but is dead or unflagged"
                ));
            }
            if self.stored.of(id).is_some_and(<[_]>::is_empty) {
                problems.push(format!(
                    "region {id} has an empty list of stored references"
                ));
            }
        }
        for (id, slot) in self.regions.iter().enumerate() {
            if slot.region.stores && self.stored.of(id as u32).is_none() {
                problems.push(format!("region {id} is flagged as storing but has no list"));
            }
        }
    }

    /// The registry-wide payload and object counts are the sums over the
    /// live regions; exactly the live regions flagged `budgeted` have a
    /// budget.
    fn check_accounts(&self, problems: &mut Vec<String>) {
        let (mut objects, mut bytes, mut budgeted) = (0u64, 0u64, 0usize);
        for (id, slot) in self.regions.iter().enumerate() {
            if slot.is_live() {
                objects += slot.region.slots.live_len() as u64;
                bytes += slot.region.slots.live_bytes();
            }
            let has_budget = self.accounts.region_budget(id as u32).is_some();
            if slot.is_budgeted() != has_budget || (slot.is_budgeted() && !slot.is_live()) {
                problems.push(format!(
                    "region {id}: budget flag and budget table disagree"
                ));
            }
            budgeted += usize::from(slot.is_budgeted());
        }
        let accounts = &self.accounts;
        if (objects, bytes) != (accounts.live_objects, accounts.live_bytes) {
            problems.push(format!(
                "regions hold {objects} objects of {bytes} payload bytes but the registry \
                 counts {} of {}",
                accounts.live_objects, accounts.live_bytes
            ));
        }
        if budgeted != accounts.region_budgets.len() {
            problems.push("a region budget belongs to no budgeted region".into());
        }
        if accounts.peak_objects < objects || accounts.peak_bytes < bytes {
            problems.push("a peak is below the current figure".into());
        }
    }

    fn check_tree(&self, problems: &mut Vec<String>) {
        match self.regions.first() {
            Some(slot)
                if slot.generation() == 0 && slot.is_live() && slot.region.parent == NO_PARENT => {}
            _ => problems.push("the root is not live at id 0 generation 0 without a parent".into()),
        }
        let mut free_seen = vec![false; self.regions.len()];
        for &id in &self.free_region_ids {
            match self.regions.get(id as usize) {
                Some(slot) if !slot.is_live() && !slot.is_retired() && !free_seen[id as usize] => {
                    free_seen[id as usize] = true;
                }
                _ => problems.push(format!(
                    "free region id {id} is live, retired, duplicated or out of range"
                )),
            }
        }
        let (mut live, mut retained) = (0, 0);
        for (id, slot) in self.regions.iter().enumerate() {
            let region = &slot.region;
            if !slot.is_live() {
                if !slot.is_retired() && !free_seen[id] {
                    problems.push(format!("dead region id {id} is neither free nor retired"));
                }
                let pages = region.pool.page_count();
                let kept_nursery = pages == 1
                    && region.pool.nursery_page_bytes() > 0
                    && region.pool.nursery_bytes() == 0;
                if region.slots.len() != 0
                    || (pages != 0 && !kept_nursery)
                    || region.first_child != NO_REGION
                {
                    problems.push(format!(
                        "dead region id {id} still holds slots, pages other than an empty nursery, or children"
                    ));
                }
                retained += region.retained_bytes();
                continue;
            }
            live += 1;
            if id == 0 {
                continue;
            }
            self.check_links(id as u32, region, problems);
        }
        if retained != self.retained_bytes {
            problems.push(format!(
                "dead regions retain {retained} bytes, the count says {}",
                self.retained_bytes
            ));
        }
        // Every live region is reachable from the root through child lists
        // (so parent links have no cycle); a walk, not recursion.
        let mut reached = vec![false; self.regions.len()];
        let mut stack = vec![0u32];
        let mut reachable = 0;
        while let Some(id) = stack.pop() {
            let Some(slot) = self.regions.get(id as usize).filter(|s| s.is_live()) else {
                continue;
            };
            if core::mem::replace(&mut reached[id as usize], true) {
                problems.push(format!("region {id} is reached twice from the root"));
                continue;
            }
            reachable += 1;
            let mut child = slot.region.first_child;
            while child != NO_REGION && stack.len() <= self.regions.len() {
                stack.push(child);
                child = self.regions[child as usize].region.next_sibling;
            }
        }
        if reachable != live {
            problems.push(format!(
                "{reachable} of {live} live regions are reachable from the root"
            ));
        }
        if live != self.live_regions {
            problems.push(format!(
                "{live} live regions but the count says {}",
                self.live_regions
            ));
        }
    }

    /// A live non-root region's links: refcount >= 1, a live parent, and a
    /// child list whose members name it as their parent and their
    /// neighbours back (at most as long as there are regions).
    fn check_links(&self, id: u32, region: &Region, problems: &mut Vec<String>) {
        if region.refcount == 0 {
            problems.push(format!("live region {id} has refcount 0"));
        }
        if !self
            .regions
            .get(region.parent as usize)
            .is_some_and(|p| p.is_live())
        {
            problems.push(format!("region {id}: parent {} is not live", region.parent));
        }
        let (mut child, mut prev, mut seen) = (region.first_child, NO_REGION, 0);
        while child != NO_REGION {
            seen += 1;
            match self.regions.get(child as usize).filter(|s| s.is_live()) {
                Some(c)
                    if c.region.parent == id
                        && c.region.prev_sibling == prev
                        && seen <= self.regions.len() =>
                {
                    prev = child;
                    child = c.region.next_sibling;
                }
                _ => {
                    problems.push(format!(
                        "region {id} lists child {child}, which does not point back (or the list cycles)"
                    ));
                    break;
                }
            }
        }
    }

    fn check_region(
        &self,
        id: u32,
        region: &Region,
        slot_records: &mut HashMap<u32, u32>,
        problems: &mut Vec<String>,
    ) {
        region.slots.check(problems);
        let handle = self.live_handle(id);
        // One list of (page, offset, size) for all pages, sorted by page
        // below so that each page's objects are one run: a list per page
        // cost an allocation each on every check.
        let mut in_pages: Vec<(u32, u32, u32)> = Vec::new();
        let mut in_nursery: Vec<(u32, u32)> = Vec::new();
        let (mut strong, mut moved, mut dedicated) = (0, 0, 0);
        for (slot, record) in region.slots.records() {
            let home = ObjectHandle::new(handle, slot, record.generation);
            let node = match record.occupant() {
                Occupant::Live => None,
                Occupant::Forwarded(node) => Some(node),
                Occupant::Free | Occupant::Retired => continue,
            };
            if let Some(node) = node {
                // A forwarding slot whose object died is freed lazily, when
                // its region's table fills up; it only has to be counted.
                *slot_records.entry(node).or_default() += 1;
                continue;
            }
            let aux = region.slots.aux(slot);
            strong += u32::from(aux.strong > 0);
            if let Some(node) = aux.node() {
                moved += 1;
                if self.forwarding.home(node) != Some(home) {
                    problems.push(format!("moved object {home} is not its node's home"));
                }
            }
            if !self.destructors.is_valid_tag(record.tag) {
                problems.push(format!(
                    "{home} has unknown type index in tag {:#x}",
                    record.tag
                ));
            }
            let Some(heap) = record.heap() else { continue };
            let Ok(layout) = Layout::from_size_align(record.size(), aux.align()) else {
                problems.push(format!("{home} has an invalid layout"));
                continue;
            };
            dedicated += u32::from(heap.page == crate::pool::DEDICATED_PAGE);
            match region.pool.check_object(heap, layout) {
                Ok(Some((crate::pool::NURSERY_PAGE, offset))) => {
                    in_nursery.push((offset, record.size() as u32));
                }
                Ok(Some((page, offset))) => in_pages.push((page, offset, record.size() as u32)),
                Ok(None) => {}
                Err(problem) => problems.push(format!("{home}: {problem}")),
            }
        }
        in_pages.sort_unstable();
        region.pool.check(&mut in_nursery, &in_pages, problems);
        let counts = (
            region.strong_objects,
            region.moved_objects,
            region.pool.dedicated,
        );
        if (strong, moved, dedicated) != counts {
            problems.push(format!(
                "{strong} strong, {moved} moved, {dedicated} dedicated objects; the counts say {counts:?}"
            ));
        }
    }
}

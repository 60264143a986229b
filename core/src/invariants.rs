//! `check_invariants`: a full internal-consistency check of a registry.
//!
//! It verifies, and reports every violation of:
//! - the region tree: the root is live at id 0 with no parent; every other
//!   live region has refcount >= 1 and a live parent whose child list holds it
//!   at its recorded index; every listed child names its parent back; parent
//!   chains reach the root;
//! - the region table: dead ids are on the free list exactly once unless
//!   retired; the live-region count is exact;
//! - per region: the slot table's sparse set, free list and forwarding count;
//!   every forwarding record leads to a live object (records are freed with
//!   their object);
//!   live slots and pool entries are a bijection (same count, same order);
//!   the surviving-object count; every entry's layout limits, inline rule and
//!   typed tag; arena bounds, alignment, and no overlap between any two live
//!   chunks or free chunks;
//! - ghost tables: the index and the tables agree; no table names a live
//!   region incarnation or forwards into its own dead region; every table is
//!   on the host list of exactly one live region; each table's live-target
//!   count equals the number of alias-list entries naming it, every alias list
//!   belongs to exactly one live object, and no kept table is empty.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use alloc::collections::BTreeMap;

use crate::alias::Alias;
use crate::ghost::NO_HOST_LIST;
use crate::handle::ObjectHandle;
use crate::pool::{INLINE_ALIGN, INLINE_SIZE, NO_ALIASES};
use crate::region::NO_PARENT;
use crate::registry::Registry;
use crate::slot_table::SlotState;
use crate::{MAX_ALIGN, MAX_OBJECT_SIZE};

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
        self.check_objects(&mut problems);
        self.check_ghosts(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvariantViolations(problems))
        }
    }

    fn check_tree(&self, problems: &mut Vec<String>) {
        match self.regions.first() {
            Some(slot)
                if slot.generation == 0
                    && slot.region.as_ref().is_some_and(|r| r.parent == NO_PARENT) => {}
            _ => problems.push("the root is not live at id 0 generation 0 without a parent".into()),
        }
        let mut free_seen = vec![false; self.regions.len()];
        for &id in &self.free_region_ids {
            match self.regions.get(id as usize) {
                Some(slot) if slot.region.is_none() && !slot.retired && !free_seen[id as usize] => {
                    free_seen[id as usize] = true;
                }
                _ => problems.push(format!(
                    "free region id {id} is live, retired, duplicated or out of range"
                )),
            }
        }
        let mut live = 0;
        for (id, slot) in self.regions.iter().enumerate() {
            let Some(region) = &slot.region else {
                if !slot.retired && !free_seen[id] {
                    problems.push(format!("dead region id {id} is neither free nor retired"));
                }
                continue;
            };
            live += 1;
            if id == 0 {
                continue;
            }
            if region.refcount == 0 {
                problems.push(format!("live region {id} has refcount 0"));
            }
            match self
                .regions
                .get(region.parent as usize)
                .and_then(|p| p.region.as_ref())
            {
                Some(parent)
                    if parent.children.get(region.index_in_parent as usize)
                        == Some(&(id as u32)) => {}
                _ => problems.push(format!(
                    "region {id}: parent {} does not list it at index {}",
                    region.parent, region.index_in_parent
                )),
            }
        }
        for (id, slot) in self.regions.iter().enumerate() {
            let Some(region) = &slot.region else { continue };
            for (index, &child) in region.children.iter().enumerate() {
                match self
                    .regions
                    .get(child as usize)
                    .and_then(|s| s.region.as_ref())
                {
                    Some(c) if c.parent == id as u32 && c.index_in_parent == index as u32 => {}
                    _ => problems.push(format!(
                        "region {id} lists child {child} at {index}, which does not point back"
                    )),
                }
            }
        }
        // Every live region is reachable from the root through child lists
        // (so parent links have no cycle); a walk, not recursion.
        let mut reached = vec![false; self.regions.len()];
        let mut stack = vec![0u32];
        let mut reachable = 0;
        while let Some(id) = stack.pop() {
            let Some(region) = self
                .regions
                .get(id as usize)
                .and_then(|s| s.region.as_ref())
            else {
                continue;
            };
            if core::mem::replace(&mut reached[id as usize], true) {
                problems.push(format!("region {id} is reached twice from the root"));
                continue;
            }
            reachable += 1;
            stack.extend_from_slice(&region.children);
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

    fn check_objects(&self, problems: &mut Vec<String>) {
        for (id, slot) in self.regions.iter().enumerate() {
            let Some(region) = &slot.region else { continue };
            let mut local = Vec::new();
            region.slots.check(&mut local);
            region.pool.check(&mut local);
            if region.slots.live_len() != region.pool.len() {
                local.push(format!(
                    "{} live slots but {} pool entries",
                    region.slots.live_len(),
                    region.pool.len()
                ));
            }
            // Forwarding records are freed with their object, so every one
            // left in a live region leads to a live object.
            let region_handle = self.live_handle(id as u32);
            for (slot, record) in region.slots.records().iter().enumerate() {
                if let SlotState::Forwarded(_) = record.state {
                    let handle = ObjectHandle {
                        region: region_handle,
                        slot: slot as u32,
                        slot_generation: record.generation,
                    };
                    if let Err(error) = self.locate(handle) {
                        local.push(format!(
                            "forwarding record {handle} outlived its object: {error}"
                        ));
                    }
                }
            }
            let strong = region
                .pool
                .entries()
                .iter()
                .filter(|e| e.strong > 0)
                .count();
            if strong != region.strong_objects as usize {
                local.push(format!(
                    "{strong} objects with strong refs but the count says {}",
                    region.strong_objects
                ));
            }
            for (position, entry) in region.pool.entries().iter().enumerate() {
                let inline = entry.size() <= INLINE_SIZE && entry.align() <= INLINE_ALIGN;
                if entry.size() > MAX_OBJECT_SIZE
                    || entry.align() > MAX_ALIGN
                    || inline != entry.is_inline()
                {
                    local.push(format!(
                        "entry {position}: {entry:?} breaks the layout rules"
                    ));
                }
                if entry.tag.is_typed() && !self.destructors.is_typed_tag(entry.tag) {
                    local.push(format!("entry {position} has unclaimed {}", entry.tag));
                }
            }
            problems.extend(local.into_iter().map(|p| format!("region {id}: {p}")));
        }
    }

    fn check_ghosts(&self, problems: &mut Vec<String>) {
        self.ghosts.check(problems);
        let live_regions = || self.regions.iter().filter_map(|slot| slot.region.as_ref());
        // Host lists: owned by live regions, one region each, covering every table.
        let mut owners = BTreeMap::new();
        let mut hosted = 0;
        for region in live_regions().filter(|r| r.ghost_host != NO_HOST_LIST) {
            if !self.ghosts.is_host_list(region.ghost_host) {
                problems.push(format!(
                    "a region names unknown host list {}",
                    region.ghost_host
                ));
            }
            if owners.insert(region.ghost_host, ()).is_some() {
                problems.push(format!(
                    "host list {} is owned by two regions",
                    region.ghost_host
                ));
            }
            hosted += self.ghosts.hosted_len(region.ghost_host);
        }
        if hosted != self.ghosts.len() {
            problems.push(format!(
                "live regions host {hosted} of {} ghost tables",
                self.ghosts.len()
            ));
        }
        // Alias lists: one per aliased entry, naming live tables, and adding
        // up to each table's live-target count.
        let (list_ids, free_ids) = self.aliases.ids();
        let mut owned = vec![false; list_ids];
        for &id in free_ids {
            owned[id as usize] = true; // a free id must not be named by an entry
        }
        let mut targets: BTreeMap<u32, u32> = BTreeMap::new();
        for entry in live_regions().flat_map(|r| r.pool.entries()) {
            if entry.aliases == NO_ALIASES {
                continue;
            }
            match owned.get_mut(entry.aliases as usize) {
                Some(seen) if !*seen => *seen = true,
                _ => problems.push(format!(
                    "alias list {} is free, shared or out of range",
                    entry.aliases
                )),
            }
            for alias in self.aliases.list(entry.aliases) {
                if let Alias::Table(table) = *alias {
                    *targets.entry(table).or_default() += 1;
                }
            }
        }
        if let Some(id) = owned.iter().position(|seen| !seen) {
            problems.push(format!(
                "alias list {id} belongs to no entry and is not free"
            ));
        }
        for (index, table) in self.ghosts.iter() {
            let source = &self.regions[table.source.id() as usize];
            if source.region.is_some() && source.generation == table.source.generation() {
                problems.push(format!(
                    "ghost table of {} names a live region",
                    table.source
                ));
            }
            let aliased = targets.remove(&index).unwrap_or(0);
            if aliased != table.live_targets {
                problems.push(format!(
                    "ghost table {index} counts {} live targets but {aliased} objects list it",
                    table.live_targets
                ));
            }
        }
        if let Some((table, _)) = targets.into_iter().next() {
            problems.push(format!("an alias list names freed ghost table {table}"));
        }
    }
}

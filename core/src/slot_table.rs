//! The slot table: the indirection between object handles and pool entries.
//!
//! Each slot record has a generation and a state. A handle
//! `(slot, generation)` names the record's current occupant only while the
//! generations match. Live slots are kept in a [`SparseSet`] whose packed
//! order is exactly the order of the pool's entries.

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::handle::{next_generation, ObjectHandle};
use crate::sparse_set::{Removal, SparseSet};

/// Marks the end of the free list.
const NO_SLOT: u32 = u32::MAX;

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// A live object, at the slot's position in the live set.
    Live,
    /// The object moved; this record forwards to a newer handle of it.
    Forwarded(ObjectHandle),
    /// Free; the next free slot (or `NO_SLOT`).
    Free { next: u32 },
    /// The generation reached `MAX_GENERATION`; the slot is never used again.
    Retired,
}

/// One slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotRecord {
    /// The generation handles to the current (or last) occupant carry.
    pub generation: u32,
    pub state: SlotState,
}

/// Slot records plus the live set.
#[derive(Debug)]
pub(crate) struct SlotTable {
    records: Vec<SlotRecord>,
    /// Head of the free list threaded through `SlotState::Free`.
    free_head: u32,
    /// Live slots, in pool order.
    live: SparseSet,
    /// Number of records in state `Forwarded`.
    forwarded: u32,
}

impl Default for SlotTable {
    fn default() -> Self {
        SlotTable {
            records: Vec::new(),
            free_head: NO_SLOT,
            live: SparseSet::default(),
            forwarded: 0,
        }
    }
}

impl SlotTable {
    /// The record of `slot`, if it exists.
    #[inline]
    pub fn record(&self, slot: u32) -> Option<&SlotRecord> {
        self.records.get(slot as usize)
    }

    /// The record of `slot`, mutably.
    pub fn record_mut(&mut self, slot: u32) -> Option<&mut SlotRecord> {
        self.records.get_mut(slot as usize)
    }

    /// Every record, indexed by slot id.
    pub fn records(&self) -> &[SlotRecord] {
        &self.records
    }

    /// The position of a live slot in the pool.
    #[inline]
    pub fn position(&self, slot: u32) -> Option<u32> {
        self.live.position(slot)
    }

    /// The position of a slot whose record says `Live`.
    #[inline]
    pub fn live_position(&self, slot: u32) -> u32 {
        self.live.position_of_member(slot)
    }

    /// The live slots, in pool order.
    pub fn live_slots(&self) -> &[u32] {
        self.live.members()
    }

    /// Number of live slots.
    pub fn live_len(&self) -> usize {
        self.live.len()
    }

    /// Makes room for `additional` allocations, so that `allocate` cannot fail
    /// for lack of memory.
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        let oom = |_| Error::OutOfMemory {
            requested: additional * core::mem::size_of::<SlotRecord>(),
        };
        self.records.try_reserve(additional).map_err(oom)?;
        let bound = self.records.len() + additional;
        self.live.try_reserve(bound, additional).map_err(oom)
    }

    /// Takes a free slot (or a new one) for a live object; returns
    /// `(slot, generation)`. The object's position is the last one.
    #[inline]
    pub fn allocate(&mut self) -> Result<(u32, u32)> {
        let slot = if self.free_head != NO_SLOT {
            let slot = self.free_head;
            let record = &mut self.records[slot as usize];
            let SlotState::Free { next } = record.state else {
                unreachable!("free list reaches slot {slot} in state {:?}", record.state)
            };
            self.free_head = next;
            record.state = SlotState::Live;
            slot
        } else {
            let slot = u32::try_from(self.records.len())
                .ok()
                .filter(|&slot| slot != NO_SLOT)
                .ok_or(Error::IdSpaceExhausted)?;
            self.records.push(SlotRecord {
                generation: 0,
                state: SlotState::Live,
            });
            slot
        };
        self.live.insert(slot);
        Ok((slot, self.records[slot as usize].generation))
    }

    /// Frees a live slot: bumps its generation (or retires it) and returns how
    /// the live set moved, for the pool to do the same.
    #[inline]
    pub fn release(&mut self, slot: u32) -> Removal {
        let removal = self.live.remove(slot).expect("released slot is live");
        self.vacate(slot);
        removal
    }

    /// Bumps `slot`'s generation and puts it on the free list, or retires it
    /// at the last generation.
    fn vacate(&mut self, slot: u32) {
        let record = &mut self.records[slot as usize];
        match next_generation(record.generation) {
            Some(generation) => {
                record.generation = generation;
                record.state = SlotState::Free {
                    next: self.free_head,
                };
                self.free_head = slot;
            }
            None => record.state = SlotState::Retired,
        }
    }

    /// Turns a live slot into a forwarding record to `target`, keeping its
    /// generation so that old handles still match it.
    pub fn forward(&mut self, slot: u32, target: ObjectHandle) -> Removal {
        let removal = self.live.remove(slot).expect("forwarded slot is live");
        self.records[slot as usize].state = SlotState::Forwarded(target);
        self.forwarded += 1;
        removal
    }

    /// Frees a forwarding record whose object is gone: bumps the generation
    /// (or retires the slot) and puts it on the free list.
    pub fn release_forwarded(&mut self, slot: u32) {
        debug_assert!(matches!(
            self.records[slot as usize].state,
            SlotState::Forwarded(_)
        ));
        self.forwarded -= 1;
        self.vacate(slot);
    }

    /// Number of forwarding records.
    pub fn forwarded_len(&self) -> u32 {
        self.forwarded
    }

    /// Whether `count` more slots can be allocated without running out of ids.
    pub fn has_ids_for(&self, count: usize) -> bool {
        if self.records.len().saturating_add(count) < NO_SLOT as usize {
            return true;
        }
        let free =
            self.records.len() - self.live.len() - self.forwarded as usize - self.retired_len();
        count <= free || self.records.len() + (count - free) < NO_SLOT as usize
    }

    fn retired_len(&self) -> usize {
        // Retirement is rare; counting on demand keeps the hot paths lean.
        self.records
            .iter()
            .filter(|r| r.state == SlotState::Retired)
            .count()
    }

    /// Checks the live set, the free list and that every `Live` record is in
    /// the live set and nothing else is.
    pub fn check(&self, problems: &mut Vec<alloc::string::String>) {
        use alloc::format;
        if let Err(problem) = self.live.check() {
            problems.push(problem);
        }
        let mut live = 0;
        for (slot, record) in self.records.iter().enumerate() {
            let is_live = record.state == SlotState::Live;
            live += usize::from(is_live);
            if is_live != self.live.contains(slot as u32) {
                problems.push(format!(
                    "slot {slot} is {:?} but live-set membership says {}",
                    record.state, !is_live
                ));
            }
        }
        let forwarded = self
            .records
            .iter()
            .filter(|r| matches!(r.state, SlotState::Forwarded(_)))
            .count();
        if forwarded != self.forwarded as usize {
            problems.push(format!(
                "{forwarded} forwarding records but the count says {}",
                self.forwarded
            ));
        }
        if live != self.live.len() {
            problems.push(format!(
                "{live} live records but {} live-set members",
                self.live.len()
            ));
        }
        let mut free = 0;
        let mut cursor = self.free_head;
        while cursor != NO_SLOT {
            free += 1;
            if free > self.records.len() {
                problems.push("the free list has a cycle".into());
                break;
            }
            match self.records.get(cursor as usize).map(|r| r.state) {
                Some(SlotState::Free { next }) => cursor = next,
                other => {
                    problems.push(format!(
                        "free list reaches slot {cursor} in state {other:?}"
                    ));
                    break;
                }
            }
        }
        let free_records = self
            .records
            .iter()
            .filter(|r| matches!(r.state, SlotState::Free { .. }))
            .count();
        if free <= self.records.len() && free != free_records {
            problems.push(format!(
                "{free_records} free records but {free} on the free list"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::MAX_GENERATION;

    fn table_with(n: usize) -> SlotTable {
        let mut table = SlotTable::default();
        table.try_reserve(n).unwrap();
        for _ in 0..n {
            table.allocate().unwrap();
        }
        table
    }

    fn check(table: &SlotTable) {
        let mut problems = Vec::new();
        table.check(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn release_bumps_the_generation_and_reuse_hands_it_out() {
        let mut table = table_with(2);
        assert_eq!(table.record(0).unwrap().generation, 0);
        table.release(0);
        assert_eq!(table.record(0).unwrap().generation, 1);
        assert!(table.position(0).is_none());
        table.try_reserve(1).unwrap();
        assert_eq!(
            table.allocate().unwrap(),
            (0, 1),
            "slot 0 is recycled with generation 1"
        );
        check(&table);
    }

    #[test]
    fn free_slots_are_recycled_last_in_first_out() {
        let mut table = table_with(4);
        table.release(1);
        table.release(3);
        table.try_reserve(3).unwrap();
        assert_eq!(table.allocate().unwrap().0, 3);
        assert_eq!(table.allocate().unwrap().0, 1);
        assert_eq!(
            table.allocate().unwrap().0,
            4,
            "a new slot once the free list is empty"
        );
        check(&table);
    }

    #[test]
    fn a_slot_retires_at_the_last_generation() {
        let mut table = table_with(1);
        table.records[0].generation = MAX_GENERATION;
        table.release(0);
        assert_eq!(table.record(0).unwrap().state, SlotState::Retired);
        table.try_reserve(1).unwrap();
        assert_eq!(
            table.allocate().unwrap(),
            (1, 0),
            "the retired slot is never handed out"
        );
        check(&table);
    }

    #[test]
    fn forwarding_keeps_the_generation_and_leaves_the_live_set() {
        let mut table = table_with(3);
        let target = ObjectHandle::from_raw_parts(9, 1, 4, 2);
        let removal = table.forward(0, target);
        assert_eq!(removal.position, 0);
        assert_eq!(removal.moved, Some(2));
        assert_eq!(table.record(0).unwrap().generation, 0);
        assert_eq!(table.record(0).unwrap().state, SlotState::Forwarded(target));
        assert_eq!(table.position(2), Some(0));
        assert_eq!(table.live_slots(), &[2, 1]);
        check(&table);
    }
}

//! `compact`: one incremental compaction step of a region.

use core::alloc::Layout;

use super::Registry;
use crate::error::Result;
use crate::handle::RegionHandle;
use crate::pool::Compaction;

impl Registry {
    /// Moves live objects of `region` out of its emptiest pages into the
    /// holes of its other pages, moving at most `max_bytes_moved` bytes, and
    /// gives the blocks that empty back to the block cache (see
    /// [`Compaction`]). Every handle stays valid and every object keeps its
    /// contents; no destructor runs; nothing is allocated. Call it again to
    /// continue: each step picks the emptiest pages afresh.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let layout = Layout::from_size_align(100, 8).unwrap();
    /// let handles: Vec<_> = (0..200u8)
    ///     .map(|i| reg.alloc(r, layout, &[i; 100], TypeTag(0)).unwrap())
    ///     .collect();
    /// for h in handles.iter().skip(1).step_by(2) {
    ///     reg.free(*h).unwrap(); // half of every page is now a hole
    /// }
    /// let before = reg.arena_count(r).unwrap();
    /// while reg.compact(r, usize::MAX).unwrap().objects_moved > 0 {}
    /// assert!(reg.arena_count(r).unwrap() < before);
    /// assert_eq!(reg.get(handles[100]).unwrap(), &[100; 100]);
    /// ```
    pub fn compact(&mut self, region: RegionHandle, max_bytes_moved: usize) -> Result<Compaction> {
        self.region(region)?;
        let Registry {
            regions, blocks, ..
        } = self;
        let live = &mut regions[region.id() as usize].region;
        let mut report = Compaction::default();
        if !live.pool.begin_compaction() {
            return Ok(report);
        }
        for slot in 0..live.slots.len() as u32 {
            let record = live.slots.record(slot).expect("slot in range");
            let Some(heap) = record.heap().filter(|_| record.is_live()) else {
                continue;
            };
            if !live.pool.is_evacuating(heap.page) {
                continue;
            }
            let size = record.size();
            if report.bytes_moved.saturating_add(size) > max_bytes_moved {
                break;
            }
            let align = live.slots.aux(slot).align();
            let layout = Layout::from_size_align(size, align).expect("a live layout");
            if let Some(moved) = live.pool.relocate(heap, layout, blocks, &mut report) {
                live.slots.record_mut(slot).set_heap(moved);
                report.objects_moved += 1;
                report.bytes_moved += size;
            }
        }
        live.pool.end_compaction();
        Ok(report)
    }
}

//! One region: its place in the tree, its refcount, its objects.

use alloc::vec::Vec;

use crate::ghost::NO_HOST_LIST;
use crate::pool::Pool;
use crate::slot_table::SlotTable;

/// The parent id of the root.
pub(crate) const NO_PARENT: u32 = u32::MAX;

/// A live region.
#[derive(Debug)]
pub(crate) struct Region {
    /// Id of the parent region (always live: a dying region's children are
    /// reparented first), or `NO_PARENT` for the root.
    pub parent: u32,
    /// References held by users; the region dies when it reaches 0. The root's is 0 and unused.
    pub refcount: u32,
    /// Ids of the live child regions, in no particular order.
    pub children: Vec<u32>,
    /// This region's position in its parent's `children`.
    pub index_in_parent: u32,
    /// Slot records; live slots are parallel to `pool`'s entries.
    pub slots: SlotTable,
    /// Entries and the memory behind them.
    pub pool: Pool,
    /// The host list of the ghost tables this region hosts, or `NO_HOST_LIST`.
    pub ghost_host: u32,
    /// Number of live objects with a strong count above 0 (the ones that
    /// survive this region's death), so that a death with none skips the scan.
    pub strong_objects: u32,
}

impl Region {
    /// A fresh region with refcount 1.
    pub fn new(parent: u32, index_in_parent: u32, block_size: u32) -> Self {
        Region {
            parent,
            refcount: 1,
            children: Vec::new(),
            index_in_parent,
            slots: SlotTable::default(),
            pool: Pool::new(block_size),
            ghost_host: NO_HOST_LIST,
            strong_objects: 0,
        }
    }
}

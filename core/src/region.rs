//! One region: its place in the tree, its refcount, its objects.

use crate::fallible::system_free;
use crate::pool::{Pool, DEDICATED_PAGE};
use crate::slot_table::SlotTable;

/// The parent id of the root.
pub(crate) const NO_PARENT: u32 = u32::MAX;
/// The end of a child or sibling link.
pub(crate) const NO_REGION: u32 = u32::MAX;

/// A region: live, or the recycled tables of a dead one waiting for the
/// next region to take its id.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Region {
    /// Slot records (first: `get` reads them right after the region's key).
    pub slots: SlotTable,
    /// Pages and the pools that carve them.
    pub pool: Pool,
    /// Id of the parent region (always live: a dying region's children are
    /// reparented first), or `NO_PARENT` for the root.
    pub parent: u32,
    /// The children form a doubly linked list through the child regions
    /// themselves (no allocation per child): the first child, or `NO_REGION`.
    pub first_child: u32,
    /// The next sibling in the parent's list, or `NO_REGION`.
    pub next_sibling: u32,
    /// The previous sibling in the parent's list, or `NO_REGION`.
    pub prev_sibling: u32,
    /// References held by users; the region dies when it reaches 0. The
    /// root's is 0 and unused.
    pub refcount: u32,
    /// Live objects with a strong count above 0 (they survive this
    /// region's death), so that a death with none skips the scan.
    pub strong_objects: u32,
    /// Live objects with a forwarding node (they moved here).
    pub moved_objects: u32,
    /// The region has a budget (in `Accounts::region_budgets`).
    pub budgeted: bool,
    /// The region stored strong references (it has a list in
    /// `Registry::stored`), given back at its death.
    pub stores: bool,
    /// The id reached its last generation and is never reused (set on the
    /// dead tables; kept here, in the padding, so that a region slot stays
    /// three cache lines).
    pub retired: bool,
}

impl Default for Region {
    fn default() -> Self {
        Region {
            slots: SlotTable::default(),
            pool: Pool::default(),
            parent: NO_PARENT,
            first_child: NO_REGION,
            next_sibling: NO_REGION,
            prev_sibling: NO_REGION,
            refcount: 0,
            strong_objects: 0,
            moved_objects: 0,
            budgeted: false,
            stores: false,
            retired: false,
        }
    }
}

impl Region {
    /// Makes these (empty) tables a fresh, childless region with refcount 1
    /// whose nursery will be `1 << nursery_log2` bytes (the caller links it
    /// into its parent's child list).
    pub fn start(&mut self, parent: u32, nursery_log2: u8) {
        debug_assert_eq!(self.slots.len(), 0);
        self.pool.nursery_log2 = nursery_log2;
        self.parent = parent;
        self.first_child = NO_REGION;
        self.next_sibling = NO_REGION;
        self.prev_sibling = NO_REGION;
        self.refcount = 1;
        self.strong_objects = 0;
        self.moved_objects = 0;
    }

    /// Heap bytes the region uses: what its nursery handed out plus its
    /// other pages (what the next region's nursery is sized from).
    pub fn heap_bytes(&self) -> usize {
        self.pool.nursery_bytes() + self.pool.page_bytes() - self.pool.nursery_page_bytes()
    }

    /// Bytes of memory the region's tables hold (not its pages).
    pub fn table_bytes(&self) -> usize {
        self.slots.table_bytes() + self.pool.table_bytes()
    }

    /// Bytes a dead region keeps for the next region that takes its id:
    /// its tables and its empty nursery page.
    pub fn retained_bytes(&self) -> usize {
        self.table_bytes() + self.pool.page_bytes()
    }

    /// Gives the tables' capacity back (the region is dead and holds no page).
    pub fn shrink(&mut self) {
        self.slots.shrink();
        self.pool.shrink();
    }

    /// Frees the dedicated allocations of the live objects.
    #[inline]
    pub fn free_dedicated(&mut self) {
        if self.pool.dedicated != 0 {
            self.free_each_dedicated();
        }
    }

    fn free_each_dedicated(&mut self) {
        for (slot, record) in self.slots.live() {
            if let Some(heap) = record.heap().filter(|heap| heap.page == DEDICATED_PAGE) {
                let align = self.slots.aux(slot).align();
                let layout = core::alloc::Layout::from_size_align(record.size(), align)
                    .expect("a live object's layout is valid");
                // SAFETY: the object owns its dedicated allocation, made with
                // this layout; its region is being torn down, so the object
                // is never read again.
                unsafe { system_free(heap.data, layout) };
                self.pool.dedicated -= 1;
            }
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.free_dedicated();
    }
}

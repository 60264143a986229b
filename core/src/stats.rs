//! Statistics: what a region or the whole registry holds, and what happened.
//!
//! Figures of state (objects, payload, pages) are computed from the tables
//! when asked — O(objects + pages) — so keeping them costs the allocation
//! path nothing. Event counters and peaks are registry-wide and kept as the
//! events happen (`accounting.rs`).

use crate::error::Result;
use crate::handle::RegionHandle;
use crate::pool::{DEDICATED_PAGE, ZERO_SIZED_PAGE};
use crate::region::Region;
use crate::registry::Registry;

/// What a set of live objects holds and where their bytes are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Occupancy {
    /// Live objects.
    pub objects: u64,
    /// Live objects stored in their slot record (size and alignment at most
    /// [`INLINE_SIZE`](crate::INLINE_SIZE) / [`INLINE_ALIGN`](crate::INLINE_ALIGN)).
    pub inline_objects: u64,
    /// Live objects stored on the heap (in a page or a dedicated allocation).
    pub heap_objects: u64,
    /// Payload bytes: the sum of the live objects' sizes (what budgets count).
    pub payload_bytes: u64,
    /// Bytes of the arena blocks (pages) held, the nursery included.
    pub page_bytes: u64,
    /// Payload bytes of the objects stored in those pages.
    pub page_payload_bytes: u64,
    /// Payload bytes of the objects with a dedicated allocation each.
    pub dedicated_bytes: u64,
    /// Live objects that moved here and keep a forwarding node.
    pub moved_in_objects: u64,
    /// Slots left behind by manual promotions, still forwarding.
    pub forwarding_slots: u64,
}

impl Occupancy {
    /// Bytes of the pages that hold no payload: free chunks, never-used
    /// space, the rounding of sizes to chunks, and alignment padding.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, [0u8; 100]).unwrap();
    /// let occupancy = reg.stats(r).unwrap().occupancy;
    /// assert_eq!(occupancy.page_payload_bytes, 100);
    /// assert_eq!(occupancy.free_page_bytes(), occupancy.page_bytes - 100);
    /// ```
    pub fn free_page_bytes(&self) -> u64 {
        self.page_bytes - self.page_payload_bytes
    }

    /// The share of page bytes that holds no payload, from 0.0 (every page
    /// byte is payload) to 1.0; 0.0 when no page is held.
    ///
    /// ```
    /// use regions::{Occupancy, Registry};
    /// assert_eq!(Occupancy::default().fragmentation(), 0.0); // no page
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, [0u8; 100]).unwrap();
    /// let occupancy = reg.stats(r).unwrap().occupancy;
    /// let free = occupancy.free_page_bytes() as f64 / occupancy.page_bytes as f64;
    /// assert_eq!(occupancy.fragmentation(), free);
    /// assert!(free > 0.0 && free < 1.0);
    /// ```
    pub fn fragmentation(&self) -> f64 {
        if self.page_bytes == 0 {
            return 0.0;
        }
        self.free_page_bytes() as f64 / self.page_bytes as f64
    }

    fn add(&mut self, other: &Occupancy) {
        self.objects += other.objects;
        self.inline_objects += other.inline_objects;
        self.heap_objects += other.heap_objects;
        self.payload_bytes += other.payload_bytes;
        self.page_bytes += other.page_bytes;
        self.page_payload_bytes += other.page_payload_bytes;
        self.dedicated_bytes += other.dedicated_bytes;
        self.moved_in_objects += other.moved_in_objects;
        self.forwarding_slots += other.forwarding_slots;
    }

    fn of(region: &Region) -> Occupancy {
        let mut occupancy = Occupancy {
            objects: region.slots.live_len() as u64,
            payload_bytes: region.slots.live_bytes(),
            page_bytes: region.pool.page_bytes() as u64,
            moved_in_objects: u64::from(region.moved_objects),
            forwarding_slots: region.slots.forwarded_len() as u64,
            ..Occupancy::default()
        };
        for (_, record) in region.slots.live() {
            let size = record.size() as u64;
            match record.heap() {
                None => occupancy.inline_objects += 1,
                Some(heap) => {
                    occupancy.heap_objects += 1;
                    match heap.page {
                        DEDICATED_PAGE => occupancy.dedicated_bytes += size,
                        ZERO_SIZED_PAGE => {}
                        _ => occupancy.page_payload_bytes += size,
                    }
                }
            }
        }
        occupancy
    }
}

/// Statistics of one region: see [`Registry::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionStats {
    /// What its own objects hold (not its children's).
    pub occupancy: Occupancy,
    /// Its budget, if it was created with one.
    pub budget: Option<u64>,
    /// Its live child regions.
    pub children: u64,
}

/// Statistics of the whole registry: see [`Registry::global_stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalStats {
    /// What every live object holds.
    pub occupancy: Occupancy,
    /// Live regions, the root included.
    pub live_regions: u64,
    /// The registry-wide budget, if any.
    pub budget: Option<u64>,
    /// Objects allocated so far (each object of a bulk allocation counts).
    pub allocations: u64,
    /// Objects destroyed by [`Registry::free`].
    pub frees: u64,
    /// Objects destroyed by their region's death.
    pub destroyed_by_death: u64,
    /// Objects moved to a parent by a region's death.
    pub promotions_by_death: u64,
    /// Objects moved by [`Registry::promote`] (to another region).
    pub manual_promotions: u64,
    /// Regions created (the root excluded).
    pub regions_created: u64,
    /// Regions that died.
    pub region_deaths: u64,
    /// The most objects live at once so far.
    pub peak_objects: u64,
    /// The most payload bytes live at once so far.
    pub peak_payload_bytes: u64,
    /// Forwarding nodes: objects that moved and are alive.
    pub forwarding_nodes: u64,
    /// Ghost records (old homes in dead regions) that lead to a live object.
    pub ghost_records: u64,
    /// Dead region incarnations with such a record ([`Registry::ghost_table_count`]).
    pub ghost_tables: u64,
    /// Bytes of free blocks the block cache keeps for reuse.
    pub cached_block_bytes: u64,
}

impl Registry {
    /// Statistics of `region`: its objects, where their bytes are, its
    /// budget. O(objects + pages of the region).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, 7u64).unwrap();
    /// reg.alloc_typed(r, [0u8; 100]).unwrap();
    /// let stats = reg.stats(r).unwrap();
    /// assert_eq!(stats.occupancy.objects, 2);
    /// assert_eq!(stats.occupancy.inline_objects, 1);
    /// assert_eq!(stats.occupancy.payload_bytes, 108);
    /// assert!(stats.occupancy.page_bytes >= 100);
    /// ```
    pub fn stats(&self, region: RegionHandle) -> Result<RegionStats> {
        let live = self.region(region)?;
        Ok(RegionStats {
            occupancy: Occupancy::of(live),
            budget: self.accounts.region_budget(region.id()),
            children: self.children(region)?.count() as u64,
        })
    }

    /// Statistics of the whole registry: every live object, the event
    /// counters and peaks, forwarding. O(objects + pages + forwarding
    /// records).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let kept = reg.alloc_typed(r, 1u32).unwrap();
    /// reg.alloc_typed(r, 2u32).unwrap();
    /// reg.retain(kept).unwrap();
    /// reg.release_region(r).unwrap();
    /// let stats = reg.global_stats();
    /// assert_eq!((stats.allocations, stats.promotions_by_death, stats.destroyed_by_death), (2, 1, 1));
    /// assert_eq!((stats.occupancy.objects, stats.peak_objects), (1, 2));
    /// ```
    pub fn global_stats(&self) -> GlobalStats {
        let mut occupancy = Occupancy::default();
        for slot in self.regions.iter().filter(|slot| slot.is_live()) {
            occupancy.add(&Occupancy::of(&slot.region));
        }
        let usage = self.memory_usage();
        let accounts = &self.accounts;
        GlobalStats {
            occupancy,
            live_regions: self.live_regions as u64,
            budget: self.budget(),
            allocations: accounts.allocations(),
            frees: accounts.frees,
            destroyed_by_death: accounts.destroyed_by_death,
            promotions_by_death: accounts.promotions_by_death,
            manual_promotions: accounts.manual_promotions,
            regions_created: accounts.regions_created,
            region_deaths: accounts.region_deaths,
            peak_objects: accounts.peak_objects,
            peak_payload_bytes: accounts.peak_bytes,
            forwarding_nodes: self.forwarding.live_node_count() as u64,
            ghost_records: usage.ghost_records as u64,
            ghost_tables: self.ghost_table_count() as u64,
            cached_block_bytes: usage.cached_block_bytes as u64,
        }
    }
}

//! The registry: the region tree, the object operations, and teardown.
//!
//! The registry owns every region in a `Vec` indexed by region id; a region
//! id is recycled with a generation bump when its region dies, and the dead
//! region's tables keep their capacity for the region that takes the id
//! next (up to the cache's high-water mark). This module holds the region
//! operations; `objects`, `resolve` and `death` hold the rest.

mod bulk;
mod compact;
mod convenience;
mod death;
mod deserialize;
mod iter;
mod objects;

pub(crate) use objects::check_layout;
mod resolve;
mod serialize;
mod stored;

pub use deserialize::HandleMap;

use alloc::vec::Vec;

use crate::block::BlockCache;
use crate::config::Config;
use crate::destructor::Destructors;
use crate::error::{Count, Counted, Error, Found, Result};
use crate::forwarding::{Forwarding, SlotGhost};
use crate::handle::{next_generation, ObjectHandle, RegionHandle};
use crate::region::{Region, NO_PARENT, NO_REGION};

/// Where a registry's memory is: see [`Registry::memory_usage`]. Objects in
/// dedicated allocations are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Bytes of the arena blocks live regions hold.
    pub page_bytes: usize,
    /// Bytes of free blocks kept by the block cache for reuse.
    pub cached_block_bytes: usize,
    /// The block cache's high-water mark.
    pub block_cache_limit: usize,
    /// Blocks obtained from the global allocator so far.
    pub blocks_from_system: u64,
    /// Blocks handed out again from the block cache so far.
    pub blocks_reused: u64,
    /// Capacity of every region's tables (slot records, pools, child
    /// lists), live regions and dead ones keeping theirs for reuse.
    pub table_bytes: usize,
    /// What dead regions keep for the regions that take their ids next:
    /// table capacity and one empty nursery block each (with the cached
    /// blocks, bounded by the block cache's high-water mark).
    pub retained_bytes: usize,
    /// Capacity of the stored-reference records.
    pub stored_bytes: usize,
    /// Capacity of the forwarding nodes and ghost records.
    pub forwarding_bytes: usize,
    /// Ghost records that lead to a live object.
    pub ghost_records: usize,
}

/// The id field of `RegionSlot::key` while no region lives there: no
/// region id reaches it (ids stay below `NO_PARENT - 1`), so no handle
/// equals a dead slot's key.
const DEAD_ID: u32 = u32::MAX;

/// One entry of the region table: 192 bytes, aligned to a cache line, so
/// that the key and the slot records' address share the first line.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct RegionSlot {
    /// The generation of the current (or last) incarnation in the high
    /// half, and the region id in the low half while a region lives here
    /// (`DEAD_ID` otherwise): the handle of the live region as one word,
    /// so comparing it with a handle's word checks the id, the generation
    /// and liveness at once.
    key: u64,
    /// The region, or the recycled tables of the dead one.
    pub region: Region,
    /// The newest ghost record of a dead incarnation of this id (see
    /// `forwarding.rs`).
    pub ghost: SlotGhost,
}

impl RegionSlot {
    /// A slot that never held a region.
    fn unused() -> Self {
        RegionSlot {
            key: RegionHandle::from_raw_parts(DEAD_ID, 0).bits(),
            region: Region::default(),
            ghost: SlotGhost::EMPTY,
        }
    }

    /// The generation of the current (or last) incarnation.
    #[inline]
    pub fn generation(&self) -> u32 {
        (self.key >> 32) as u32
    }

    /// Whether a region lives here.
    #[inline]
    pub fn is_live(&self) -> bool {
        self.key as u32 != DEAD_ID
    }

    /// Whether the id reached its last generation and is never reused.
    #[inline]
    pub fn is_retired(&self) -> bool {
        self.region.retired
    }

    /// Whether the live region here has a budget (in `Accounts::region_budgets`).
    #[inline(always)]
    pub fn is_budgeted(&self) -> bool {
        self.region.budgeted
    }

    /// Whether `handle` names the live region here.
    #[inline(always)]
    pub fn is(&self, handle: RegionHandle) -> bool {
        self.key == handle.bits()
    }

    /// `key ^ handle`: zero iff `handle` names the live region here.
    #[inline(always)]
    pub fn mismatch(&self, handle: RegionHandle) -> u64 {
        self.key ^ handle.bits()
    }
}

/// A registry of hierarchical regions and the objects in them.
///
/// See the [crate documentation](crate) for the model. Every operation
/// validates its handles; a stale or fabricated handle gives `Err`.
/// Dropping the registry destroys every live object exactly once.
#[derive(Debug)]
pub struct Registry {
    /// Indexed by region id. Id 0 is the root, alive until the registry drops.
    pub(crate) regions: Vec<RegionSlot>,
    /// Ids of dead, non-retired regions, reused last in, first out.
    pub(crate) free_region_ids: Vec<u32>,
    /// Forwarding nodes and ghost records.
    pub(crate) forwarding: Forwarding,
    /// Destructors and the type table.
    pub(crate) destructors: Destructors,
    /// Free arena blocks for reuse.
    pub(crate) blocks: BlockCache,
    pub(crate) config: Config,
    /// Forwarding records visited by resolutions through `&mut self`.
    pub(crate) forwarding_hops: u64,
    /// Number of live regions, the root included.
    pub(crate) live_regions: usize,
    /// Table capacity and nursery pages held by dead regions for reuse, in bytes.
    pub(crate) retained_bytes: usize,
    /// How large new regions' nurseries are.
    pub(crate) nursery_hint: crate::pool::NurseryHint,
    /// Storage reserved for the survivors of a death or the objects of a
    /// bulk allocation, reused by every such operation so that it does not
    /// allocate.
    pub(crate) scratch: Vec<Reserved>,
    /// Payload, budgets and event counters.
    pub(crate) accounts: crate::accounting::Accounts,
    /// Which container region stored which strong reference.
    pub(crate) stored: stored::StoredRefs,
    /// Serializers of typed objects, by type.
    pub(crate) persisters: crate::persist::Persisters,
    /// Allocation sites and death events (feature `leak-report`).
    #[cfg(feature = "leak-report")]
    pub(crate) leaks: crate::leak_report::LeakTable,
}

/// Storage reserved for one object before a multi-object operation commits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reserved {
    /// The object's slot in its dying region, or its index in a bulk batch.
    pub slot: u32,
    /// `None` for an object stored in its slot record.
    pub storage: Option<crate::pool::HeapRef>,
    pub layout: core::alloc::Layout,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry with default settings and only the root region.
    ///
    /// ```
    /// use regions::{Registry, RegionHandle};
    /// let reg = Registry::new();
    /// assert_eq!(reg.root(), RegionHandle::ROOT);
    /// ```
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A builder for a registry with non-default settings.
    ///
    /// ```
    /// use regions::Registry;
    /// let reg = Registry::builder().block_cache_bytes(1 << 16).build();
    /// assert_eq!(reg.memory_usage().block_cache_limit, 1 << 16);
    /// // Without settings it builds what `Registry::new` does.
    /// assert_eq!(Registry::builder().build().memory_usage(), Registry::new().memory_usage());
    /// ```
    pub fn builder() -> crate::RegistryBuilder {
        crate::RegistryBuilder::default()
    }

    pub(crate) fn with_config(config: Config) -> Self {
        let mut root = Region::default();
        root.start(NO_PARENT, crate::config::FIRST_BLOCK_LOG2);
        root.refcount = 0; // nobody holds the root; it lives as long as the registry
        let regions = alloc::vec![RegionSlot {
            key: RegionHandle::ROOT.bits(),
            region: root,
            ghost: SlotGhost::EMPTY,
        }];
        Registry {
            regions,
            free_region_ids: Vec::new(),
            forwarding: Forwarding::default(),
            destructors: Destructors::default(),
            blocks: BlockCache::new(config.cache_bytes),
            config,
            forwarding_hops: 0,
            live_regions: 1,
            retained_bytes: 0,
            scratch: Vec::new(),
            accounts: crate::accounting::Accounts::default(),
            nursery_hint: crate::pool::NurseryHint::default(),
            stored: stored::StoredRefs::default(),
            persisters: Default::default(),
            #[cfg(feature = "leak-report")]
            leaks: Default::default(),
        }
    }

    /// The permanent root region.
    ///
    /// ```
    /// use regions::{ErrorKind, RegionHandle, Registry};
    /// let mut reg = Registry::new();
    /// let root = reg.root();
    /// assert_eq!(root, RegionHandle::ROOT);
    /// assert_eq!(reg.parent_of(root).unwrap(), None);
    /// assert_eq!(reg.release_region(root).unwrap_err().kind(), ErrorKind::RootRegion);
    /// ```
    pub fn root(&self) -> RegionHandle {
        RegionHandle::ROOT
    }

    /// The live region `handle` names.
    #[inline(always)]
    pub(crate) fn region(&self, handle: RegionHandle) -> Result<&Region> {
        match self.regions.get(handle.id() as usize) {
            Some(slot) if slot.is(handle) => Ok(&slot.region),
            _ => Err(self.invalid_region(handle)),
        }
    }

    #[cold]
    #[inline(never)]
    fn invalid_region(&self, region: RegionHandle) -> Error {
        let found = match self.regions.get(region.id() as usize) {
            None => Found::NeverIssued,
            Some(slot) if slot.is_retired() => Found::Retired,
            Some(slot) => Found::StaleRegion {
                current: slot.generation(),
            },
        };
        Error::InvalidRegion { region, found }
    }

    /// The live region with id `id` (the caller knows it is live).
    #[inline]
    pub(crate) fn live(&self, id: u32) -> &Region {
        debug_assert!(self.regions[id as usize].is_live());
        &self.regions[id as usize].region
    }

    /// The live region with id `id`, mutably.
    #[inline]
    pub(crate) fn live_mut(&mut self, id: u32) -> &mut Region {
        debug_assert!(self.regions[id as usize].is_live());
        &mut self.regions[id as usize].region
    }

    /// Two distinct regions, mutably.
    pub(crate) fn two_mut(&mut self, a: u32, b: u32) -> (&mut Region, &mut Region) {
        debug_assert_ne!(a, b);
        let (low, high) = (a.min(b) as usize, a.max(b) as usize);
        let (head, tail) = self.regions.split_at_mut(high);
        let (low, high) = (&mut head[low].region, &mut tail[0].region);
        if a < b {
            (low, high)
        } else {
            (high, low)
        }
    }

    /// The handle of the live region with id `id`.
    #[inline]
    pub(crate) fn live_handle(&self, id: u32) -> RegionHandle {
        RegionHandle::from_raw_parts(id, self.regions[id as usize].generation())
    }

    /// Whether `region` names a live region.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// assert!(reg.is_region_alive(r));
    /// reg.release_region(r).unwrap();
    /// assert!(!reg.is_region_alive(r));
    /// let again = reg.create_region(reg.root()).unwrap(); // takes the id of `r`
    /// assert_eq!(again.id(), r.id());
    /// assert!(reg.is_region_alive(again) && !reg.is_region_alive(r));
    /// ```
    #[inline(always)]
    pub fn is_region_alive(&self, region: RegionHandle) -> bool {
        self.regions
            .get(region.id() as usize)
            .is_some_and(|slot| slot.is(region))
    }

    /// Creates a child of `parent` with refcount 1 (the caller's reference).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let child = reg.create_region(reg.root()).unwrap();
    /// assert_eq!(reg.parent_of(child).unwrap(), Some(reg.root()));
    /// assert_eq!(reg.region_refcount(child).unwrap(), 1);
    /// ```
    pub fn create_region(&mut self, parent: RegionHandle) -> Result<RegionHandle> {
        self.region(parent)?;
        let reuse = self.free_region_ids.last().copied();
        if reuse.is_none() {
            if self.regions.len() >= DEAD_ID as usize - 1 {
                return Err(Error::IdSpaceExhausted);
            }
            crate::fallible::reserve(&mut self.regions, 1)?;
        }
        let id = match reuse {
            Some(id) => {
                self.free_region_ids.pop();
                id
            }
            None => {
                self.regions.push(RegionSlot::unused());
                (self.regions.len() - 1) as u32
            }
        };
        let nursery_log2 = self.nursery_hint.log2(&self.config);
        let slot = &mut self.regions[id as usize];
        // The id's ghost record is released once its object is gone.
        self.forwarding.clear_dead(&mut slot.ghost);
        self.retained_bytes -= slot.region.retained_bytes();
        slot.region
            .pool
            .keep_nursery_if(nursery_log2, &mut self.blocks);
        slot.region.start(parent.id(), nursery_log2);
        slot.key = RegionHandle::from_raw_parts(id, slot.generation()).bits();
        self.link_child(parent.id(), id);
        self.live_regions += 1;
        self.accounts.regions_created += 1;
        Ok(self.live_handle(id))
    }

    /// Creates a child of `parent` like [`create_region`](Self::create_region)
    /// whose own objects may hold at most `budget` payload bytes (the sum of
    /// their sizes; its children's objects are not counted). An allocation
    /// that would exceed it fails with [`Error::BudgetExceeded`], and so does
    /// a [`promote`](Self::promote) into the region; a child's death may
    /// still take the region over its budget (see `docs/SEMANTICS.md`,
    /// "Budgets").
    ///
    /// ```
    /// use regions::{Budget, Error, Registry};
    /// let mut reg = Registry::new();
    /// let sandbox = reg.create_region_with_budget(reg.root(), 100).unwrap();
    /// reg.alloc_typed(sandbox, [0u8; 60]).unwrap();
    /// let err = reg.alloc_typed(sandbox, [0u8; 60]).unwrap_err();
    /// assert!(matches!(
    ///     err,
    ///     Error::BudgetExceeded { budget: Budget::Region(r), requested: 60, available: 40 } if r == sandbox
    /// ));
    /// ```
    pub fn create_region_with_budget(
        &mut self,
        parent: RegionHandle,
        budget: u64,
    ) -> Result<RegionHandle> {
        self.region(parent)?;
        self.accounts.reserve_region_budget()?;
        let region = self.create_region(parent)?;
        self.accounts.region_budgets.insert(region.id(), budget);
        self.regions[region.id() as usize].region.budgeted = true;
        Ok(region)
    }

    /// The budget of `region`, if it was created with one.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let capped = reg.create_region_with_budget(reg.root(), 256).unwrap();
    /// let open = reg.create_region(reg.root()).unwrap();
    /// assert_eq!(reg.region_budget(capped).unwrap(), Some(256));
    /// assert_eq!(reg.region_budget(open).unwrap(), None);
    /// reg.release_region(capped).unwrap();
    /// assert_eq!(reg.region_budget(capped).unwrap_err().kind(), ErrorKind::InvalidRegion);
    /// ```
    pub fn region_budget(&self, region: RegionHandle) -> Result<Option<u64>> {
        self.region(region)?;
        Ok(self.accounts.region_budget(region.id()))
    }

    /// Sets (or, with `None`, removes) the registry-wide payload budget:
    /// the sum of the sizes of all live objects. Allocations that would
    /// exceed it fail with [`Error::BudgetExceeded`]; a budget below what is
    /// already live only stops new allocations.
    ///
    /// ```
    /// use regions::{Budget, Error, Registry};
    /// let mut reg = Registry::new();
    /// reg.set_budget(Some(64));
    /// reg.alloc_typed(reg.root(), [0u8; 64]).unwrap();
    /// let err = reg.alloc_typed(reg.root(), 1u8).unwrap_err();
    /// assert!(matches!(err, Error::BudgetExceeded { budget: Budget::Registry, .. }));
    /// ```
    pub fn set_budget(&mut self, budget: Option<u64>) {
        self.accounts.budget = budget.unwrap_or(crate::accounting::UNLIMITED);
    }

    /// The registry-wide payload budget, if any.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// assert_eq!(reg.budget(), None);
    /// reg.set_budget(Some(1024));
    /// assert_eq!(reg.budget(), Some(1024));
    /// reg.set_budget(None);
    /// assert_eq!(reg.budget(), None);
    /// ```
    pub fn budget(&self) -> Option<u64> {
        (self.accounts.budget != crate::accounting::UNLIMITED).then_some(self.accounts.budget)
    }

    /// Checks `bytes` more payload in live `region` against the budgets.
    #[inline]
    pub(crate) fn admit(&self, region: RegionHandle, bytes: u64) -> Result<()> {
        let slot = &self.regions[region.id() as usize];
        self.accounts.admit(
            region,
            slot.region.slots.live_bytes(),
            slot.is_budgeted(),
            bytes,
        )
    }

    fn non_root(&self, region: RegionHandle) -> Result<()> {
        if region == RegionHandle::ROOT {
            return Err(Error::RootRegion);
        }
        self.region(region).map(drop)
    }

    /// Adds a reference to `region`. The root cannot be retained.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.retain_region(r).unwrap();
    /// assert_eq!(reg.region_refcount(r).unwrap(), 2);
    /// assert!(!reg.release_region(r).unwrap()); // still referenced
    /// assert!(reg.release_region(r).unwrap()); // the last reference: it dies
    /// assert_eq!(reg.retain_region(reg.root()).unwrap_err().kind(), ErrorKind::RootRegion);
    /// ```
    pub fn retain_region(&mut self, region: RegionHandle) -> Result<()> {
        self.non_root(region)?;
        let live = self.live_mut(region.id());
        live.refcount = live
            .refcount
            .checked_add(1)
            .ok_or(Error::RefcountOverflow {
                count: Count::Region,
                of: Counted::Region(region),
            })?;
        Ok(())
    }

    /// Drops a reference to `region`; at 0 the region dies (see the crate
    /// documentation). Returns whether it died. The root cannot be released.
    ///
    /// A death needs memory in the parent (slots and storage for the
    /// promoted objects, forwarding records). It is all reserved first: if
    /// the allocator refuses, the result is [`Error::OutOfMemory`] and the
    /// region stays alive with its reference.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let kept = reg.alloc_typed(r, 5u32).unwrap();
    /// let dropped = reg.alloc_typed(r, 6u32).unwrap();
    /// reg.retain(kept).unwrap();
    /// assert!(reg.release_region(r).unwrap());
    /// assert_eq!(*reg.get_typed::<u32>(kept).unwrap(), 5); // promoted to the root
    /// assert!(reg.get_typed::<u32>(dropped).is_err()); // destroyed
    /// assert!(!reg.is_region_alive(r));
    /// ```
    pub fn release_region(&mut self, region: RegionHandle) -> Result<bool> {
        self.non_root(region)?;
        let live = self.live_mut(region.id());
        if live.refcount > 1 {
            live.refcount -= 1;
            return Ok(false);
        }
        self.kill(region.id())?;
        Ok(true)
    }

    /// The number of references to `region` (0 for the root).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// assert_eq!(reg.region_refcount(r).unwrap(), 1);
    /// reg.retain_region(r).unwrap();
    /// assert_eq!(reg.region_refcount(r).unwrap(), 2);
    /// assert_eq!(reg.region_refcount(reg.root()).unwrap(), 0);
    /// ```
    pub fn region_refcount(&self, region: RegionHandle) -> Result<u32> {
        Ok(self.region(region)?.refcount)
    }

    /// The parent of `region`, or `None` for the root.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let outer = reg.create_region(reg.root()).unwrap();
    /// let inner = reg.create_region(outer).unwrap();
    /// assert_eq!(reg.parent_of(inner).unwrap(), Some(outer));
    /// assert_eq!(reg.parent_of(reg.root()).unwrap(), None);
    /// reg.release_region(outer).unwrap(); // `inner` is reparented
    /// assert_eq!(reg.parent_of(inner).unwrap(), Some(reg.root()));
    /// ```
    pub fn parent_of(&self, region: RegionHandle) -> Result<Option<RegionHandle>> {
        let parent = self.region(region)?.parent;
        Ok((parent != NO_PARENT).then(|| self.live_handle(parent)))
    }

    /// The live children of `region`, in no particular order.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let a = reg.create_region(reg.root()).unwrap();
    /// let b = reg.create_region(reg.root()).unwrap();
    /// let mut children: Vec<_> = reg.children(reg.root()).unwrap().collect();
    /// children.sort();
    /// assert_eq!(children, [a, b]);
    /// assert_eq!(reg.children(a).unwrap().count(), 0);
    /// ```
    pub fn children(
        &self,
        region: RegionHandle,
    ) -> Result<impl Iterator<Item = RegionHandle> + '_> {
        let mut child = self.region(region)?.first_child;
        Ok(core::iter::from_fn(move || {
            let id = child;
            if id == NO_REGION {
                return None;
            }
            child = self.live(id).next_sibling;
            Some(self.live_handle(id))
        }))
    }

    /// Puts live region `child` first in `parent`'s child list.
    pub(crate) fn link_child(&mut self, parent: u32, child: u32) {
        let first = self.live(parent).first_child;
        if first != NO_REGION {
            self.live_mut(first).prev_sibling = child;
        }
        let region = self.live_mut(child);
        region.parent = parent;
        region.next_sibling = first;
        region.prev_sibling = NO_REGION;
        self.live_mut(parent).first_child = child;
    }

    /// Takes live region `child` out of its parent's child list.
    pub(crate) fn unlink_child(&mut self, child: u32) {
        let region = self.live(child);
        let (parent, prev, next) = (region.parent, region.prev_sibling, region.next_sibling);
        if prev == NO_REGION {
            self.live_mut(parent).first_child = next;
        } else {
            self.live_mut(prev).next_sibling = next;
        }
        if next != NO_REGION {
            self.live_mut(next).prev_sibling = prev;
        }
    }

    /// Every live region, the root first.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let a = reg.create_region(reg.root()).unwrap();
    /// let b = reg.create_region(a).unwrap();
    /// reg.release_region(a).unwrap();
    /// let live: Vec<_> = reg.live_regions().collect();
    /// assert_eq!(live, [reg.root(), b]);
    /// ```
    pub fn live_regions(&self) -> impl Iterator<Item = RegionHandle> + '_ {
        self.regions
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_live())
            .map(|(id, slot)| RegionHandle::from_raw_parts(id as u32, slot.generation()))
    }

    /// Number of live regions, the root included.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// assert_eq!(reg.live_region_count(), 1); // the root
    /// let r = reg.create_region(reg.root()).unwrap();
    /// assert_eq!(reg.live_region_count(), 2);
    /// reg.release_region(r).unwrap();
    /// assert_eq!(reg.live_region_count(), 1);
    /// ```
    pub fn live_region_count(&self) -> usize {
        self.live_regions
    }

    /// Number of live objects in `region` (objects whose current home it is).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let moved = reg.alloc_typed(r, 1u32).unwrap();
    /// reg.alloc_typed(r, 2u32).unwrap();
    /// assert_eq!(reg.object_count(r).unwrap(), 2);
    /// reg.promote(moved, reg.root()).unwrap(); // its home is the root now
    /// assert_eq!(reg.object_count(r).unwrap(), 1);
    /// assert_eq!(reg.object_count(reg.root()).unwrap(), 1);
    /// ```
    pub fn object_count(&self, region: RegionHandle) -> Result<usize> {
        Ok(self.region(region)?.slots.live_len())
    }

    /// The current home handles of the live objects in `region`, in slot order.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let a = reg.alloc_typed(r, 1u32).unwrap();
    /// let b = reg.alloc_typed(r, 2u32).unwrap();
    /// let c = reg.alloc_typed(r, 3u32).unwrap();
    /// reg.free(b).unwrap();
    /// assert_eq!(reg.objects(r).unwrap().collect::<Vec<_>>(), [a, c]);
    /// ```
    pub fn objects(&self, region: RegionHandle) -> Result<impl Iterator<Item = ObjectHandle> + '_> {
        let live = self.region(region)?;
        Ok(live
            .slots
            .live()
            .map(move |(slot, record)| ObjectHandle::new(region, slot, record.generation)))
    }

    /// Number of arena blocks (pages) `region` holds.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, 1u8).unwrap(); // stored in its slot record
    /// assert_eq!(reg.arena_count(r).unwrap(), 0);
    /// reg.alloc_typed(r, [0u8; 64]).unwrap(); // on the heap: the nursery block
    /// assert_eq!(reg.arena_count(r).unwrap(), 1);
    /// ```
    pub fn arena_count(&self, region: RegionHandle) -> Result<usize> {
        Ok(self.region(region)?.pool.page_count())
    }

    /// Number of ghost tables: dead region incarnations whose forwarding
    /// records still lead to a live object. A table goes away as soon as
    /// every object it forwards to has been destroyed. O(forwarding records).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let kept = reg.alloc_typed(r, 1u32).unwrap();
    /// reg.retain(kept).unwrap();
    /// reg.release_region(r).unwrap(); // `kept` moves to the root; `r`'s records lead to it
    /// assert_eq!(reg.ghost_table_count(), 1);
    /// reg.free(kept).unwrap();
    /// assert_eq!(reg.ghost_table_count(), 0);
    /// ```
    pub fn ghost_table_count(&self) -> usize {
        self.forwarding.ghost_table_count(self.slot_ghosts())
    }

    /// Where the registry's memory is, in bytes and blocks (see [`MemoryUsage`]).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// for _ in 0..3 {
    ///     let r = reg.create_region(reg.root()).unwrap();
    ///     reg.alloc_typed(r, [0u64; 8]).unwrap();
    ///     reg.release_region(r).unwrap();
    /// }
    /// let usage = reg.memory_usage();
    /// assert_eq!(usage.blocks_from_system, 1, "one block, recycled");
    /// ```
    pub fn memory_usage(&self) -> MemoryUsage {
        let (mut page_bytes, mut table_bytes) = (0, 0);
        for slot in &self.regions {
            page_bytes += slot.region.pool.page_bytes();
            table_bytes += slot.region.table_bytes();
        }
        MemoryUsage {
            page_bytes,
            cached_block_bytes: self.blocks.cached_bytes(),
            block_cache_limit: self.blocks.limit(),
            blocks_from_system: self.blocks.system_allocs(),
            blocks_reused: self.blocks.reuses(),
            table_bytes,
            retained_bytes: self.retained_bytes,
            stored_bytes: self.stored.table_bytes(),
            forwarding_bytes: self.forwarding.table_bytes()
                + self.slot_ghosts().count() * core::mem::size_of::<SlotGhost>(),
            ghost_records: self.forwarding.live_ghost_records()
                + self
                    .slot_ghosts()
                    .filter(|&(_, _, node)| self.forwarding.home(node).is_some())
                    .count(),
        }
    }

    /// The ghost records kept in region slots: `(dead incarnation, slot,
    /// node)`.
    pub(crate) fn slot_ghosts(&self) -> impl Iterator<Item = (RegionHandle, u32, u32)> + '_ {
        self.regions
            .iter()
            .enumerate()
            .filter_map(|(id, slot)| slot.ghost.entry(id as u32))
    }

    /// Total forwarding records visited by resolutions through `&mut self`
    /// operations. Every old handle reaches its object through at most one
    /// record (see [`resolve`](Self::resolve)), so a resolution adds 0 or 1.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let old = reg.alloc_typed(r, 1u32).unwrap();
    /// let new = reg.promote(old, reg.root()).unwrap();
    /// let before = reg.forwarding_hops();
    /// reg.resolve(new).unwrap(); // the current home: no record
    /// assert_eq!(reg.forwarding_hops(), before);
    /// reg.resolve(old).unwrap(); // one forwarding record
    /// assert_eq!(reg.forwarding_hops(), before + 1);
    /// ```
    pub fn forwarding_hops(&self) -> u64 {
        self.forwarding_hops
    }

    /// Runs `body` with a fresh child of `parent` and releases it afterwards
    /// (unless `body` already released it): a closure form of
    /// [`scope`](Self::scope). If `body` panics, the region is released as
    /// the panic unwinds (an ordinary death: what `body` retained is
    /// promoted) and the panic goes on. If the release at the end cannot
    /// get memory, the result is that `Err` and the region stays alive.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let seen = reg
    ///     .with_region(reg.root(), |reg, scratch| {
    ///         reg.alloc_typed(scratch, [1u8; 64]).unwrap();
    ///         reg.object_count(scratch).unwrap()
    ///     })
    ///     .unwrap();
    /// assert_eq!(seen, 1);
    /// assert_eq!(reg.live_region_count(), 1);
    /// ```
    pub fn with_region<R>(
        &mut self,
        parent: RegionHandle,
        body: impl FnOnce(&mut Registry, RegionHandle) -> R,
    ) -> Result<R> {
        let mut scope = self.scope(parent)?;
        let region = scope.region();
        let out = body(&mut scope, region);
        scope.close()?;
        Ok(out)
    }

    /// Marks region `id` dead: bumps its generation (or retires it).
    pub(crate) fn retire_or_recycle(&mut self, id: u32) {
        let slot = &mut self.regions[id as usize];
        let generation = match next_generation(slot.generation()) {
            Some(generation) => {
                // Capacity was reserved before the death began.
                self.free_region_ids.push(id);
                generation
            }
            None => {
                slot.region.retired = true;
                slot.generation()
            }
        };
        slot.key = RegionHandle::from_raw_parts(DEAD_ID, generation).bits();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if self.destructors.is_empty() {
            return; // the regions' drops free every block and dedicated object
        }
        let Registry {
            regions,
            destructors,
            ..
        } = self;
        let live = regions
            .iter_mut()
            .enumerate()
            .filter(|(_, slot)| slot.is_live());
        let panic = crate::unwind::each_even_if_panicking(live, |(id, slot)| {
            let handle = RegionHandle::from_raw_parts(id as u32, slot.generation());
            death::run_destructors(destructors, handle, &mut slot.region).resume();
        });
        // The regions' drops free every block and dedicated object, also
        // when the panic goes on.
        panic.resume();
    }
}
#[cfg(test)]
mod tests {
    /// The sizes the hot paths and the per-object cost depend on.
    #[test]
    fn hot_structures_keep_their_sizes() {
        use core::mem::size_of;
        assert_eq!(
            size_of::<super::RegionSlot>(),
            192,
            "three cache lines per region"
        );
        assert_eq!(size_of::<crate::ObjectHandle>(), 16);
        assert_eq!(size_of::<crate::RegionHandle>(), 8);
        // A result of `get` is returned in registers or one stack slot pair.
        // Errors are built only in cold, out-of-line functions that write
        // into the caller's return slot; the hot paths never move one. A
        // `TypeMismatch` names both types (two `&'static str`), which sets
        // the size.
        assert!(size_of::<crate::Result<&[u8]>>() <= 56);
        assert!(size_of::<crate::Error>() <= 56);
    }
}

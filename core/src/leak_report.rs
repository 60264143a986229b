//! Leak reports (feature `leak-report`): where every live object was
//! allocated, and which region deaths kept objects alive.
//!
//! **Sites.** The public allocation functions are `#[track_caller]` with
//! the feature, and each reads `Location::caller()` itself (no internal
//! function sits between the user's call and the read), so the site is the
//! `file:line:column` of the user's call. It is kept in a side table,
//! [`LeakTable`]: one vector per region id, indexed by slot, parallel to
//! the region's slot table — `Some(site)` exactly for the live slots of
//! live regions. The type name of a typed object is not stored: its stored
//! tag names its entry in the type table, which has it.
//!
//! **Following the objects.** The entry moves with its object: `free`
//! clears it; a move (manual `promote`, or a death's promotion of a
//! retained object) takes it from the old slot and puts it at the new one;
//! a death empties the dying region's vector (its other objects are
//! destroyed) in O(1), keeping its capacity for the next region that takes
//! the id when the slot table keeps its own. Compaction keeps slots, so it
//! needs nothing. `alloc_slice_fill_with` records its object only once the
//! initialiser has returned every element, so its discard path (the
//! initialiser panicked) has nothing to undo.
//!
//! **Memory.** Room for the entry is reserved before an operation commits
//! (`reserve_sites`, next to the slot table's reservation): a failed
//! reservation is `Error::OutOfMemory` and changes nothing. The allocation
//! fast path checks the room and falls back to the general path, which
//! reserves, when there is none.
//!
//! **Death events.** A death that promotes objects (they had a strong
//! count: something outside the region retained them) logs a
//! [`RetainedAtDeath`] event listing each promoted object's new home, its
//! origin and size, in a log that keeps the last [`LEAK_EVENT_LOG_LEN`]
//! events (older ones are dropped) until `take_leak_events` drains it. Its
//! memory is reserved with the death's other reservations; the work is
//! O(promoted objects), and none at all when nothing is promoted.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::panic::Location;

use crate::destructor::Destructors;
use crate::error::{ObjectType, Result};
use crate::handle::{ObjectHandle, RegionHandle, TypeTag};
use crate::registry::{RegionSlot, Registry};

/// Where an object was allocated: the user's call.
type Site = &'static Location<'static>;

/// How many [`RetainedAtDeath`] events [`Registry::take_leak_events`] can
/// return at most: the log keeps the most recent ones and drops older ones.
pub const LEAK_EVENT_LOG_LEN: usize = 64;

/// Where an object comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file, line and column of the allocation call.
    pub site: &'static Location<'static>,
    /// `core::any::type_name` of a typed object's type (`[T]` for slices);
    /// `None` for raw objects.
    pub type_name: Option<&'static str>,
}

impl fmt::Display for Origin {
    /// `alloc::string::String, allocated at src/main.rs:12:9`, or
    /// `allocated at …` for a raw object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.type_name {
            write!(f, "{name}, ")?;
        }
        write!(f, "allocated at {}", self.site)
    }
}

/// A live object in a [`LeakReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeakedObject {
    /// Its current home handle.
    pub handle: ObjectHandle,
    /// Its size in bytes.
    pub size: usize,
    /// Its alignment in bytes.
    pub align: usize,
    /// Its public tag (for typed objects, [`typed_tag`](crate::typed_tag)
    /// of its type).
    pub tag: TypeTag,
    /// Where it was allocated, and its type.
    pub origin: Origin,
}

impl fmt::Display for LeakedObject {
    /// `object 3v0/5v1: 48 bytes, align 8, alloc::string::String, allocated
    /// at src/main.rs:12:9`; a raw object shows its tag (`…, align 1, tag 7,
    /// allocated at …`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} bytes, align {}, ",
            self.handle, self.size, self.align
        )?;
        if self.origin.type_name.is_none() {
            write!(f, "{}, ", self.tag)?;
        }
        write!(f, "{}", self.origin)
    }
}

/// The live objects of one region, in slot order: see
/// [`Registry::leak_report`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakReport {
    /// The region.
    pub region: RegionHandle,
    /// Its live objects (those whose current home it is), in slot order.
    pub objects: Vec<LeakedObject>,
}

impl LeakReport {
    /// The sum of the objects' sizes (the region's payload bytes).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, 1u64).unwrap();
    /// reg.alloc_typed(r, [0u8; 40]).unwrap();
    /// let report = reg.leak_report(r).unwrap();
    /// assert_eq!(report.total_bytes(), 48);
    /// assert_eq!(report.total_bytes(), reg.stats(r).unwrap().occupancy.payload_bytes);
    /// ```
    pub fn total_bytes(&self) -> u64 {
        self.objects.iter().map(|object| object.size as u64).sum()
    }
}

impl fmt::Display for LeakReport {
    /// A header line (`region 1v0: 2 live objects, 51 bytes`), then one
    /// line per object, indented by two spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.objects.len();
        write!(f, "{}: {count} live object", self.region)?;
        let plural = if count == 1 { "" } else { "s" };
        writeln!(f, "{plural}, {} bytes", self.total_bytes())?;
        for object in &self.objects {
            writeln!(f, "  {object}")?;
        }
        Ok(())
    }
}

/// An object a region's death promoted: see [`RetainedAtDeath`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetainedObject {
    /// Its new home (in the dead region's parent) right after the death.
    pub home: ObjectHandle,
    /// Where it was allocated, and its type.
    pub origin: Origin,
    /// Its size in bytes.
    pub size: usize,
}

impl fmt::Display for RetainedObject {
    /// `object 0v0/4v1: 48 bytes, alloc::string::String, allocated at …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} bytes, {}", self.home, self.size, self.origin)
    }
}

/// A region died holding objects retained from outside (strong count
/// above 0), which were promoted to its parent: often a reference kept
/// longer than meant. Drained by [`Registry::take_leak_events`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetainedAtDeath {
    /// The region that died (its handle is stale now).
    pub region: RegionHandle,
    /// The promoted objects, in the dead region's slot order.
    pub objects: Vec<RetainedObject>,
}

impl fmt::Display for RetainedAtDeath {
    /// A header line (`region 1v0 died holding 1 retained object, 48
    /// bytes`), then one line per object, indented by two spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.objects.len();
        let bytes: u64 = self.objects.iter().map(|object| object.size as u64).sum();
        let plural = if count == 1 { "" } else { "s" };
        writeln!(
            f,
            "{} died holding {count} retained object{plural}, {bytes} bytes",
            self.region
        )?;
        for object in &self.objects {
            writeln!(f, "  {object}")?;
        }
        Ok(())
    }
}

/// The allocation sites of the live objects, and the death event log.
#[derive(Debug, Default)]
pub(crate) struct LeakTable {
    /// Indexed by region id, then slot: `Some` exactly for the live slots
    /// of live regions. A vector may be shorter than its slot table (the
    /// missing entries are `None`); its capacity is the reserved room.
    sites: Vec<Vec<Option<Site>>>,
    /// The objects the death being committed promotes (reserved by
    /// `reserve_retained`).
    pending: Vec<RetainedObject>,
    /// At most `LEAK_EVENT_LOG_LEN` events, oldest first.
    events: VecDeque<RetainedAtDeath>,
}

/// The type name of an object with stored tag `tag`, if it is typed.
fn type_name(destructors: &Destructors, tag: u64) -> Option<&'static str> {
    match destructors.object_type(tag) {
        ObjectType::Type(name) => Some(name),
        ObjectType::Raw(_) => None,
    }
}

impl LeakTable {
    /// Whether an object can be recorded in live region `id`, whose slot
    /// table has `slots` records, without allocating: its slot is at most
    /// `slots`.
    #[inline(always)]
    pub fn has_room(&self, id: u32, slots: usize) -> bool {
        self.sites
            .get(id as usize)
            .is_some_and(|sites| sites.capacity() > slots)
    }

    /// Makes room for entries at slots `0..slots` of region `id`.
    fn reserve(&mut self, id: u32, slots: usize) -> Result<()> {
        let id = id as usize;
        if self.sites.len() <= id {
            let more = id + 1 - self.sites.len();
            crate::fallible::reserve(&mut self.sites, more)?;
            self.sites.resize_with(id + 1, Vec::new);
        }
        let sites = &mut self.sites[id];
        let more = slots.saturating_sub(sites.len());
        crate::fallible::reserve(sites, more)
    }

    /// Records `site` for the new object at `home` (room was reserved).
    #[inline]
    pub fn record(&mut self, home: ObjectHandle, site: Site) {
        let sites = &mut self.sites[home.region().id() as usize];
        let slot = home.slot() as usize;
        if sites.len() <= slot {
            debug_assert!(sites.capacity() > slot, "recorded without reserved room");
            sites.resize(slot + 1, None);
        }
        sites[slot] = Some(site);
    }

    /// Records `site` for each of the new objects `handles` (room was reserved).
    pub fn record_all(&mut self, handles: &[ObjectHandle], site: Site) {
        for &handle in handles {
            self.record(handle, site);
        }
    }

    /// Removes the entry of the object at `home` (it is destroyed or moves).
    #[inline]
    pub fn forget(&mut self, home: ObjectHandle) -> Option<Site> {
        self.sites
            .get_mut(home.region().id() as usize)?
            .get_mut(home.slot() as usize)?
            .take()
    }

    /// The object at `home` moved to `new_home` (room was reserved there).
    pub fn moved(&mut self, home: ObjectHandle, new_home: ObjectHandle) -> Option<Site> {
        let site = self.forget(home)?;
        self.record(new_home, site);
        Some(site)
    }

    /// The site of the object at `home`.
    fn site(&self, home: ObjectHandle) -> Option<Site> {
        *self
            .sites
            .get(home.region().id() as usize)?
            .get(home.slot() as usize)?
    }

    /// Makes room for the event of a death that promotes `survivors` objects.
    fn reserve_event(&mut self, survivors: usize) -> Result<()> {
        self.pending.clear();
        crate::fallible::reserve_exact(&mut self.pending, survivors)?;
        if self.events.len() < LEAK_EVENT_LOG_LEN {
            crate::fallible::reserve_deque(&mut self.events, 1)?;
        }
        Ok(())
    }

    /// A dying region's object at `home`, of `size` bytes and stored tag
    /// `tag`, was promoted to `new_home` (room was reserved).
    pub fn retained(
        &mut self,
        home: ObjectHandle,
        new_home: ObjectHandle,
        size: usize,
        type_name: Option<&'static str>,
    ) {
        if let Some(site) = self.moved(home, new_home) {
            self.pending.push(RetainedObject {
                home: new_home,
                origin: Origin { site, type_name },
                size,
            });
        }
    }

    /// Logs the death of `region`, which promoted the objects passed to
    /// [`retained`](Self::retained) since the reservation.
    /// When the log is full, the oldest event goes and its vector becomes
    /// the next `pending`, so that a steady stream of deaths does not
    /// allocate.
    pub fn log_death(&mut self, region: RegionHandle) {
        let recycled = if self.events.len() == LEAK_EVENT_LOG_LEN {
            self.events.pop_front().map(|event| event.objects)
        } else {
            None
        };
        let objects = core::mem::replace(&mut self.pending, recycled.unwrap_or_default());
        self.pending.clear();
        self.events.push_back(RetainedAtDeath { region, objects });
    }

    /// Region `id` died: its remaining entries go (their objects are
    /// destroyed). Keeps the vector's capacity for the next region that
    /// takes the id if `keep`.
    pub fn region_died(&mut self, id: u32, keep: bool) {
        if let Some(sites) = self.sites.get_mut(id as usize) {
            if keep {
                sites.clear();
            } else {
                *sites = Vec::new();
            }
        }
    }

    /// Every entry names a live object and every live object has one; the
    /// event log keeps its bound.
    pub fn check(&self, regions: &[RegionSlot], problems: &mut Vec<String>) {
        for (id, sites) in self.sites.iter().enumerate() {
            let slots = regions
                .get(id)
                .filter(|slot| slot.is_live())
                .map(|slot| &slot.region.slots);
            for (slot, _) in sites.iter().enumerate().filter(|(_, site)| site.is_some()) {
                let live = slots
                    .and_then(|slots| slots.record(slot as u32))
                    .is_some_and(|record| record.is_live());
                if !live {
                    problems.push(format!(
                        "region {id}: an allocation site is recorded for slot {slot}, \
                         which holds no live object"
                    ));
                }
            }
        }
        for (id, slot) in regions.iter().enumerate().filter(|(_, s)| s.is_live()) {
            let sites = self.sites.get(id).map_or(&[][..], Vec::as_slice);
            for (live, _) in slot.region.slots.live() {
                if !matches!(sites.get(live as usize), Some(Some(_))) {
                    problems.push(format!(
                        "region {id}: live slot {live} has no allocation site"
                    ));
                }
            }
        }
        if self.events.len() > LEAK_EVENT_LOG_LEN || !self.pending.is_empty() {
            problems.push(format!(
                "the leak event log holds {} events (at most {LEAK_EVENT_LOG_LEN}) and {} pending objects",
                self.events.len(),
                self.pending.len()
            ));
        }
    }
}

impl Registry {
    /// Makes room for `count` new objects' sites in live region `id`,
    /// whose slot table has room for them.
    pub(crate) fn reserve_sites(&mut self, id: u32, count: usize) -> Result<()> {
        let slots = self.live(id).slots.len();
        self.leaks.reserve(id, slots + count)
    }

    /// Reserves what a death that promotes `survivors` objects into live
    /// region `parent` needs: their sites there and the event; nothing
    /// when `survivors` is 0.
    pub(crate) fn reserve_retained(&mut self, parent: u32, survivors: usize) -> Result<()> {
        if survivors == 0 {
            return Ok(());
        }
        self.reserve_sites(parent, survivors)?;
        self.leaks.reserve_event(survivors)
    }

    /// Records that a dying region's object at `home`, with stored tag
    /// `tag`, was promoted to `new_home`.
    pub(crate) fn record_retained(
        &mut self,
        home: ObjectHandle,
        new_home: ObjectHandle,
        size: usize,
        tag: u64,
    ) {
        let type_name = type_name(&self.destructors, tag);
        self.leaks.retained(home, new_home, size, type_name);
    }

    /// The origin of the object at `home`.
    fn origin_at(&self, home: ObjectHandle, tag: u64) -> Origin {
        Origin {
            site: self
                .leaks
                .site(home)
                .expect("every live object has an allocation site"),
            type_name: type_name(&self.destructors, tag),
        }
    }

    /// Where the object `handle` (any of its handles) was allocated, and
    /// its type if it is typed.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 5u32).unwrap();
    /// let origin = reg.origin_of(h).unwrap();
    /// assert_eq!(origin.site.line(), line!() - 2);
    /// assert_eq!(origin.type_name, Some("u32"));
    /// ```
    pub fn origin_of(&self, handle: ObjectHandle) -> Result<Origin> {
        let home = self.locate(handle)?;
        Ok(self.origin_at(home, self.record_at(home).tag))
    }

    /// The live objects of `region` (those whose current home it is), in
    /// slot order, each with its handle, size, alignment, tag, type name
    /// (typed objects) and allocation site. Call it before releasing a
    /// region to see what is still there, or on the root to see what
    /// accumulated. O(slots of the region).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_typed(r, 7u64).unwrap();
    /// let report = reg.leak_report(r).unwrap();
    /// assert_eq!(report.objects.len(), 1);
    /// assert_eq!(report.objects[0].handle, h);
    /// assert_eq!(report.objects[0].origin.site.line(), line!() - 4);
    /// println!("{report}");
    /// ```
    pub fn leak_report(&self, region: RegionHandle) -> Result<LeakReport> {
        let live = self.region(region)?;
        let mut objects = Vec::new();
        crate::fallible::reserve_exact(&mut objects, live.slots.live_len())?;
        for (slot, record) in live.slots.live() {
            let handle = ObjectHandle::new(region, slot, record.generation);
            objects.push(LeakedObject {
                handle,
                size: record.size(),
                align: live.slots.aux(slot).align(),
                tag: self.destructors.public_tag(record.tag),
                origin: self.origin_at(handle, record.tag),
            });
        }
        Ok(LeakReport { region, objects })
    }

    /// [`leak_report`](Self::leak_report) of `region` and of each of its
    /// descendants, `region` first, each region before its children
    /// (siblings in no particular order). `leak_report_subtree(root)`
    /// covers the whole registry.
    ///
    /// ```
    /// use regions::{ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let parent = reg.create_region(reg.root()).unwrap();
    /// let child = reg.create_region(parent).unwrap();
    /// let h = reg.alloc_typed(child, 1u32).unwrap();
    /// let reports = reg.leak_report_subtree(parent).unwrap();
    /// assert_eq!((reports[0].region, reports[1].region), (parent, child));
    /// assert_eq!((reports.len(), reports[1].objects[0].handle), (2, h));
    /// reg.release_region(parent).unwrap();
    /// assert_eq!(reg.leak_report_subtree(parent).unwrap_err().kind(), ErrorKind::InvalidRegion);
    /// ```
    pub fn leak_report_subtree(&self, region: RegionHandle) -> Result<Vec<LeakReport>> {
        self.region(region)?;
        let mut reports = Vec::new();
        let mut stack = Vec::new();
        let reserve = |stack: &mut Vec<RegionHandle>| crate::fallible::reserve(stack, 1);
        reserve(&mut stack)?;
        stack.push(region);
        while let Some(next) = stack.pop() {
            crate::fallible::reserve(&mut reports, 1)?;
            reports.push(self.leak_report(next)?);
            for child in self.children(next)? {
                reserve(&mut stack)?;
                stack.push(child);
            }
        }
        Ok(reports)
    }

    /// Drains the log of deaths that promoted retained objects, oldest
    /// first. The log keeps the last [`LEAK_EVENT_LOG_LEN`] events: older
    /// ones are dropped when a new one comes.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let kept = reg.alloc_typed(r, 1u8).unwrap();
    /// reg.retain(kept).unwrap();
    /// reg.release_region(r).unwrap();
    /// let events = reg.take_leak_events();
    /// assert_eq!(events.len(), 1);
    /// assert_eq!(events[0].region, r);
    /// assert_eq!(events[0].objects[0].home, reg.resolve(kept).unwrap());
    /// assert!(reg.take_leak_events().is_empty());
    /// ```
    pub fn take_leak_events(&mut self) -> Vec<RetainedAtDeath> {
        core::mem::take(&mut self.leaks.events).into()
    }
}

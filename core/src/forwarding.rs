//! Forwarding: how every handle an object ever had keeps finding it.
//!
//! The first time an object moves (manual promotion or promotion by region
//! death) it gets a *node*: one 24-byte record holding its current home
//! handle. Every old handle of the object leads to the node, and a move only
//! updates the node, so resolving any old handle takes one lookup and one
//! node read — O(1) however often the object moved, with no chain to walk
//! or compress.
//!
//! Old handles reach their node in one of two ways:
//! - the old home's slot is in a live region: the slot record itself is a
//!   forwarding record naming the node (`slot_table.rs`);
//! - the old home's region is dead: a *ghost record* holds the slot's
//!   generation and the node. The newest one of a region id sits in the
//!   id's region slot (a [`SlotGhost`], 16 bytes the slot has anyway), so
//!   the common case, a frame that returns one value, hashes nothing; the
//!   others go to one registry-wide hash map keyed by `(region id, region
//!   generation, slot)` (20 bytes per record; no table per dead region).
//!   The ghost records of one dead region incarnation form its *ghost
//!   table*.
//!
//! Nodes count the records that name them. When the object dies its node
//! is marked dead; ghost records naming dead nodes are garbage, swept in
//! bulk once they are half the map (amortized O(1)); forwarding slots of
//! live regions are freed lazily by their region (`Registry::sweep_forwarded`),
//! and a slot ghost when its region id is next used. Forwarding slots and
//! slot ghosts are both counted as the node's *slot records*.
//! A node is freed once it is dead and no record names it. So forwarding
//! memory is proportional to the old handles of live objects.

use alloc::vec::Vec;

use hashbrown::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::fallible;
use crate::handle::{ObjectHandle, RegionHandle};
use crate::slot_table::NODE_LIMIT;

/// A node's home while it is dead.
const DEAD: ObjectHandle = ObjectHandle::from_raw_parts(u32::MAX, u32::MAX, u32::MAX, u32::MAX);

/// Where an old handle of a dead region incarnation leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GhostRecord {
    /// The slot generation the old handles carry.
    pub slot_generation: u32,
    /// The object's node.
    pub node: u32,
}

/// No node: an empty [`SlotGhost`].
const NO_NODE: u32 = u32::MAX;

/// The newest ghost record of one region id, kept in its region slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SlotGhost {
    /// The generation of the dead incarnation the old handles name.
    generation: u32,
    slot: u32,
    slot_generation: u32,
    /// The object's node, or `NO_NODE`.
    node: u32,
}

impl SlotGhost {
    pub const EMPTY: SlotGhost = SlotGhost {
        generation: 0,
        slot: 0,
        slot_generation: 0,
        node: NO_NODE,
    };

    /// The node `handle` (of a dead incarnation) leads to, if this is its
    /// record.
    #[inline]
    pub fn node_of(&self, handle: ObjectHandle) -> Option<u32> {
        let matches = self.node != NO_NODE
            && self.generation == handle.region().generation()
            && self.slot == handle.slot()
            && self.slot_generation == handle.slot_generation();
        matches.then_some(self.node)
    }

    /// The node this record names, if it is in use.
    pub fn node(&self) -> Option<u32> {
        (self.node != NO_NODE).then_some(self.node)
    }

    /// The old handle this record stands for (region id `id`), with its
    /// node, if it is in use.
    pub fn old_handle(&self, id: u32) -> Option<(ObjectHandle, u32)> {
        let region = RegionHandle::from_raw_parts(id, self.generation);
        let old = ObjectHandle::new(region, self.slot, self.slot_generation);
        self.node().map(|node| (old, node))
    }

    /// The dead incarnation and slot this record stands for (region id
    /// `id`), with its node, if it is in use.
    pub fn entry(&self, id: u32) -> Option<(RegionHandle, u32, u32)> {
        let region = RegionHandle::from_raw_parts(id, self.generation);
        self.node().map(|node| (region, self.slot, node))
    }
}

/// An old home in a dead region: `[region id, region generation, slot]`
/// (12 bytes, so a ghost record with its key takes 20).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GhostKey([u32; 3]);

impl GhostKey {
    #[inline]
    fn new(region: RegionHandle, slot: u32) -> Self {
        GhostKey([region.id(), region.generation(), slot])
    }

    fn region(self) -> RegionHandle {
        RegionHandle::from_raw_parts(self.0[0], self.0[1])
    }
}

impl core::hash::Hash for GhostKey {
    #[inline]
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let [id, generation, slot] = self.0;
        let region = u64::from(id) | u64::from(generation) << 32;
        state.write_u64(region ^ u64::from(slot).rotate_left(37));
    }
}

/// Hashes ghost keys (three `u32`s) with two multiplications: the keys are
/// small integers chosen by the registry, not by an adversary, and this
/// lookup is on the path of every access through an old handle.
#[derive(Clone, Copy, Default)]
struct GhostHasher(u64);

impl core::hash::Hasher for GhostHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let folded = self.0 ^ (self.0 >> 29);
        folded.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (folded >> 32)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u32(u32::from(byte));
        }
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl core::hash::BuildHasher for GhostHasher {
    type Hasher = GhostHasher;
    #[inline]
    fn build_hasher(&self) -> GhostHasher {
        GhostHasher(0)
    }
}

/// Puts `node` on the free list. The list has room for every node
/// (`reserve` keeps it so), so this never allocates; if it had none, the
/// node would simply not be reused.
fn release_node(free_nodes: &mut Vec<u32>, node: u32) {
    if free_nodes.len() < free_nodes.capacity() {
        free_nodes.push(node);
    }
}

/// The current home of one object that moved.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// The object's current home handle, or `DEAD`.
    home: ObjectHandle,
    /// Ghost records naming this node.
    ghost_records: u32,
    /// Forwarding slots of live regions naming this node.
    slot_records: u32,
}

/// Every forwarding node and ghost record of a registry.
#[derive(Debug, Default)]
pub(crate) struct Forwarding {
    nodes: Vec<Node>,
    /// Free node indices.
    free_nodes: Vec<u32>,
    ghosts: HashMap<GhostKey, GhostRecord, GhostHasher>,
    /// Ghost records whose node is dead (swept when they are half the map).
    garbage: usize,
}

impl Forwarding {
    /// The home of `node`, if its object is alive.
    #[inline]
    pub fn home(&self, node: u32) -> Option<ObjectHandle> {
        let home = self.nodes.get(node as usize)?.home;
        (home != DEAD).then_some(home)
    }

    /// The ghost record of `handle`, if its region incarnation is dead and
    /// the slot was forwarded at that generation.
    #[inline]
    pub fn ghost(&self, handle: ObjectHandle) -> Option<GhostRecord> {
        let region = handle.region();
        let record = *self.ghosts.get(&GhostKey::new(region, handle.slot()))?;
        (record.slot_generation == handle.slot_generation()).then_some(record)
    }

    /// Every ghost record of the map: the old handle and its node.
    pub fn ghost_entries(&self) -> impl Iterator<Item = (ObjectHandle, u32)> + '_ {
        self.ghosts.iter().map(|(key, record)| {
            let old = ObjectHandle::new(key.region(), key.0[2], record.slot_generation);
            (old, record.node)
        })
    }

    /// Makes sure `moves` objects can move and `ghosts` ghost records be
    /// added without allocating.
    #[inline]
    pub fn reserve(&mut self, moves: usize, ghosts: usize) -> Result<()> {
        // Enough free nodes means no new node, so the free list's room for
        // every node still holds; `capacity - len` is the map's room before
        // it grows.
        if moves <= self.free_nodes.len() && ghosts <= self.ghosts.capacity() - self.ghosts.len() {
            return Ok(());
        }
        self.grow(moves, ghosts)
    }

    #[cold]
    fn grow(&mut self, moves: usize, ghosts: usize) -> Result<()> {
        let new_nodes = moves.saturating_sub(self.free_nodes.len());
        if self.nodes.len().saturating_add(new_nodes) >= NODE_LIMIT as usize {
            return Err(Error::IdSpaceExhausted);
        }
        fallible::reserve(&mut self.nodes, new_nodes)?;
        // Room to free every node, so that freeing never allocates.
        let nodes = self.nodes.len() + new_nodes;
        let unlisted = nodes - self.free_nodes.len();
        fallible::reserve(&mut self.free_nodes, unlisted)?;
        fallible::reserve_map(&mut self.ghosts, ghosts)
    }

    /// Records that an object (with forwarding node `node`, if it moved
    /// before) now lives at `to`; returns its node. Capacity must have been
    /// reserved.
    pub fn moved(&mut self, node: Option<u32>, to: ObjectHandle) -> u32 {
        if let Some(node) = node {
            self.nodes[node as usize].home = to;
            node
        } else {
            let fresh = Node {
                home: to,
                ghost_records: 0,
                slot_records: 0,
            };
            match self.free_nodes.pop() {
                Some(node) => {
                    self.nodes[node as usize] = fresh;
                    node
                }
                None => {
                    self.nodes.push(fresh);
                    self.nodes.len() as u32 - 1
                }
            }
        }
    }

    /// A live region's slot became a forwarding record to `node`.
    pub fn add_slot_record(&mut self, node: u32) {
        self.nodes[node as usize].slot_records += 1;
    }

    /// A forwarding slot naming `node` was freed.
    pub fn remove_slot_record(&mut self, node: u32) {
        self.nodes[node as usize].slot_records -= 1;
        self.free_if_unused(node);
    }

    /// Adds a ghost record for slot `slot` of dying `region`, naming `node`:
    /// in `inline` (the region slot's ghost) if that is empty or names a dead
    /// object, else in the map (capacity reserved). `from_slot` says it
    /// replaces a forwarding slot of that region, which it takes over.
    pub fn add_ghost(
        &mut self,
        inline: &mut SlotGhost,
        region: RegionHandle,
        slot: u32,
        slot_generation: u32,
        node: u32,
        from_slot: bool,
    ) {
        self.clear_dead(inline);
        if inline.node != NO_NODE {
            self.add_map_ghost(region, slot, slot_generation, node, from_slot);
            return;
        }
        *inline = SlotGhost {
            generation: region.generation(),
            slot,
            slot_generation,
            node,
        };
        // A slot ghost counts as a slot record: one taken over, or a new one.
        if !from_slot {
            self.nodes[node as usize].slot_records += 1;
        }
    }

    /// Empties `inline` if its object is gone (its node may then be freed).
    #[inline]
    pub fn clear_dead(&mut self, inline: &mut SlotGhost) {
        if inline.node != NO_NODE && self.home(inline.node).is_none() {
            self.remove_slot_record(inline.node);
            *inline = SlotGhost::EMPTY;
        }
    }

    fn add_map_ghost(
        &mut self,
        region: RegionHandle,
        slot: u32,
        slot_generation: u32,
        node: u32,
        from_slot: bool,
    ) {
        let record = GhostRecord {
            slot_generation,
            node,
        };
        let previous = self.ghosts.insert(GhostKey::new(region, slot), record);
        debug_assert!(previous.is_none(), "{region} slot {slot} forwarded twice");
        let node = &mut self.nodes[node as usize];
        node.ghost_records += 1;
        if from_slot {
            node.slot_records -= 1;
        }
    }

    /// The object with forwarding node `node` was destroyed: the node dies,
    /// and its records become garbage.
    pub fn object_died(&mut self, node: u32) {
        let entry = &mut self.nodes[node as usize];
        entry.home = DEAD;
        self.garbage += entry.ghost_records as usize;
        self.free_if_unused(node);
        if self.garbage >= 64 && self.garbage * 2 >= self.ghosts.len() {
            self.sweep();
        }
    }

    /// Removes every ghost record naming a dead node.
    fn sweep(&mut self) {
        let Forwarding {
            nodes,
            free_nodes,
            ghosts,
            ..
        } = self;
        ghosts.retain(|_, record| {
            let node = &mut nodes[record.node as usize];
            if node.home != DEAD {
                return true;
            }
            node.ghost_records -= 1;
            if node.ghost_records == 0 && node.slot_records == 0 {
                release_node(free_nodes, record.node);
            }
            false
        });
        self.garbage = 0;
    }

    fn free_if_unused(&mut self, node: u32) {
        let entry = &self.nodes[node as usize];
        if entry.home == DEAD && entry.ghost_records == 0 && entry.slot_records == 0 {
            self.release_node(node);
        }
    }

    fn release_node(&mut self, node: u32) {
        release_node(&mut self.free_nodes, node);
    }

    /// Number of ghost tables: dead region incarnations with a ghost record
    /// (in the map or among `slot_ghosts`: `(incarnation, slot, node)`)
    /// that leads to a live object.
    pub fn ghost_table_count(
        &self,
        slot_ghosts: impl Iterator<Item = (RegionHandle, u32, u32)>,
    ) -> usize {
        let map = self
            .ghosts
            .iter()
            .map(|(key, record)| (key.region(), record.node));
        let slots = slot_ghosts.map(|(region, _, node)| (region, node));
        let tables: HashSet<RegionHandle> = map
            .chain(slots)
            .filter(|&(_, node)| self.home(node).is_some())
            .map(|(region, _)| region)
            .collect();
        tables.len()
    }

    /// Nodes of live objects.
    pub fn live_node_count(&self) -> usize {
        self.nodes.iter().filter(|node| node.home != DEAD).count()
    }

    /// Ghost records of the map that lead to a live object.
    pub fn live_ghost_records(&self) -> usize {
        self.ghosts
            .values()
            .filter(|record| self.home(record.node).is_some())
            .count()
    }

    /// Bytes of memory forwarding holds: node and free-list capacity, and
    /// the ghost map's buckets (one key-record pair and one control byte
    /// each, plus a group of control bytes).
    pub fn table_bytes(&self) -> usize {
        let buckets = match self.ghosts.capacity() {
            0 => 0,
            capacity => (capacity * 8 / 7).next_power_of_two(),
        };
        let entry = core::mem::size_of::<(GhostKey, GhostRecord)>() + 1;
        self.nodes.capacity() * core::mem::size_of::<Node>()
            + self.free_nodes.capacity() * 4
            + if buckets == 0 {
                0
            } else {
                buckets * entry + 16
            }
    }

    /// Checks the counts against the records: `slot_records[node]` is how
    /// many forwarding slots of live regions name each node; `is_live(h)`
    /// says whether `h` names a live region incarnation.
    pub fn check(
        &self,
        slot_records: &HashMap<u32, u32>,
        is_live_region: impl Fn(RegionHandle) -> bool,
        problems: &mut Vec<alloc::string::String>,
    ) {
        use alloc::format;
        let mut ghost_counts: HashMap<u32, u32> = HashMap::new();
        let mut garbage = 0;
        for (key, record) in &self.ghosts {
            let (region, slot) = (key.region(), key.0[2]);
            if is_live_region(region) {
                problems.push(format!("a ghost record names live {region} slot {slot}"));
            }
            match self.nodes.get(record.node as usize) {
                Some(node) => {
                    *ghost_counts.entry(record.node).or_default() += 1;
                    garbage += usize::from(node.home == DEAD);
                    if node.home.region() == region {
                        problems.push(format!(
                            "{region} slot {slot} forwards into its own dead region"
                        ));
                    }
                }
                None => problems.push(format!(
                    "ghost record of {region} slot {slot} names no node"
                )),
            }
        }
        if garbage != self.garbage {
            problems.push(format!(
                "{garbage} garbage ghost records, the count says {}",
                self.garbage
            ));
        }
        let free: HashSet<u32> = self.free_nodes.iter().copied().collect();
        if free.len() != self.free_nodes.len() {
            problems.push("a node is free twice".into());
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let index = index as u32;
            let ghosts = ghost_counts.get(&index).copied().unwrap_or(0);
            let slots = slot_records.get(&index).copied().unwrap_or(0);
            if free.contains(&index) {
                if ghosts + slots != 0 {
                    problems.push(format!("free node {index} is still named"));
                }
                continue;
            }
            if (ghosts, slots) != (node.ghost_records, node.slot_records) {
                problems.push(format!(
                    "node {index} is named by {ghosts} ghost and {slots} slot records, counts {} and {}",
                    node.ghost_records, node.slot_records
                ));
            }
            if node.home == DEAD && ghosts + slots == 0 {
                problems.push(format!("dead node {index} is neither named nor free"));
            }
        }
    }
}

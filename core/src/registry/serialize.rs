//! Serialization of a region subtree into the format of `docs/FORMAT.md`.
//!
//! The stream lists the subtree's regions (each after its parent), then
//! its live objects region by region, then the stored references between
//! them and every older handle of each object, so that the handle map of
//! the copy translates every handle the objects ever had. Typed objects
//! are written by their type's [`Persist`](crate::Persist) implementation.

use alloc::vec::Vec;

use hashbrown::HashMap;

use super::Registry;
use crate::error::{Error, Result};
use crate::fallible;
use crate::handle::{ObjectHandle, RegionHandle, TypeTag};
use crate::persist::Saver;
use crate::slot_table::Occupant;

/// The first bytes of every stream.
pub(crate) const MAGIC: [u8; 4] = *b"RGNS";
/// The format version this core writes and reads.
pub(crate) const VERSION: u16 = 1;
/// `parent` of the stream's first region.
pub(crate) const NO_PARENT: u32 = u32::MAX;
/// Object kinds in the stream.
pub(crate) const RAW: u8 = 0;
pub(crate) const TYPED: u8 = 1;

/// A stream being written (every append is fallible: `OutOfMemory`).
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn bytes(&mut self, bytes: &[u8]) -> Result<()> {
        fallible::reserve(&mut self.out, bytes.len())?;
        self.out.extend_from_slice(bytes);
        Ok(())
    }
    fn u8(&mut self, value: u8) -> Result<()> {
        self.bytes(&[value])
    }
    fn u16(&mut self, value: u16) -> Result<()> {
        self.bytes(&value.to_le_bytes())
    }
    fn u32(&mut self, value: u32) -> Result<()> {
        self.bytes(&value.to_le_bytes())
    }
    fn u64(&mut self, value: u64) -> Result<()> {
        self.bytes(&value.to_le_bytes())
    }
    fn count(&mut self, count: usize) -> Result<()> {
        self.u32(u32::try_from(count).map_err(|_| Error::SizeOverflow { size: count })?)
    }
    fn handle(&mut self, handle: ObjectHandle) -> Result<()> {
        let region = handle.region();
        for field in [
            region.id(),
            region.generation(),
            handle.slot(),
            handle.slot_generation(),
        ] {
            self.u32(field)?;
        }
        Ok(())
    }
}

impl Registry {
    /// Serializes live region `region`, its descendants and all their
    /// objects into a new byte stream (`docs/FORMAT.md`): the region tree
    /// with refcounts and budgets, each object's layout, tag, counts and
    /// contents, the stored references between the subtree's regions and
    /// objects, and every handle each object ever had. Typed objects need
    /// their type's serializer ([`register_persist`](Self::register_persist)),
    /// else `Unserializable`. Changes nothing.
    ///
    /// ```
    /// use regions::{Registry, TypeTag};
    /// let mut reg = Registry::new();
    /// let level = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_bytes(level, TypeTag(1), 1, b"saved").unwrap();
    /// let bytes = reg.serialize(level).unwrap();
    /// let (copy, map) = reg.deserialize(reg.root(), &bytes).unwrap();
    /// assert_eq!(reg.get(map.get(h).unwrap()).unwrap(), b"saved");
    /// assert_eq!(reg.object_count(copy).unwrap(), 1);
    /// ```
    pub fn serialize(&self, region: RegionHandle) -> Result<Vec<u8>> {
        self.region(region)?;
        let regions: Vec<u32> = collect(self.subtree_regions(region.id()))?;
        let mut region_index: HashMap<u32, u32> = HashMap::new();
        fallible::reserve_map(&mut region_index, regions.len())?;
        for (index, &id) in regions.iter().enumerate() {
            region_index.insert(id, index as u32);
        }
        let objects: Vec<ObjectHandle> = collect(
            regions
                .iter()
                .flat_map(|&id| self.objects(self.live_handle(id)).expect("a live region")),
        )?;
        let mut object_index: HashMap<ObjectHandle, u32> = HashMap::new();
        fallible::reserve_map(&mut object_index, objects.len())?;
        for (index, &home) in objects.iter().enumerate() {
            object_index.insert(home, index as u32);
        }
        let index_of = |handle: ObjectHandle| {
            let home = self.locate(handle).ok()?;
            object_index.get(&home).copied()
        };
        // The typed objects' types, in order of first use.
        let mut types: Vec<u64> = Vec::new();
        for &home in &objects {
            let tag = self.record_at(home).tag;
            if TypeTag(tag).is_typed() && !types.contains(&tag) {
                if self.persisters.of_tag(tag).is_none() {
                    return Err(Error::Unserializable { handle: home });
                }
                fallible::reserve(&mut types, 1)?;
                types.push(tag);
            }
        }
        let stored: Vec<(u32, u32)> = collect(regions.iter().enumerate().flat_map(|(c, &id)| {
            let records = self.stored.of(id).unwrap_or_default();
            records
                .iter()
                .filter_map(|&h| index_of(h))
                .map(move |o| (c as u32, o))
        }))?;
        let aliases = self.old_handles_of(&object_index)?;

        let mut w = Writer { out: Vec::new() };
        w.bytes(&MAGIC)?;
        w.u16(VERSION)?;
        w.u16(0)?;
        for count in [
            types.len(),
            regions.len(),
            objects.len(),
            stored.len(),
            aliases.len(),
        ] {
            w.count(count)?;
        }
        for &tag in &types {
            let persister = self.persisters.of_tag(tag).expect("checked above");
            w.u16(persister.name.len() as u16)?;
            w.bytes(persister.name.as_bytes())?;
            w.u32(persister.layout.size() as u32)?;
            w.u8(persister.layout.align().trailing_zeros() as u8)?;
        }
        for (index, &id) in regions.iter().enumerate() {
            let region = self.live(id);
            let handle = self.live_handle(id);
            w.u32(handle.id())?;
            w.u32(handle.generation())?;
            let parent = if index == 0 {
                NO_PARENT
            } else {
                region_index[&region.parent]
            };
            w.u32(parent)?;
            w.u32(region.refcount)?;
            match self.accounts.region_budget(id) {
                Some(budget) => {
                    w.u8(1)?;
                    w.u64(budget)?;
                }
                None => w.u8(0)?,
            }
        }
        for &home in &objects {
            self.write_object(&mut w, home, &region_index, &types, &index_of)?;
        }
        for &(container, object) in &stored {
            w.u32(container)?;
            w.u32(object)?;
        }
        for &(object, old) in &aliases {
            w.u32(object)?;
            w.handle(old)?;
        }
        Ok(w.out)
    }

    fn write_object(
        &self,
        w: &mut Writer,
        home: ObjectHandle,
        region_index: &HashMap<u32, u32>,
        types: &[u64],
        index_of: &dyn Fn(ObjectHandle) -> Option<u32>,
    ) -> Result<()> {
        let record = self.record_at(home);
        let aux = *self.live(home.region().id()).slots.aux(home.slot());
        w.handle(home)?;
        w.u32(region_index[&home.region().id()])?;
        if TypeTag(record.tag).is_typed() {
            w.u8(TYPED)?;
            let type_index = types.iter().position(|&t| t == record.tag).expect("listed");
            w.u32(type_index as u32)?;
            let persister = self.persisters.of_tag(record.tag).expect("listed");
            let mut value = Vec::new();
            let mut saver = Saver {
                out: &mut value,
                index_of,
                failed: false,
            };
            // SAFETY: the record holds a live value of the persister's type
            // (its stored tag was claimed by that type).
            unsafe { (persister.save)(record.data(), &mut saver) };
            if saver.failed {
                return Err(Error::OutOfMemory { requested: 0 });
            }
            w.count(value.len())?;
            w.bytes(&value)?;
        } else {
            w.u8(RAW)?;
            w.u64(record.tag)?;
            w.count(record.size())?;
            w.u8(aux.align().trailing_zeros() as u8)?;
            // SAFETY: a raw object's bytes are all initialized.
            w.bytes(unsafe { record.bytes() })?;
        }
        w.u32(aux.strong)?;
        w.u32(aux.weak)
    }

    /// Every older handle of the objects in `objects` (old homes that
    /// forward to them), with the object's stream index.
    fn old_handles_of(
        &self,
        objects: &HashMap<ObjectHandle, u32>,
    ) -> Result<Vec<(u32, ObjectHandle)>> {
        let mut aliases = Vec::new();
        let mut add = |node: u32, old: ObjectHandle| -> Result<()> {
            let home = self.forwarding.home(node);
            if let Some(&index) = home.as_ref().and_then(|h| objects.get(h)) {
                fallible::reserve(&mut aliases, 1)?;
                aliases.push((index, old));
            }
            Ok(())
        };
        for (id, slot) in self.regions.iter().enumerate() {
            if slot.is_live() {
                let region = self.live_handle(id as u32);
                for (s, record) in slot.region.slots.records() {
                    if let Occupant::Forwarded(node) = record.occupant() {
                        let generation = record.generation.wrapping_sub(1);
                        add(node, ObjectHandle::new(region, s, generation))?;
                    }
                }
            }
            if let Some((old, node)) = slot.ghost.old_handle(id as u32) {
                add(node, old)?;
            }
        }
        for (old, node) in self.forwarding.ghost_entries() {
            add(node, old)?;
        }
        Ok(aliases)
    }
}

/// The items, in a vector that grows fallibly.
fn collect<T>(items: impl Iterator<Item = T>) -> Result<Vec<T>> {
    let mut list = Vec::new();
    for item in items {
        fallible::reserve(&mut list, 1)?;
        list.push(item);
    }
    Ok(list)
}

//! The pool: packed object entries and the memory behind them.
//!
//! Entries are packed (`entries[0..len]`, no holes) and parallel to the slot
//! table's set of live slots: the entry at position `p` belongs to the slot at
//! position `p` of that set. Small objects live *inline* in their entry, 16
//! bytes aligned to 16; larger ones live in arena blocks (bump allocation plus
//! size-classed free chunks) or, above a quarter of a block, in a dedicated
//! allocation.

use alloc::alloc::{alloc, dealloc, Layout};
use alloc::string::String;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crate::arena::{ArenaBlock, Chunk, FreeChunks};
use crate::error::{Error, Result};
use crate::handle::TypeTag;

/// Objects with `size <= INLINE_SIZE` and `align <= INLINE_ALIGN` are stored in their entry.
pub const INLINE_SIZE: usize = 16;
/// See [`INLINE_SIZE`].
pub const INLINE_ALIGN: usize = 16;

/// An object's bytes, or where they are.
#[derive(Clone, Copy)]
#[repr(C)]
union Storage {
    /// The bytes of an inline object (the entry is aligned to 16, and this is
    /// its first field).
    inline: [MaybeUninit<u8>; INLINE_SIZE],
    /// The bytes of a heap object.
    heap: NonNull<u8>,
}

/// Where an object's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// In the entry's own storage.
    Inline,
    /// In `arenas[index]` of the pool that holds the entry.
    Arena(u32),
    /// In an allocation of its own (or nowhere, for a zero-sized heap object),
    /// owned by the entry.
    Dedicated,
}

/// Memory set aside in a pool for an object that is not written yet.
pub(crate) struct Reserved {
    storage: Storage,
    placement: Placement,
    layout: Layout,
}

/// One object: its storage and its metadata.
#[repr(C, align(16))]
pub(crate) struct Entry {
    /// Must stay the first field: inline bytes are aligned to 16.
    storage: Storage,
    /// The type tag.
    pub tag: TypeTag,
    /// Size in bytes; `<= MAX_OBJECT_SIZE`.
    size: u32,
    /// External strong references.
    pub strong: u32,
    /// Weak references.
    pub weak: u32,
    /// [`Placement`], packed: an arena index, or `INLINE` / `DEDICATED`.
    placement: u32,
    /// The alias list naming the ghost tables that forward to this object
    /// (see `alias.rs`), or `NO_ALIASES`.
    pub aliases: u32,
    /// log2 of the alignment; `<= log2(MAX_ALIGN)`.
    align_log2: u8,
}

/// Packed [`Placement::Inline`].
const INLINE: u32 = u32::MAX;
/// Packed [`Placement::Dedicated`].
const DEDICATED: u32 = u32::MAX - 1;
/// An entry with no alias list.
pub(crate) const NO_ALIASES: u32 = u32::MAX;

impl Placement {
    fn pack(self) -> u32 {
        match self {
            Placement::Inline => INLINE,
            Placement::Dedicated => DEDICATED,
            Placement::Arena(index) => {
                debug_assert!(
                    index < DEDICATED,
                    "arena index {index} collides with a marker"
                );
                index
            }
        }
    }

    fn unpack(packed: u32) -> Self {
        match packed {
            INLINE => Placement::Inline,
            DEDICATED => Placement::Dedicated,
            index => Placement::Arena(index),
        }
    }
}

const _: () = assert!(core::mem::size_of::<Entry>() == 48);
const _: () = assert!(core::mem::align_of::<Entry>() == INLINE_ALIGN);

// SAFETY: an entry exclusively owns its bytes (inline, or a dedicated block),
// or points into an arena owned by the same pool; objects of a Rust type are
// only stored when the type is `Send`.
unsafe impl Send for Entry {}

impl Entry {
    /// Wraps reserved storage as an object with no references. The bytes are
    /// not written yet: the caller writes them before anyone reads them.
    #[inline]
    pub fn new(reserved: Reserved, tag: TypeTag) -> Self {
        Entry {
            storage: reserved.storage,
            tag,
            size: reserved.layout.size() as u32,
            strong: 0,
            weak: 0,
            placement: reserved.placement.pack(),
            aliases: NO_ALIASES,
            align_log2: reserved.layout.align().trailing_zeros() as u8,
        }
    }

    /// Size in bytes.
    #[inline]
    pub fn size(&self) -> usize {
        self.size as usize
    }

    /// Alignment in bytes.
    #[inline]
    pub fn align(&self) -> usize {
        1 << self.align_log2
    }

    /// The layout the object was allocated with.
    pub fn layout(&self) -> Layout {
        // Size and alignment were validated when the entry was created.
        Layout::from_size_align(self.size(), self.align()).expect("entry layout")
    }

    /// The layout of storage another pool must reserve to take this entry
    /// in: only arena bytes are copied (inline and dedicated bytes travel
    /// with the entry).
    pub fn move_request(&self) -> Option<Layout> {
        matches!(self.placement(), Placement::Arena(_)).then(|| self.layout())
    }

    pub(crate) fn placement(&self) -> Placement {
        Placement::unpack(self.placement)
    }

    /// Whether the bytes are stored in the entry.
    #[inline]
    pub fn is_inline(&self) -> bool {
        self.placement == INLINE
    }

    /// Address of the first byte; aligned to [`Entry::align`].
    #[inline]
    pub fn data(&self) -> *const u8 {
        match self.placement {
            // SAFETY: reading the address of a union field is always allowed.
            INLINE => unsafe { self.storage.inline.as_ptr().cast() },
            // SAFETY: heap placements always hold `heap`.
            _ => unsafe { self.storage.heap.as_ptr() },
        }
    }

    /// Mutable address of the first byte.
    #[inline]
    pub fn data_mut(&mut self) -> *mut u8 {
        match self.placement {
            // SAFETY: as in `data`.
            INLINE => unsafe { self.storage.inline.as_mut_ptr().cast() },
            // SAFETY: heap placements always hold `heap`.
            _ => unsafe { self.storage.heap.as_ptr() },
        }
    }

    /// The object's bytes.
    ///
    /// # Safety
    /// All `size` bytes must be initialized (true for raw objects, not for
    /// typed objects with padding).
    #[inline]
    pub unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: `data` points at `size` bytes owned by this entry (or its
        // pool's arena) that the caller guarantees are initialized.
        unsafe { core::slice::from_raw_parts(self.data(), self.size()) }
    }

    /// The object's bytes, mutably.
    ///
    /// # Safety
    /// As for [`Entry::bytes`]; and any bytes may be written (raw objects only).
    #[inline]
    pub unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        let size = self.size();
        // SAFETY: as in `bytes`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.data_mut(), size) }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.placement == DEDICATED && self.size > 0 {
            // SAFETY: a dedicated, non-empty object owns a block allocated
            // with exactly this layout; the entry is dropped once.
            unsafe { dealloc(self.storage.heap.as_ptr(), self.layout()) }
        }
    }
}

/// Where an arena object's chunk was, for [`Pool::release_chunk`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeftChunk {
    arena: u32,
    data: NonNull<u8>,
    len: u32,
}

/// Packed entries plus the arenas that hold their heap bytes.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Packed; parallel to the slot table's live set.
    entries: Vec<Entry>,
    /// Arena blocks; an index, once given, names the same block until the pool dies.
    arenas: Vec<ArenaBlock>,
    /// Free chunks of those arenas.
    free: FreeChunks,
    /// Capacity of each new arena block.
    block_size: u32,
}

impl core::fmt::Debug for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entry")
            .field("data", &self.data())
            .field("size", &self.size)
            .field("align", &self.align())
            .field("placement", &self.placement())
            .field("aliases", &self.aliases)
            .field("tag", &self.tag)
            .field("strong", &self.strong)
            .field("weak", &self.weak)
            .finish()
    }
}

impl Pool {
    /// An empty pool whose arena blocks will hold `block_size` bytes.
    pub fn new(block_size: u32) -> Self {
        Pool {
            entries: Vec::new(),
            arenas: Vec::new(),
            free: FreeChunks::default(),
            block_size,
        }
    }

    /// Heap objects larger than this get a dedicated allocation.
    fn dedicated_threshold(&self) -> usize {
        self.block_size as usize / 4
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries, packed.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry at `position`.
    #[inline]
    pub fn entry(&self, position: u32) -> &Entry {
        &self.entries[position as usize]
    }

    /// The entry at `position`, mutably.
    #[inline]
    pub fn entry_mut(&mut self, position: u32) -> &mut Entry {
        &mut self.entries[position as usize]
    }

    /// Number of arena blocks.
    pub fn arena_count(&self) -> usize {
        self.arenas.len()
    }

    /// Makes room for `additional` more entries.
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        self.entries
            .try_reserve(additional)
            .map_err(|_| Error::OutOfMemory {
                requested: additional * core::mem::size_of::<Entry>(),
            })
    }

    /// Appends an entry; capacity must have been reserved.
    #[inline]
    pub fn push(&mut self, entry: Entry) -> u32 {
        debug_assert!(self.entries.len() < self.entries.capacity());
        let position = self.entries.len() as u32;
        self.entries.push(entry);
        position
    }

    /// Removes the entry at `position`, moving the last entry into its place
    /// (the slot table's live set does the same).
    #[inline]
    pub fn swap_remove(&mut self, position: u32) -> Entry {
        self.entries.swap_remove(position as usize)
    }

    /// Sets aside storage for an object of `layout` (already validated
    /// against `MAX_OBJECT_SIZE` and `MAX_ALIGN`).
    #[inline]
    pub fn reserve_storage(&mut self, layout: Layout) -> Result<Reserved> {
        if layout.size() <= INLINE_SIZE && layout.align() <= INLINE_ALIGN {
            return Ok(Reserved {
                storage: Storage {
                    inline: [MaybeUninit::new(0); INLINE_SIZE],
                },
                placement: Placement::Inline,
                layout,
            });
        }
        self.reserve_heap_storage(layout)
    }

    /// The heap part of [`reserve_storage`](Self::reserve_storage), kept out
    /// of line so the inline path stays small.
    #[inline(never)]
    fn reserve_heap_storage(&mut self, layout: Layout) -> Result<Reserved> {
        let (storage, placement) = if layout.size() == 0 {
            // A zero-sized heap object needs an aligned address, not memory.
            let dangling = NonNull::new(layout.align() as *mut u8).expect("alignment is non-zero");
            (Storage { heap: dangling }, Placement::Dedicated)
        } else if layout.size() > self.dedicated_threshold() {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { alloc(layout) };
            let heap = NonNull::new(raw).ok_or(Error::OutOfMemory {
                requested: layout.size(),
            })?;
            (Storage { heap }, Placement::Dedicated)
        } else {
            let (arena, heap) = self.arena_allocate(layout.size() as u32, layout.align() as u32)?;
            (Storage { heap }, Placement::Arena(arena))
        };
        Ok(Reserved {
            storage,
            placement,
            layout,
        })
    }

    /// Reserves the storage a [`Entry::move_request`] asks for, if any.
    pub fn reserve_move(&mut self, request: Option<Layout>) -> Result<Option<Reserved>> {
        request
            .map(|layout| self.reserve_storage(layout))
            .transpose()
    }

    /// Gives back storage that was reserved but not used.
    pub fn unreserve(&mut self, reserved: Reserved) {
        // Wrapping it in an entry gives it the same release path as an object.
        let entry = Entry::new(reserved, TypeTag(0));
        if let Some(left) = self.detach_chunk(&entry) {
            self.release_chunk(left);
        }
    }

    fn arena_allocate(&mut self, size: u32, align: u32) -> Result<(u32, NonNull<u8>)> {
        if let Some((arena, offset)) = self.free.take(size, align) {
            return Ok((arena, self.arenas[arena as usize].at(offset)));
        }
        let arena_count = self.arenas.len() as u32;
        if let Some(last) = self.arenas.last_mut() {
            if let Some(offset) = last.bump_allocate(size, align) {
                return Ok((arena_count - 1, last.at(offset)));
            }
        }
        let index = u32::try_from(self.arenas.len())
            .ok()
            .filter(|&index| index < DEDICATED)
            .ok_or(Error::IdSpaceExhausted)?;
        self.arenas.try_reserve(1).map_err(|_| Error::OutOfMemory {
            requested: core::mem::size_of::<ArenaBlock>(),
        })?;
        let mut block = ArenaBlock::new(self.block_size)?;
        if let Some(last) = self.arenas.last_mut() {
            let (offset, len) = last.take_tail();
            self.free.push(Chunk {
                arena: index - 1,
                offset,
                len,
            });
        }
        // A fresh block is aligned to MAX_ALIGN and larger than any arena object.
        let offset = block
            .bump_allocate(size, align)
            .expect("fresh arena block fits");
        let data = block.at(offset);
        self.arenas.push(block);
        Ok((index, data))
    }

    /// If `entry` lives in one of this pool's arenas, its chunk (to release
    /// once the entry has left).
    #[inline]
    pub fn detach_chunk(&self, entry: &Entry) -> Option<LeftChunk> {
        match entry.placement() {
            Placement::Arena(arena) => Some(LeftChunk {
                arena,
                data: NonNull::new(entry.data() as *mut u8)?,
                len: entry.size,
            }),
            _ => None,
        }
    }

    /// Returns an arena chunk to the free chunks.
    #[inline]
    pub fn release_chunk(&mut self, left: LeftChunk) {
        let block = &self.arenas[left.arena as usize];
        let offset = block.offset_of(left.data).expect("chunk lies in its arena");
        self.free.push(Chunk {
            arena: left.arena,
            offset,
            len: left.len,
        });
    }

    /// Moves `entry`'s bytes into `reserved` (storage of this pool), if they
    /// live in an arena of the pool the entry came from; returns the chunk it
    /// left there. Inline and dedicated bytes travel with the entry.
    pub fn rehome(entry: &mut Entry, reserved: Option<Reserved>) -> Option<LeftChunk> {
        let Placement::Arena(arena) = entry.placement() else {
            return None;
        };
        let reserved = reserved.expect("arena objects move into reserved storage");
        let old = entry.data() as *mut u8;
        // SAFETY: `reserved.heap` is fresh storage of at least `size` bytes in
        // another chunk, so the ranges do not overlap; `old` holds `size`
        // bytes of the object.
        unsafe {
            core::ptr::copy_nonoverlapping(old, reserved.storage.heap.as_ptr(), entry.size());
        }
        entry.storage = reserved.storage;
        entry.placement = reserved.placement.pack();
        Some(LeftChunk {
            arena,
            data: NonNull::new(old)?,
            len: entry.size,
        })
    }

    /// Checks arena bounds, alignment and that no two live or free chunks
    /// overlap. Returns every problem found.
    pub fn check(&self, problems: &mut Vec<String>) {
        use alloc::format;
        if let Err(problem) = self.free.check() {
            problems.push(problem);
        }
        // (arena, start, end, what) for every live heap object and free chunk.
        let mut spans: Vec<(u32, u32, u32, &'static str)> = Vec::new();
        for (position, entry) in self.entries.iter().enumerate() {
            if entry.data() as usize % entry.align() != 0 {
                problems.push(format!(
                    "entry {position} at {:p} is not aligned to {}",
                    entry.data(),
                    entry.align()
                ));
            }
            if let Placement::Arena(arena) = entry.placement() {
                let Some(block) = self.arenas.get(arena as usize) else {
                    problems.push(format!(
                        "entry {position} names arena {arena} of {}",
                        self.arenas.len()
                    ));
                    continue;
                };
                let ptr = NonNull::new(entry.data() as *mut u8).expect("heap data is non-null");
                match block.offset_of(ptr) {
                    Some(start) if start as usize + entry.size() <= block.bump() as usize => {
                        spans.push((arena, start, start + entry.size, "live object"));
                    }
                    _ => problems.push(format!(
                        "entry {position} ({:p}, {} bytes) lies outside the used part of arena {arena}",
                        entry.data(),
                        entry.size
                    )),
                }
            }
        }
        for chunk in self.free.iter() {
            match self.arenas.get(chunk.arena as usize) {
                Some(block)
                    if chunk.offset as usize + chunk.len as usize <= block.bump() as usize =>
                {
                    spans.push((
                        chunk.arena,
                        chunk.offset,
                        chunk.offset + chunk.len,
                        "free chunk",
                    ));
                }
                _ => problems.push(format!("free chunk {chunk:?} lies outside its arena")),
            }
        }
        spans.sort_unstable();
        for pair in spans.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.0 == b.0 && b.1 < a.2 && a.1 < a.2 && b.1 < b.2 {
                problems.push(format!(
                    "arena {}: {} [{}, {}) overlaps {} [{}, {})",
                    a.0, a.3, a.1, a.2, b.3, b.1, b.2
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pool: &Pool) {
        let mut problems = Vec::new();
        pool.check(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    fn place(pool: &mut Pool, size: usize, align: usize) -> Entry {
        let reserved = pool
            .reserve_storage(Layout::from_size_align(size, align).unwrap())
            .unwrap();
        let mut entry = Entry::new(reserved, TypeTag(1));
        // SAFETY: a fresh raw object; every byte is written here.
        unsafe { core::ptr::write_bytes(entry.data_mut(), 0xAB, size) };
        entry
    }

    #[test]
    fn inline_threshold_is_16_bytes_aligned_16() {
        let mut pool = Pool::new(4096);
        for (size, align, inline) in [
            (0, 1, true),
            (16, 16, true),
            (17, 1, false),
            (1, 32, false),
            (0, 64, false),
        ] {
            let entry = place(&mut pool, size, align);
            assert_eq!(entry.is_inline(), inline, "size {size} align {align}");
            assert_eq!(entry.data() as usize % align, 0);
        }
    }

    #[test]
    fn inline_bytes_are_aligned_to_16_wherever_the_entry_moves() {
        let mut pool = Pool::new(4096);
        pool.try_reserve(64).unwrap();
        for _ in 0..64 {
            let entry = place(&mut pool, 16, 16);
            pool.push(entry);
        }
        for entry in pool.entries() {
            assert_eq!(entry.data() as usize % 16, 0);
        }
    }

    #[test]
    fn large_objects_get_dedicated_blocks_and_the_rest_share_arenas() {
        let mut pool = Pool::new(4096);
        let big = place(&mut pool, 2000, 8);
        assert_eq!(big.placement(), Placement::Dedicated);
        let small = place(&mut pool, 100, 8);
        assert_eq!(small.placement(), Placement::Arena(0));
        assert_eq!(pool.arena_count(), 1);
    }

    #[test]
    fn freed_chunks_are_reused_before_bumping() {
        let mut pool = Pool::new(4096);
        pool.try_reserve(2).unwrap();
        let a = place(&mut pool, 64, 16);
        let a_data = a.data();
        let _b = place(&mut pool, 64, 16);
        let left = pool.detach_chunk(&a).unwrap();
        drop(a);
        pool.release_chunk(left);
        let c = place(&mut pool, 64, 16);
        assert_eq!(c.data(), a_data, "the freed chunk is reused");
        pool.push(c);
        check(&pool);
    }

    #[test]
    fn a_full_arena_gives_its_tail_to_the_free_list_and_a_new_block_is_opened() {
        let mut pool = Pool::new(4096);
        pool.try_reserve(64).unwrap();
        for _ in 0..40 {
            let entry = place(&mut pool, 1000, 1);
            pool.push(entry);
        }
        assert!(pool.arena_count() >= 10);
        check(&pool);
        // Every chunk records the arena it came from, whatever order they are used in.
        let mut positions: Vec<u32> = (0..40).rev().step_by(3).collect();
        positions.sort_unstable_by(|a, b| b.cmp(a));
        for position in positions {
            let entry = pool.swap_remove(position);
            let left = pool.detach_chunk(&entry).unwrap();
            pool.release_chunk(left);
        }
        check(&pool);
        for _ in 0..14 {
            let entry = place(&mut pool, 1000, 1);
            pool.push(entry);
        }
        check(&pool);
    }

    #[test]
    fn swap_remove_keeps_the_entries_packed() {
        let mut pool = Pool::new(4096);
        pool.try_reserve(3).unwrap();
        for tag in 0..3 {
            let mut entry = place(&mut pool, 8, 8);
            entry.tag = TypeTag(tag);
            pool.push(entry);
        }
        let removed = pool.swap_remove(0);
        assert_eq!(removed.tag, TypeTag(0));
        let tags: Vec<u64> = pool.entries().iter().map(|e| e.tag.0).collect();
        assert_eq!(tags, [2, 1]);
    }

    #[test]
    fn rehome_copies_arena_bytes_and_reports_the_old_chunk() {
        let mut from = Pool::new(4096);
        let mut to = Pool::new(4096);
        let mut entry = place(&mut from, 40, 8);
        let reserved = to.reserve_storage(entry.layout()).unwrap();
        let left = Pool::rehome(&mut entry, Some(reserved)).unwrap();
        from.release_chunk(left);
        // SAFETY: raw bytes written by `place`.
        assert_eq!(unsafe { entry.bytes() }, &[0xAB; 40]);
        to.try_reserve(1).unwrap();
        to.push(entry);
        check(&from);
        check(&to);
    }
}

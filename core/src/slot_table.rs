//! The slot table: one record per object slot of a region.
//!
//! A handle `(slot, generation)` names the object in record `slot` while the
//! generations match. Records hold everything `get` needs in 32 bytes (one
//! half of a cache line): the generation, the size, the tag, and a 16-byte
//! cell with either the object's bytes (inline objects) or the address and
//! page of its heap storage. The counts and the alignment, which `get` never
//! reads, live in a parallel array of 12-byte [`Aux`] entries.
//!
//! **Generations.** A live record has an *odd* generation; a vacant one an
//! even generation. Issued handles always carry odd generations, so one
//! comparison checks both "same occupant" and "occupied" (slotmap's
//! parity trick). Vacating bumps the generation by one, so a stale handle is
//! recognised as stale by its record; the next occupant gets the next odd
//! generation. A slot whose generation would pass
//! [`MAX_GENERATION`](crate::MAX_GENERATION) retires for good.
//!
//! **Vacant records** say why in their tag: free (the cell links the free
//! list), forwarded (the object moved; the cell names its forwarding node,
//! and the generation is the old occupant's plus one), or retired.

use alloc::string::String;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

use crate::error::{Error, Result};
use crate::handle::MAX_GENERATION;
use crate::poison;
use crate::pool::HeapRef;

/// Marks the end of the free list.
const NO_SLOT: u32 = u32::MAX;
/// `Record::size` bit: the bytes are at `cell.heap`, not in the cell.
const HEAP: u32 = 1 << 31;
/// The generation of a slot's first occupant.
const FIRST_GENERATION: u32 = 1;

const _: () = assert!(MAX_GENERATION % 2 == 1, "live generations are odd");

/// Why a vacant record is vacant (kept in its `tag`). The top bit is set
/// and the rest is no valid type index, so a vacant record never passes the
/// tag check of `get` (raw tags have the top bit clear) or of `get_typed`
/// (an exact type index): the readers' fast path needs no separate
/// liveness test.
const VACANT: u64 = u64::MAX - 0xff;
const VACANT_FREE: u64 = VACANT;
const VACANT_FORWARDED: u64 = VACANT | 1;
const VACANT_RETIRED: u64 = VACANT | 2;

/// `Aux::info` bits 0..4: log2 of the alignment.
const ALIGN_MASK: u32 = 0xf;
/// `Aux::info` bit: the object has a forwarding node (it moved at least once).
const MOVED: u32 = 1 << 4;
/// `Aux::info` bits 5..32: the forwarding node, when `MOVED`.
const NODE_SHIFT: u32 = 5;
/// Forwarding nodes must be below this to fit `Aux::info`.
pub(crate) const NODE_LIMIT: u32 = 1 << (32 - NODE_SHIFT);

/// An object's bytes (inline), or where they are (heap), or a vacant
/// record's link.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub(crate) union Cell {
    /// The bytes of an inline object; aligned to 16.
    inline: [MaybeUninit<u8>; 16],
    /// Heap objects: where the bytes are.
    heap: HeapRef,
    /// Free records: the next free slot. Forwarded records: the node.
    link: u32,
}

impl Cell {
    /// A cell for an inline object, zeroed (the caller writes the bytes).
    pub fn inline() -> Self {
        Cell {
            inline: [MaybeUninit::new(0); 16],
        }
    }

    /// A cell naming heap storage.
    pub fn heap(heap: HeapRef) -> Self {
        Cell { heap }
    }
}

/// What a freed object left in its slot: enough to run its destructor
/// and give back its storage.
#[derive(Clone, Copy)]
pub(crate) struct Vacated {
    pub tag: u64,
    pub size: usize,
    pub heap: Option<HeapRef>,
    /// A copy of the cell: an inline object's bytes.
    pub cell: Cell,
    pub aux: Aux,
}

/// One slot: exactly what `get` reads.
#[repr(C, align(32))]
pub(crate) struct Record {
    cell: Cell,
    /// Odd while live; see the module documentation.
    pub generation: u32,
    /// Live: the size (bits 0..31, `<= MAX_OBJECT_SIZE`) and the `HEAP` bit.
    size: u32,
    /// Live: the raw tag, or `TypeTag::TYPED_BIT | type index`.
    /// Vacant: why (`VACANT_*`).
    pub tag: u64,
}

const _: () = assert!(core::mem::size_of::<Record>() == 32);
const _: () = assert!(core::mem::size_of::<Cell>() == 16);

/// Bytes of a record, and of its cell.
const RECORD: usize = core::mem::size_of::<Record>();
const CELL: usize = core::mem::size_of::<Cell>();
/// Cell bytes of a vacant record that hold its link (free list or
/// forwarding node); with the `poison` feature the rest is poisoned.
#[cfg(feature = "poison")]
const LINK: usize = core::mem::size_of::<u32>();

// SAFETY: a record either owns its bytes (inline) or names storage in its
// region's pool; objects of a Rust type are only stored when it is `Send`.
unsafe impl Send for Record {}

/// The rest of a live object's metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Aux {
    /// External strong references.
    pub strong: u32,
    /// Weak references.
    pub weak: u32,
    /// log2 of the alignment, the `MOVED` flag and the forwarding node.
    info: u32,
}

const _: () = assert!(core::mem::size_of::<Aux>() == 12);

impl Aux {
    /// Metadata of a new object aligned to `align`.
    pub fn new(align: usize) -> Self {
        Aux {
            strong: 0,
            weak: 0,
            info: align.trailing_zeros(),
        }
    }

    /// The alignment in bytes.
    pub fn align(&self) -> usize {
        1 << (self.info & ALIGN_MASK)
    }

    /// Whether the object has a forwarding node.
    #[inline]
    pub fn moved(&self) -> bool {
        self.info & MOVED != 0
    }

    /// The object's forwarding node, if it moved.
    #[inline]
    pub fn node(&self) -> Option<u32> {
        self.moved().then_some(self.info >> NODE_SHIFT)
    }

    /// Records the object's forwarding node (below `NODE_LIMIT`).
    pub fn set_node(&mut self, node: u32) {
        debug_assert!(node < NODE_LIMIT);
        self.info = (self.info & ALIGN_MASK) | MOVED | node << NODE_SHIFT;
    }
}

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Occupant {
    Live,
    Free,
    /// Forwarded to this node.
    Forwarded(u32),
    Retired,
}

impl Record {
    /// Whether the record holds a live object.
    #[inline(always)]
    pub fn is_live(&self) -> bool {
        self.generation & 1 == 1
    }

    /// What the record holds.
    pub fn occupant(&self) -> Occupant {
        if self.is_live() {
            return Occupant::Live;
        }
        match self.tag {
            // SAFETY: forwarded records keep their node in `link`.
            VACANT_FORWARDED => Occupant::Forwarded(unsafe { self.cell.link }),
            VACANT_RETIRED => Occupant::Retired,
            _ => Occupant::Free,
        }
    }

    /// Size in bytes of a live object.
    #[inline(always)]
    pub fn size(&self) -> usize {
        (self.size & !HEAP) as usize
    }

    /// The heap storage of a live heap object; `None` for inline objects.
    #[inline(always)]
    pub fn heap(&self) -> Option<HeapRef> {
        if self.size & HEAP == 0 {
            return None;
        }
        // SAFETY: the `HEAP` bit says `heap` is the active field.
        Some(unsafe { self.cell.heap })
    }

    /// Points a live heap object at new storage (compaction).
    pub fn set_heap(&mut self, heap: HeapRef) {
        debug_assert!(self.size & HEAP != 0);
        self.cell.heap = heap;
    }

    /// Address of a live object's first byte.
    #[inline(always)]
    pub fn data(&self) -> *const u8 {
        let cell = (&self.cell as *const Cell).cast::<u8>();
        // Read the cell's first word whatever it holds, so that choosing
        // between it and the cell's address needs no branch.
        // SAFETY: the cell is 16 readable bytes aligned to 16; the word is
        // read as `MaybeUninit` and only used when it is the heap address.
        let word = unsafe { cell.cast::<MaybeUninit<*const u8>>().read() };
        if self.size & HEAP != 0 {
            // SAFETY: the `HEAP` bit says the cell holds a `HeapRef`, whose
            // first field is the (initialized) address.
            unsafe { word.assume_init() }
        } else {
            cell
        }
    }

    /// Mutable address of a live object's first byte.
    #[inline]
    pub fn data_mut(&mut self) -> *mut u8 {
        match self.heap() {
            Some(heap) => heap.data.as_ptr(),
            // SAFETY: as in `data`.
            None => unsafe { self.cell.inline.as_mut_ptr().cast() },
        }
    }

    /// The cell, to move the object elsewhere.
    pub fn cell(&self) -> Cell {
        self.cell
    }

    /// Poisons the cell of a record whose object just left it (freed or
    /// moved; feature `poison`). The link written afterwards keeps bytes
    /// `0..LINK`.
    #[inline(always)]
    fn poison_cell(&mut self) {
        // SAFETY: the cell is `CELL` bytes of this record; its object is
        // gone (a copy was taken when needed), so nothing uses them.
        unsafe { poison::fill((&mut self.cell as *mut Cell).cast(), CELL, 0..CELL) }
    }

    /// Verifies the poisoned bytes of a vacant record's cell before a new
    /// object takes it; panics if they were written.
    #[cfg(feature = "poison")]
    fn verify_cell_reuse(&self) {
        // SAFETY: the cell is `CELL` readable bytes of this record; bytes
        // `LINK..` were poisoned when the record became vacant.
        unsafe { poison::verify_reuse((&self.cell as *const Cell).cast(), CELL, LINK..CELL) }
    }

    /// A `check_invariants` line if the poisoned bytes of a vacant
    /// record's cell were written.
    #[cfg(feature = "poison")]
    fn cell_poison_report(&self) -> Option<String> {
        // SAFETY: as in `verify_cell_reuse`.
        unsafe { poison::report((&self.cell as *const Cell).cast(), CELL, LINK..CELL) }
    }

    /// The object's bytes.
    ///
    /// # Safety
    /// The record must be live and all its bytes initialized (raw objects).
    #[inline(always)]
    pub unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: a live record's data points at `size` bytes it owns, which
        // the caller guarantees are initialized.
        unsafe { core::slice::from_raw_parts(self.data(), self.size()) }
    }

    /// The object's bytes, mutably.
    ///
    /// # Safety
    /// As for [`Record::bytes`]; any bytes may be written (raw objects only).
    #[inline]
    pub unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        let size = self.size();
        // SAFETY: as in `bytes`; `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.data_mut(), size) }
    }
}

impl core::fmt::Debug for Record {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut out = f.debug_struct("Record");
        out.field("generation", &self.generation);
        match self.occupant() {
            Occupant::Live => out
                .field("size", &self.size())
                .field("tag", &self.tag)
                .field("heap", &self.heap()),
            other => out.field("vacant", &other),
        };
        out.finish()
    }
}

/// The records of a region, the aux array parallel to them, and the free list.
#[derive(Debug)]
pub(crate) struct SlotTable {
    records: Vec<Record>,
    /// `aux[slot]` belongs to `records[slot]`; meaningful while live.
    aux: Vec<Aux>,
    /// Head of the free list threaded through free records.
    free_head: u32,
    /// Records on the free list.
    free: u32,
    /// Live records.
    live: u32,
    /// Forwarded records.
    forwarded: u32,
    /// Records both arrays have room for: `min(records.capacity(),
    /// aux.capacity())`, kept so the allocation path reads one field
    /// (slot ids are `u32`, so it fits one).
    room: u32,
    /// Sum of the sizes of the live objects: the region's payload bytes,
    /// what budgets count.
    bytes: u64,
}

impl Default for SlotTable {
    fn default() -> Self {
        SlotTable {
            records: Vec::new(),
            aux: Vec::new(),
            free_head: NO_SLOT,
            free: 0,
            live: 0,
            forwarded: 0,
            room: 0,
            bytes: 0,
        }
    }
}

impl SlotTable {
    /// The record of `slot`, if it exists.
    #[inline]
    pub fn record(&self, slot: u32) -> Option<&Record> {
        self.records.get(slot as usize)
    }

    /// The record of `slot`, mutably, if it exists.
    #[inline(always)]
    pub fn record_mut_checked(&mut self, slot: u32) -> Option<&mut Record> {
        self.records.get_mut(slot as usize)
    }

    /// The record of `slot`, which exists.
    #[inline]
    pub fn record_mut(&mut self, slot: u32) -> &mut Record {
        &mut self.records[slot as usize]
    }

    /// The aux entry of live `slot`.
    #[inline]
    pub fn aux(&self, slot: u32) -> &Aux {
        &self.aux[slot as usize]
    }

    /// The aux entry of live `slot`, mutably.
    #[inline]
    pub fn aux_mut(&mut self, slot: u32) -> &mut Aux {
        &mut self.aux[slot as usize]
    }

    /// Number of records (slot ids issued in this incarnation).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Number of live objects.
    #[inline]
    pub fn live_len(&self) -> usize {
        self.live as usize
    }

    /// Payload bytes of the live objects (the sum of their sizes).
    #[inline]
    pub fn live_bytes(&self) -> u64 {
        self.bytes
    }

    /// Number of forwarded records.
    pub fn forwarded_len(&self) -> usize {
        self.forwarded as usize
    }

    /// The live slots with their records, in slot order.
    pub fn live(&self) -> impl Iterator<Item = (u32, &Record)> + '_ {
        self.records
            .iter()
            .enumerate()
            .filter(|(_, record)| record.is_live())
            .map(|(slot, record)| (slot as u32, record))
    }

    /// The live records with their slots, mutably.
    pub fn live_mut(&mut self) -> impl Iterator<Item = (u32, &mut Record)> + '_ {
        self.records
            .iter_mut()
            .enumerate()
            .filter(|(_, record)| record.is_live())
            .map(|(slot, record)| (slot as u32, record))
    }

    /// Every record with its slot.
    pub fn records(&self) -> impl Iterator<Item = (u32, &Record)> + '_ {
        self.records
            .iter()
            .enumerate()
            .map(|(slot, record)| (slot as u32, record))
    }

    /// Bytes of memory the table holds.
    pub fn table_bytes(&self) -> usize {
        self.records.capacity() * core::mem::size_of::<Record>()
            + self.aux.capacity() * core::mem::size_of::<Aux>()
    }

    /// Whether `count` more objects fit without growing the table.
    #[inline(always)]
    pub fn has_room_for(&self, count: usize) -> bool {
        count <= self.free as usize + (self.room as usize - self.records.len())
    }

    /// Makes room so that `count` calls to [`occupy`](Self::occupy) cannot
    /// fail or allocate.
    #[inline]
    pub fn reserve(&mut self, count: usize) -> Result<()> {
        if self.has_room_for(count) {
            return Ok(());
        }
        let new = count - self.free as usize;
        if self.records.len().saturating_add(new) >= NO_SLOT as usize {
            return Err(Error::IdSpaceExhausted);
        }
        self.grow(new)
    }

    /// Grows both arrays to the same capacity (at least doubling), so that
    /// `records.capacity() == aux.capacity()` always holds.
    #[cold]
    fn grow(&mut self, new: usize) -> Result<()> {
        let len = self.records.len();
        let capacity = (len + new).max(len * 2).max(4);
        crate::fallible::reserve_exact(&mut self.records, capacity - len)?;
        crate::fallible::reserve_exact(&mut self.aux, capacity - len)?;
        self.room = Self::room_of(&self.records, &self.aux);
        self.poison_spare();
        Ok(())
    }

    /// What `room` must be for these arrays: their common capacity, capped
    /// at the slot-id space.
    fn room_of(records: &Vec<Record>, aux: &Vec<Aux>) -> u32 {
        records.capacity().min(aux.capacity()).min(NO_SLOT as usize) as u32
    }

    /// Puts a new live object in a free slot (or a new one; room must have
    /// been reserved) and returns `(slot, generation, data address)`.
    #[inline(always)]
    pub fn occupy(
        &mut self,
        size: usize,
        heap: bool,
        tag: u64,
        cell: Cell,
        aux: Aux,
    ) -> (u32, u32, *mut u8) {
        #[cfg(feature = "poison")]
        self.verify_reuse();
        let size = size as u32 | if heap { HEAP } else { 0 };
        let heap_data = if heap {
            // SAFETY: the caller says `cell` holds a `HeapRef` iff `heap`.
            Some(unsafe { cell.heap.data.as_ptr() })
        } else {
            None
        };
        self.live += 1;
        self.bytes += u64::from(size & !HEAP);
        let (slot, generation) = if self.free_head != NO_SLOT {
            let slot = self.free_head;
            debug_assert!((slot as usize) < self.records.len());
            // SAFETY: the free list links only existing slots (below
            // `records.len() == aux.len()`).
            let record = unsafe { self.records.get_unchecked_mut(slot as usize) };
            debug_assert_eq!(record.occupant(), Occupant::Free);
            // SAFETY: free records keep the next free slot in `link`.
            self.free_head = unsafe { record.cell.link };
            self.free -= 1;
            let generation = record.generation + 1;
            *record = Record {
                cell,
                generation,
                size,
                tag,
            };
            // SAFETY: as above.
            unsafe { *self.aux.get_unchecked_mut(slot as usize) = aux };
            (slot, generation)
        } else {
            let slot = self.records.len();
            assert!(slot < self.room as usize, "occupy without reserved room");
            // SAFETY: room was reserved in both arrays (checked above); the
            // new element is written before the length covers it.
            unsafe {
                self.records.as_mut_ptr().add(slot).write(Record {
                    cell,
                    generation: FIRST_GENERATION,
                    size,
                    tag,
                });
                self.records.set_len(slot + 1);
                self.aux.as_mut_ptr().add(slot).write(aux);
                self.aux.set_len(slot + 1);
            }
            (slot as u32, FIRST_GENERATION)
        };
        // SAFETY: `slot` was just filled. The address is computed, not read
        // back from the record just written (which would stall on store
        // forwarding).
        let record = unsafe { self.records.get_unchecked_mut(slot as usize) };
        let data = match heap_data {
            Some(data) => data,
            None => (&mut record.cell as *mut Cell).cast::<u8>(),
        };
        (slot, generation, data)
    }

    /// Verifies the memory the next [`occupy`](Self::occupy) takes (the
    /// first free record's cell, or the next spare record) before anything
    /// changes; panics if it was written since it was freed (feature
    /// `poison`).
    #[cfg(feature = "poison")]
    fn verify_reuse(&self) {
        if let Some(record) = self.records.get(self.free_head as usize) {
            record.verify_cell_reuse();
        } else {
            let start = self.records.len() * RECORD;
            // SAFETY: room was reserved, so the buffer holds the next
            // record's bytes (spare capacity), poisoned by `poison_spare`.
            unsafe {
                poison::verify_reuse(
                    self.records.as_ptr().cast(),
                    self.records.capacity() * RECORD,
                    start..start + RECORD,
                )
            }
        }
    }

    /// Poisons the records' spare capacity (feature `poison`): after the
    /// table grows, and after it empties (the records of a dead incarnation
    /// become spare capacity).
    fn poison_spare(&mut self) {
        let len = self.records.len() * RECORD;
        let capacity = self.records.capacity() * RECORD;
        // SAFETY: the buffer holds `capacity` bytes; those past `len` are
        // spare capacity, which no record uses.
        unsafe { poison::fill(self.records.as_mut_ptr().cast(), capacity, len..capacity) }
    }

    /// Makes live `slot` vacant: free, or retired at the last generation.
    #[inline(always)]
    pub fn vacate(&mut self, slot: u32) {
        self.take(slot);
    }

    /// Makes live `slot` vacant and returns what its object left: one
    /// lookup of the record and its aux entry (the path of every `free`).
    #[inline(always)]
    pub fn take(&mut self, slot: u32) -> Vacated {
        let aux = self.aux[slot as usize];
        let record = &mut self.records[slot as usize];
        debug_assert!(record.is_live());
        let vacated = Vacated {
            tag: record.tag,
            size: record.size(),
            heap: record.heap(),
            cell: record.cell,
            aux,
        };
        let last = record.generation == MAX_GENERATION;
        record.generation = record.generation.wrapping_add(1);
        record.poison_cell();
        self.put_vacant(slot, last);
        self.live -= 1;
        self.bytes -= vacated.size as u64;
        vacated
    }

    /// Files vacant `slot` as free, or as retired if its occupant had the
    /// last generation.
    #[inline(always)]
    fn put_vacant(&mut self, slot: u32, last: bool) {
        let record = &mut self.records[slot as usize];
        record.size = 0;
        if last {
            record.tag = VACANT_RETIRED;
        } else {
            record.tag = VACANT_FREE;
            record.cell.link = self.free_head;
            self.free_head = slot;
            self.free += 1;
        }
    }

    /// Makes live `slot` a forwarding record to `node`; handles to the old
    /// occupant still match it (its generation plus one).
    pub fn forward(&mut self, slot: u32, node: u32) {
        self.live -= 1;
        self.forwarded += 1;
        let record = &mut self.records[slot as usize];
        debug_assert!(record.is_live());
        self.bytes -= record.size() as u64;
        record.generation = record.generation.wrapping_add(1);
        record.size = 0;
        record.tag = VACANT_FORWARDED;
        record.poison_cell();
        record.cell.link = node;
    }

    /// Frees forwarded `slot` (its object is gone).
    pub fn release_forwarded(&mut self, slot: u32) {
        debug_assert!(matches!(
            self.records[slot as usize].occupant(),
            Occupant::Forwarded(_)
        ));
        self.forwarded -= 1;
        let last = self.records[slot as usize].generation.wrapping_sub(1) == MAX_GENERATION;
        self.put_vacant(slot, last);
    }

    /// Empties the table, keeping its capacity (the region died).
    pub fn clear(&mut self) {
        self.records.clear();
        self.poison_spare();
        self.aux.clear();
        self.free_head = NO_SLOT;
        self.free = 0;
        self.live = 0;
        self.forwarded = 0;
        self.bytes = 0;
    }

    /// Gives the capacity back (the table must be empty).
    pub fn shrink(&mut self) {
        debug_assert!(self.records.is_empty());
        self.records = Vec::new();
        self.aux = Vec::new();
        self.room = 0;
    }

    /// Checks the counts, the free list and that live generations are odd.
    pub fn check(&self, problems: &mut Vec<String>) {
        let (mut live, mut free, mut forwarded) = (0, 0, 0);
        for (slot, record) in self.records() {
            match record.occupant() {
                Occupant::Live => {
                    live += 1;
                    let align = self.aux[slot as usize].align();
                    if record.size() > crate::MAX_OBJECT_SIZE
                        || align > crate::MAX_ALIGN
                        || record.data() as usize % align != 0
                    {
                        problems.push(alloc::format!(
                            "slot {slot}: {record:?} breaks the layout rules"
                        ));
                    }
                    let inline =
                        record.size() <= crate::INLINE_SIZE && align <= crate::INLINE_ALIGN;
                    if inline == record.heap().is_some() {
                        problems.push(alloc::format!("slot {slot}: {record:?} is placed wrongly"));
                    }
                }
                Occupant::Free => free += 1,
                Occupant::Forwarded(_) => forwarded += 1,
                Occupant::Retired => {}
            }
        }
        if (live, free, forwarded) != (self.live, self.free, self.forwarded) {
            problems.push(alloc::format!(
                "{live} live, {free} free, {forwarded} forwarded records; the counts say {}, {}, {}",
                self.live,
                self.free,
                self.forwarded
            ));
        }
        let mut listed = 0;
        let mut cursor = self.free_head;
        while cursor != NO_SLOT {
            match self.records.get(cursor as usize) {
                Some(record) if record.occupant() == Occupant::Free && listed < free => {
                    listed += 1;
                    // SAFETY: free records keep the next free slot in `link`.
                    cursor = unsafe { record.cell.link };
                }
                _ => {
                    problems.push(alloc::format!(
                        "the free list reaches slot {cursor} wrongly"
                    ));
                    return;
                }
            }
        }
        if listed != free {
            problems.push(alloc::format!("{free} free records but {listed} listed"));
        }
        if self.aux.len() != self.records.len()
            || self.room != Self::room_of(&self.records, &self.aux)
        {
            problems.push("the aux array is not parallel to the records".into());
        }
        let bytes: u64 = self.live().map(|(_, record)| record.size() as u64).sum();
        if bytes != self.bytes {
            problems.push(alloc::format!(
                "live objects hold {bytes} payload bytes but the table counts {}",
                self.bytes
            ));
        }
        #[cfg(feature = "poison")]
        self.check_poison(problems);
    }

    /// Checks that the memory of objects that left the table is still
    /// poison: vacant records' cells and the spare records. A dead
    /// region's table (all spare) is checked with this alone.
    #[cfg(feature = "poison")]
    pub fn check_poison(&self, problems: &mut Vec<String>) {
        for (slot, record) in self.records() {
            if record.is_live() {
                continue;
            }
            if let Some(problem) = record.cell_poison_report() {
                problems.push(alloc::format!("vacant slot {slot}: {problem}"));
            }
        }
        let (len, capacity) = (self.records.len(), self.records.capacity());
        // SAFETY: the buffer holds `capacity` records; those past `len` are
        // spare capacity, poisoned by `poison_spare`.
        let spare = unsafe {
            poison::report(
                self.records.as_ptr().cast(),
                capacity * RECORD,
                len * RECORD..capacity * RECORD,
            )
        };
        if let Some(problem) = spare {
            problems.push(alloc::format!("spare slot records: {problem}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(n: usize) -> SlotTable {
        let mut table = SlotTable::default();
        table.reserve(n).unwrap();
        for _ in 0..n {
            table.occupy(4, false, 7, Cell::inline(), Aux::new(4));
        }
        table
    }

    fn check(table: &SlotTable) {
        let mut problems = Vec::new();
        table.check(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn vacating_makes_the_generation_even_and_reuse_makes_it_odd_again() {
        let mut table = table_with(2);
        assert_eq!(table.record(0).unwrap().generation, 1);
        table.vacate(0);
        assert_eq!(table.record(0).unwrap().generation, 2);
        assert_eq!(table.record(0).unwrap().occupant(), Occupant::Free);
        table.reserve(1).unwrap();
        let (slot, generation, _) = table.occupy(1, false, 3, Cell::inline(), Aux::new(1));
        assert_eq!(
            (slot, generation),
            (0, 3),
            "slot 0 is recycled with generation 3"
        );
        check(&table);
    }

    #[test]
    fn free_slots_are_recycled_last_in_first_out() {
        let mut table = table_with(4);
        table.vacate(1);
        table.vacate(3);
        table.reserve(3).unwrap();
        let mut occupy = || table.occupy(1, false, 0, Cell::inline(), Aux::new(1)).0;
        assert_eq!(occupy(), 3);
        assert_eq!(occupy(), 1);
        assert_eq!(occupy(), 4, "a new slot once the free list is empty");
        check(&table);
    }

    #[test]
    fn a_slot_retires_at_the_last_generation() {
        let mut table = table_with(1);
        table.records[0].generation = MAX_GENERATION;
        table.vacate(0);
        assert_eq!(table.record(0).unwrap().occupant(), Occupant::Retired);
        table.reserve(1).unwrap();
        let (slot, generation, _) = table.occupy(1, false, 0, Cell::inline(), Aux::new(1));
        assert_eq!(
            (slot, generation),
            (1, 1),
            "the retired slot is never handed out"
        );
        check(&table);
    }

    #[test]
    fn forwarding_keeps_old_handles_recognisable_until_released() {
        let mut table = table_with(3);
        table.forward(0, 42);
        let record = table.record(0).unwrap();
        assert_eq!(record.generation, 2, "old handles carry 1");
        assert_eq!(record.occupant(), Occupant::Forwarded(42));
        assert_eq!(
            table.live().map(|(slot, _)| slot).collect::<Vec<_>>(),
            [1, 2]
        );
        check(&table);
        table.release_forwarded(0);
        assert_eq!(table.record(0).unwrap().occupant(), Occupant::Free);
        check(&table);
    }

    #[test]
    fn records_are_half_a_cache_line() {
        assert_eq!(core::mem::size_of::<Record>(), 32);
        assert_eq!(core::mem::align_of::<Record>(), 32);
        assert_eq!(core::mem::size_of::<Aux>(), 12);
    }
}

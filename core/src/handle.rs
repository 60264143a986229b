//! Handles: plain `Copy` names for regions and objects.
//!
//! A handle is never a pointer. Every field is checked on every use, so a stale
//! or fabricated handle is always an `Err`, never undefined behaviour.

use core::fmt;

/// The largest generation a slot or region id reaches before it is retired
/// for good. A generation never wraps, so a handle can never name a later
/// occupant of the same id (no ABA).
///
/// The `small-generations` feature shrinks this to 3 so that tests and
/// fuzzing reach retirement quickly.
pub const MAX_GENERATION: u32 = if cfg!(feature = "small-generations") {
    3
} else {
    u32::MAX
};

/// The next generation after `generation`, or `None` when the id must retire.
pub(crate) fn next_generation(generation: u32) -> Option<u32> {
    (generation != MAX_GENERATION).then(|| generation + 1)
}

/// Two `u32`s packed in one `u64` (`low | high << 32`). Handles are packed
/// this way so that reading one from memory is one or two integer loads,
/// not a vector load whose parts must be forwarded back from the stack.
#[inline(always)]
const fn pack(low: u32, high: u32) -> u64 {
    low as u64 | (high as u64) << 32
}

/// Names a region: (region id, region generation).
///
/// Valid while the region it was returned for is alive. Region ids are
/// recycled with a generation bump, so an old handle to a recycled id is stale.
/// Handles order by id, then generation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegionHandle {
    /// `id | generation << 32`.
    bits: u64,
}

impl RegionHandle {
    /// The permanent root region of every registry.
    pub const ROOT: RegionHandle = RegionHandle::from_raw_parts(0, 0);

    /// Builds a handle from raw field values. Nothing is checked here: a
    /// handle that names no live region is rejected by every operation.
    ///
    /// ```
    /// use regions::{Registry, RegionHandle};
    /// let mut reg = Registry::new();
    /// let fake = RegionHandle::from_raw_parts(7, 3);
    /// assert!(reg.retain_region(fake).is_err());
    /// ```
    #[inline(always)]
    pub const fn from_raw_parts(id: u32, generation: u32) -> Self {
        RegionHandle {
            bits: pack(id, generation),
        }
    }

    /// The region id (an index into the registry's region table).
    ///
    /// ```
    /// use regions::{RegionHandle, Registry};
    /// assert_eq!(RegionHandle::from_raw_parts(3, 9).id(), 3);
    /// let mut reg = Registry::new();
    /// assert_eq!(reg.root().id(), 0);
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.release_region(r).unwrap();
    /// assert_eq!(reg.create_region(reg.root()).unwrap().id(), r.id()); // recycled
    /// ```
    #[inline(always)]
    pub const fn id(self) -> u32 {
        self.bits as u32
    }

    /// The generation of the region id this handle was issued for.
    ///
    /// ```
    /// use regions::{RegionHandle, Registry};
    /// assert_eq!(RegionHandle::from_raw_parts(3, 9).generation(), 9);
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.release_region(r).unwrap();
    /// let again = reg.create_region(reg.root()).unwrap(); // same id, next generation
    /// assert_eq!(again.generation(), r.generation() + 1);
    /// ```
    #[inline(always)]
    pub const fn generation(self) -> u32 {
        (self.bits >> 32) as u32
    }

    /// Both fields in one word: `id | generation << 32`.
    #[inline(always)]
    pub(crate) const fn bits(self) -> u64 {
        self.bits
    }
}

impl Ord for RegionHandle {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.id(), self.generation()).cmp(&(other.id(), other.generation()))
    }
}

impl PartialOrd for RegionHandle {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for RegionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegionHandle")
            .field("id", &self.id())
            .field("generation", &self.generation())
            .finish()
    }
}

impl fmt::Display for RegionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "region {}v{}", self.id(), self.generation())
    }
}

/// Names an object: (region id, region generation, slot id, slot generation).
///
/// The region generation and the slot generation are separate fields: the
/// first says which incarnation of the region the slot table belongs to, the
/// second which occupant of the slot. An object handle stays valid through
/// promotions: [`Registry::resolve`](crate::Registry::resolve) gives the
/// object's current home handle. Handles order by region, then slot, then
/// slot generation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectHandle {
    region: RegionHandle,
    /// `slot | slot_generation << 32`.
    slot_bits: u64,
}

impl ObjectHandle {
    /// Builds a handle from raw field values. Nothing is checked here.
    ///
    /// ```
    /// use regions::{Registry, ObjectHandle};
    /// let reg = Registry::new();
    /// let fake = ObjectHandle::from_raw_parts(0, 0, 12, 0);
    /// assert!(reg.get(fake).is_err());
    /// ```
    #[inline(always)]
    pub const fn from_raw_parts(
        region_id: u32,
        region_generation: u32,
        slot: u32,
        slot_generation: u32,
    ) -> Self {
        Self::new(
            RegionHandle::from_raw_parts(region_id, region_generation),
            slot,
            slot_generation,
        )
    }

    /// The handle of `slot` at `slot_generation` in `region`.
    #[inline(always)]
    pub(crate) const fn new(region: RegionHandle, slot: u32, slot_generation: u32) -> Self {
        ObjectHandle {
            region,
            slot_bits: pack(slot, slot_generation),
        }
    }

    /// The region this handle was issued in (not necessarily the object's
    /// current home; see [`Registry::region_of`](crate::Registry::region_of)).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// let h = reg.alloc_typed(r, 1u8).unwrap();
    /// assert_eq!(h.region(), r);
    /// let moved = reg.promote(h, reg.root()).unwrap();
    /// assert_eq!((h.region(), moved.region()), (r, reg.root()));
    /// ```
    #[inline(always)]
    pub const fn region(self) -> RegionHandle {
        self.region
    }

    /// The slot id within that region's slot table.
    ///
    /// ```
    /// use regions::{ObjectHandle, Registry};
    /// assert_eq!(ObjectHandle::from_raw_parts(1, 0, 5, 2).slot(), 5);
    /// let mut reg = Registry::new();
    /// let old = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// reg.free(old).unwrap();
    /// let new = reg.alloc_typed(reg.root(), 2u8).unwrap();
    /// assert_eq!(new.slot(), old.slot()); // the freed slot is reused
    /// ```
    #[inline(always)]
    pub const fn slot(self) -> u32 {
        self.slot_bits as u32
    }

    /// The generation of the slot this handle was issued for.
    ///
    /// ```
    /// use regions::{Error, Found, Registry};
    /// let mut reg = Registry::new();
    /// let old = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// reg.free(old).unwrap();
    /// let new = reg.alloc_typed(reg.root(), 2u8).unwrap(); // same slot, later generation
    /// assert!(new.slot_generation() > old.slot_generation());
    /// let err = reg.get_typed::<u8>(old).unwrap_err();
    /// let found = Found::StaleSlot { current: new.slot_generation() };
    /// assert_eq!(err, Error::StaleHandle { handle: old, found });
    /// ```
    #[inline(always)]
    pub const fn slot_generation(self) -> u32 {
        (self.slot_bits >> 32) as u32
    }
}

impl Ord for ObjectHandle {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.region, self.slot(), self.slot_generation()).cmp(&(
            other.region,
            other.slot(),
            other.slot_generation(),
        ))
    }
}

impl PartialOrd for ObjectHandle {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for ObjectHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectHandle")
            .field("region", &self.region)
            .field("slot", &self.slot())
            .field("slot_generation", &self.slot_generation())
            .finish()
    }
}

impl fmt::Display for ObjectHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "object {}v{}/{}v{}",
            self.region.id(),
            self.region.generation(),
            self.slot(),
            self.slot_generation()
        )
    }
}

/// A weak reference: it never keeps its object alive through region death.
///
/// Obtained from [`Registry::downgrade`](crate::Registry::downgrade), which
/// increments the object's weak count; [`Registry::drop_weak`](crate::Registry::drop_weak)
/// decrements it. [`Registry::upgrade`](crate::Registry::upgrade) yields the
/// object's current home handle while it is alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WeakHandle {
    pub(crate) target: ObjectHandle,
}

impl WeakHandle {
    /// Builds a weak handle that names `target`; nothing is checked and no
    /// count changes.
    ///
    /// ```
    /// use regions::{Registry, WeakHandle};
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// let weak = WeakHandle::from_object_handle(h);
    /// assert_eq!(reg.upgrade(weak), Some(h));
    /// assert_eq!(reg.weak_count(h).unwrap(), 0); // not counted
    /// ```
    pub const fn from_object_handle(target: ObjectHandle) -> Self {
        WeakHandle { target }
    }

    /// The object handle this weak handle names (it may be stale).
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::new();
    /// let h = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// let weak = reg.downgrade(h).unwrap();
    /// assert_eq!(weak.object_handle(), h);
    /// reg.free(h).unwrap();
    /// assert!(!reg.is_alive(weak.object_handle())); // stale now
    /// ```
    pub const fn object_handle(self) -> ObjectHandle {
        self.target
    }
}

/// A type tag: says how an object's bytes are to be read and which destructor
/// runs when it is destroyed.
///
/// Raw tags are chosen by the user and must be below [`TypeTag::TYPED_BIT`];
/// tags with that bit set are derived from `TypeId`s by typed allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeTag(pub u64);

impl TypeTag {
    /// The bit reserved for tags of typed allocations.
    pub const TYPED_BIT: u64 = 1 << 63;

    /// Whether this tag belongs to a typed allocation.
    ///
    /// ```
    /// use regions::{typed_tag, TypeTag};
    /// assert!(typed_tag::<String>().is_typed());
    /// assert!(TypeTag(TypeTag::TYPED_BIT | 42).is_typed());
    /// assert!(!TypeTag(42).is_typed());
    /// ```
    pub const fn is_typed(self) -> bool {
        self.0 & Self::TYPED_BIT != 0
    }
}

impl fmt::Display for TypeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_typed() {
            write!(f, "typed tag {:#x}", self.0)
        } else {
            write!(f, "tag {}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn next_generation_retires_at_the_maximum() {
        assert_eq!(next_generation(0), Some(1));
        assert_eq!(next_generation(MAX_GENERATION - 1), Some(MAX_GENERATION));
        assert_eq!(next_generation(MAX_GENERATION), None);
    }

    #[test]
    fn handles_display_every_field() {
        let h = ObjectHandle::from_raw_parts(1, 2, 3, 4);
        assert_eq!(h.to_string(), "object 1v2/3v4");
        assert_eq!(h.region().to_string(), "region 1v2");
        assert!(TypeTag(TypeTag::TYPED_BIT | 5).is_typed());
        assert!(!TypeTag(5).is_typed());
    }
}

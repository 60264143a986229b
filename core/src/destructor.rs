//! The destructor registry and the table of typed tags.
//!
//! Raw tags map to user destructors; typed tags map to the `TypeId` that
//! claimed them and, when the type needs dropping, `drop_in_place::<T>`.
//! Both lookups are hash lookups (O(1)); when nothing is registered,
//! destroying an object does no lookup at all.

use alloc::boxed::Box;
use core::any::TypeId;
use core::hash::{Hash, Hasher};

use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::handle::{ObjectHandle, TypeTag};

/// A user destructor: receives the object's current home handle and its bytes.
pub type Destructor = Box<dyn FnMut(ObjectHandle, &mut [u8]) + Send>;

/// What the registry knows about a typed tag.
#[derive(Clone, Copy, Debug)]
struct TypedInfo {
    type_id: TypeId,
    /// `drop_in_place::<T>` for types that need dropping.
    drop: Option<unsafe fn(*mut u8)>,
}

/// The tag typed allocations of `T` carry: a 63-bit FNV-1a hash of its
/// `TypeId` with [`TypeTag::TYPED_BIT`] set.
pub fn typed_tag<T: 'static>() -> TypeTag {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    TypeId::of::<T>().hash(&mut hasher);
    TypeTag(hasher.finish() | TypeTag::TYPED_BIT)
}

/// Drops the `T` at `data`.
///
/// # Safety
/// `data` must point at a valid, aligned `T` that is never used again.
unsafe fn drop_value<T>(data: *mut u8) {
    // SAFETY: guaranteed by the caller.
    unsafe { core::ptr::drop_in_place(data.cast::<T>()) }
}

/// Destructors by tag.
#[derive(Default)]
pub(crate) struct Destructors {
    raw: HashMap<u64, Destructor>,
    typed: HashMap<u64, TypedInfo>,
    /// Typed tags whose type needs dropping, so `is_empty` (asked on every
    /// region death) does not scan `typed`.
    typed_drops: usize,
}

impl core::fmt::Debug for Destructors {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Destructors")
            .field("raw_tags", &self.raw.len())
            .field("typed", &self.typed)
            .finish()
    }
}

impl Destructors {
    /// Installs `destructor` for raw `tag`, replacing (and dropping) any earlier one.
    pub fn register(&mut self, tag: TypeTag, destructor: Destructor) -> Result<()> {
        if tag.is_typed() {
            return Err(Error::ReservedTypeTag { tag });
        }
        self.raw.try_reserve(1).map_err(|_| Error::OutOfMemory {
            requested: core::mem::size_of::<(u64, Destructor)>(),
        })?;
        self.raw.insert(tag.0, destructor);
        Ok(())
    }

    /// Claims `typed_tag::<T>()` for `T` (registering its drop glue), or
    /// fails if another type claimed that tag first.
    pub fn claim_typed<T: 'static>(&mut self) -> Result<TypeTag> {
        let tag = typed_tag::<T>();
        match self.typed.get(&tag.0) {
            Some(info) if info.type_id == TypeId::of::<T>() => Ok(tag),
            Some(_) => Err(Error::TypeTagCollision { tag }),
            None => {
                self.typed.try_reserve(1).map_err(|_| Error::OutOfMemory {
                    requested: core::mem::size_of::<(u64, TypedInfo)>(),
                })?;
                let drop =
                    core::mem::needs_drop::<T>().then_some(drop_value::<T> as unsafe fn(*mut u8));
                self.typed_drops += usize::from(drop.is_some());
                self.typed.insert(
                    tag.0,
                    TypedInfo {
                        type_id: TypeId::of::<T>(),
                        drop,
                    },
                );
                Ok(tag)
            }
        }
    }

    /// Whether `tag` was claimed by `T` (so a typed object with `tag` is a `T`).
    #[inline]
    pub fn is_claimed_by<T: 'static>(&self, tag: TypeTag) -> bool {
        tag == typed_tag::<T>()
            && self
                .typed
                .get(&tag.0)
                .is_some_and(|info| info.type_id == TypeId::of::<T>())
    }

    /// Whether some type claimed typed `tag`.
    pub fn is_typed_tag(&self, tag: TypeTag) -> bool {
        self.typed.contains_key(&tag.0)
    }

    /// Whether destroying an object of `tag` runs anything.
    #[cfg(test)]
    pub fn has_destructor(&self, tag: TypeTag) -> bool {
        if tag.is_typed() {
            self.typed
                .get(&tag.0)
                .is_some_and(|info| info.drop.is_some())
        } else {
            !self.raw.is_empty() && self.raw.contains_key(&tag.0)
        }
    }

    /// Whether any destructor at all is registered (typed or raw).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.typed_drops == 0
    }

    /// Runs the destructor for an object of `tag` at `data` (`size` bytes), if any.
    ///
    /// # Safety
    /// `data` must point at the live object's `size` bytes, which are never
    /// read as the object again; for typed tags, at a valid value of the type
    /// that claimed `tag`.
    #[inline]
    pub unsafe fn run(&mut self, handle: ObjectHandle, tag: TypeTag, data: *mut u8, size: usize) {
        if tag.is_typed() {
            if let Some(drop) = self.typed.get(&tag.0).and_then(|info| info.drop) {
                // SAFETY: the tag was claimed by the type whose drop glue this
                // is, and the caller guarantees `data` holds such a value.
                unsafe { drop(data) }
            }
        } else if self.raw.is_empty() {
            // Nothing registered: skip hashing.
        } else if let Some(destructor) = self.raw.get_mut(&tag.0) {
            // SAFETY: raw objects' bytes are always initialized; the caller
            // guarantees `data` points at `size` of them, exclusively.
            let bytes = unsafe { core::slice::from_raw_parts_mut(data, size) };
            destructor(handle, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn typed_tags_have_the_typed_bit_and_differ_between_types() {
        assert!(typed_tag::<u64>().is_typed());
        assert_ne!(typed_tag::<u64>(), typed_tag::<u32>());
        assert_eq!(typed_tag::<String>(), typed_tag::<String>());
    }

    #[test]
    fn raw_registration_refuses_typed_tags_and_replaces_earlier_destructors() {
        let mut d = Destructors::default();
        assert!(d.is_empty());
        assert!(matches!(
            d.register(TypeTag(TypeTag::TYPED_BIT), Box::new(|_, _| {})),
            Err(Error::ReservedTypeTag { .. })
        ));
        d.register(TypeTag(3), Box::new(|_, b| b[0] = 1)).unwrap();
        d.register(TypeTag(3), Box::new(|_, b| b[0] = 2)).unwrap();
        let mut byte = [0u8];
        // SAFETY: one initialized byte.
        unsafe {
            d.run(
                ObjectHandle::from_raw_parts(0, 0, 0, 0),
                TypeTag(3),
                byte.as_mut_ptr(),
                1,
            )
        };
        assert_eq!(byte, [2], "the second registration replaced the first");
        assert!(d.has_destructor(TypeTag(3)));
        assert!(!d.has_destructor(TypeTag(4)));
    }

    #[test]
    fn typed_claims_register_drop_glue_only_when_needed() {
        let mut d = Destructors::default();
        let tag = d.claim_typed::<u64>().unwrap();
        assert!(!d.has_destructor(tag));
        assert!(d.is_empty());
        let tag = d.claim_typed::<String>().unwrap();
        assert!(d.has_destructor(tag));
        assert!(d.is_claimed_by::<String>(tag));
        assert!(!d.is_claimed_by::<u64>(tag));
    }
}

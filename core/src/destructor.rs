//! The destructor registry and the table of Rust types.
//!
//! Raw tags map to user destructors (a hash map: O(1) however many tags).
//! Rust types used by typed allocation get a dense *type index* the first
//! time they are allocated; a typed object's slot stores
//! `TypeTag::TYPED_BIT | index`, so a typed read checks its type with one
//! array read and a `TypeId` comparison — no hashing — and running its drop
//! glue is one more array read. The public [`TypeTag`] of a typed object is
//! [`typed_tag`], a hash of the `TypeId`, kept in the type's entry.

use alloc::boxed::Box;
use core::any::TypeId;
use core::hash::{BuildHasher, Hash, Hasher};

use alloc::vec::Vec;
use hashbrown::HashMap;

use crate::error::{Error, ObjectType, Result};
use crate::handle::{ObjectHandle, TypeTag};

/// A user destructor: receives the object's current home handle and its bytes.
pub type Destructor = Box<dyn FnMut(ObjectHandle, &mut [u8]) + Send>;

/// Drop glue: drops the value(s) in `size` bytes at the address.
type DropGlue = unsafe fn(*mut u8, usize);

/// What the registry knows about a Rust type.
#[derive(Clone, Copy, Debug)]
struct TypeInfo {
    type_id: TypeId,
    /// `core::any::type_name`, for error messages.
    name: &'static str,
    /// The public tag, [`typed_tag`] of the type.
    tag: TypeTag,
    drop: Option<DropGlue>,
}

/// The tag typed allocations of `T` carry: a 63-bit FNV-1a hash of its
/// `TypeId` with [`TypeTag::TYPED_BIT`] set.
///
/// ```
/// use regions::{typed_tag, Registry};
/// let mut reg = Registry::new();
/// let h = reg.alloc_typed(reg.root(), 1u32).unwrap();
/// assert_eq!(reg.type_tag(h).unwrap(), typed_tag::<u32>());
/// assert_ne!(typed_tag::<u32>(), typed_tag::<i32>());
/// assert!(typed_tag::<[u8]>().is_typed());
/// ```
pub fn typed_tag<T: ?Sized + 'static>() -> TypeTag {
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
    // Hashed at run time on purpose: with rustc 1.95, once inlined into
    // some crates (the harness's release build), the compile-time fold of
    // this hash gave u64, i64, u32 and i32 one and the same tag, so every
    // typed allocation after the first type failed with
    // `TypeTagCollision`. `TypeId`'s `Hash` reads the id's integer half
    // next to a pointer that only exists at run time; `black_box` keeps
    // the optimizer from folding that read.
    core::hint::black_box(TypeId::of::<T>()).hash(&mut hasher);
    TypeTag(hasher.finish() | TypeTag::TYPED_BIT)
}

/// Drops the `T` at `data`.
///
/// # Safety
/// `data` must point at a valid, aligned `T` that is never used again.
unsafe fn drop_value<T>(data: *mut u8, _size: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe { core::ptr::drop_in_place(data.cast::<T>()) }
}

/// Drops the `[T]` of `size` bytes at `data`.
///
/// # Safety
/// `data` must point at `size / size_of::<T>()` valid, aligned `T`s (`T`
/// not zero-sized) that are never used again.
unsafe fn drop_slice<T>(data: *mut u8, size: usize) {
    let len = size / core::mem::size_of::<T>();
    // SAFETY: guaranteed by the caller.
    unsafe { core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(data.cast::<T>(), len)) }
}

/// Hashes a typed tag as itself: it is already a hash.
#[derive(Clone, Copy, Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl BuildHasher for TagHasher {
    type Hasher = TagHasher;
    fn build_hasher(&self) -> TagHasher {
        TagHasher(0)
    }
}

/// Entries of the type-index cache (a power of two).
const CACHE: usize = 64;

/// The two cache entries a typed tag may occupy (two-way, so that two
/// types whose first entries collide do not evict each other forever).
#[inline(always)]
fn cache_slots(tag: u64) -> [usize; 2] {
    [(tag as usize) % CACHE, ((tag >> 32) as usize) % CACHE]
}

/// Destructors by raw tag, and the type table.
pub(crate) struct Destructors {
    raw: HashMap<u64, Destructor>,
    types: Vec<TypeInfo>,
    /// Public typed tag → type index.
    by_tag: HashMap<u64, u32, TagHasher>,
    /// A direct-mapped cache of `by_tag`, by the tag's low bits.
    cache: [(u64, u32); CACHE],
    /// Types whose values need dropping, so `is_empty` (asked on every
    /// region death) does not scan `types`.
    typed_drops: usize,
}

impl Default for Destructors {
    fn default() -> Self {
        Destructors {
            raw: HashMap::default(),
            types: Vec::new(),
            by_tag: HashMap::default(),
            cache: [(0, 0); CACHE],
            typed_drops: 0,
        }
    }
}

impl core::fmt::Debug for Destructors {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Destructors")
            .field("raw_tags", &self.raw.len())
            .field("types", &self.types)
            .finish()
    }
}

impl Destructors {
    /// Installs `destructor` for raw `tag`, replacing (and dropping) any earlier one.
    pub fn register(&mut self, tag: TypeTag, destructor: Destructor) -> Result<()> {
        if tag.is_typed() {
            return Err(Error::ReservedTypeTag { tag });
        }
        crate::fallible::reserve_map(&mut self.raw, 1)?;
        self.raw.insert(tag.0, destructor);
        Ok(())
    }

    /// The stored tag (`TYPED_BIT | type index`) of typed objects of `T`,
    /// registering `T` on first use; fails if another type has the same
    /// public tag.
    #[inline]
    pub fn claim<T: 'static>(&mut self) -> Result<u64> {
        self.claim_with::<T>(core::mem::needs_drop::<T>().then_some(drop_value::<T> as DropGlue))
    }

    /// Like [`claim`](Self::claim) for slices `[T]`.
    #[inline]
    pub fn claim_slice<T: 'static>(&mut self) -> Result<u64> {
        self.claim_with::<[T]>(core::mem::needs_drop::<T>().then_some(drop_slice::<T> as DropGlue))
    }

    /// The stored tag of `T` if the cache has it (the allocation fast path).
    #[inline(always)]
    pub fn claim_cached<T: 'static>(&self) -> Option<u64> {
        self.cached::<T>(typed_tag::<T>())
    }

    /// The stored tag for `T`, whose public tag is `tag`, from the cache.
    #[inline(always)]
    fn cached<T: ?Sized + 'static>(&self, tag: TypeTag) -> Option<u64> {
        cache_slots(tag.0).into_iter().find_map(|slot| {
            let (cached_tag, index) = self.cache[slot];
            (cached_tag == tag.0 && self.types[index as usize].type_id == TypeId::of::<T>())
                .then_some(TypeTag::TYPED_BIT | u64::from(index))
        })
    }

    #[inline]
    fn claim_with<T: ?Sized + 'static>(&mut self, drop: Option<DropGlue>) -> Result<u64> {
        let tag = typed_tag::<T>();
        match self.cached::<T>(tag) {
            Some(stored) => Ok(stored),
            None => self.claim_slow::<T>(tag, drop),
        }
    }

    #[cold]
    fn claim_slow<T: ?Sized + 'static>(
        &mut self,
        tag: TypeTag,
        drop: Option<DropGlue>,
    ) -> Result<u64> {
        let index = match self.by_tag.get(&tag.0) {
            Some(&index) if self.types[index as usize].type_id == TypeId::of::<T>() => index,
            Some(_) => return Err(Error::TypeTagCollision { tag }),
            None => {
                if self.types.len() >= (u32::MAX >> 1) as usize {
                    return Err(Error::IdSpaceExhausted);
                }
                crate::fallible::reserve(&mut self.types, 1)?;
                crate::fallible::reserve_map(&mut self.by_tag, 1)?;
                let index = self.types.len() as u32;
                self.types.push(TypeInfo {
                    type_id: TypeId::of::<T>(),
                    name: core::any::type_name::<T>(),
                    tag,
                    drop,
                });
                self.by_tag.insert(tag.0, index);
                self.typed_drops += usize::from(drop.is_some());
                index
            }
        };
        // The first entry unless another type holds it; then the second.
        let [first, second] = cache_slots(tag.0);
        let slot = if self.cache[first].0 == 0 {
            first
        } else {
            second
        };
        self.cache[slot] = (tag.0, index);
        Ok(TypeTag::TYPED_BIT | u64::from(index))
    }

    /// Whether an object with stored tag `stored` is a `T`.
    #[inline]
    pub fn is<T: ?Sized + 'static>(&self, stored: u64) -> bool {
        stored & TypeTag::TYPED_BIT != 0
            && self
                .types
                .get((stored & !TypeTag::TYPED_BIT) as usize)
                .is_some_and(|info| info.type_id == TypeId::of::<T>())
    }

    /// The type index in a stored typed tag, `None` for raw tags.
    #[inline]
    pub fn type_index(stored: u64) -> Option<u32> {
        (stored & TypeTag::TYPED_BIT != 0).then_some((stored & !TypeTag::TYPED_BIT) as u32)
    }

    /// The public tag of an object whose stored tag is `stored`.
    #[inline]
    pub fn public_tag(&self, stored: u64) -> TypeTag {
        match Self::type_index(stored) {
            Some(index) => self.types[index as usize].tag,
            None => TypeTag(stored),
        }
    }

    /// What an object with stored tag `stored` is, for error messages.
    pub fn object_type(&self, stored: u64) -> ObjectType {
        match Self::type_index(stored) {
            Some(index) => ObjectType::Type(self.types[index as usize].name),
            None => ObjectType::Raw(TypeTag(stored)),
        }
    }

    /// Whether `stored` is a raw tag or the tag of a registered type.
    pub fn is_valid_tag(&self, stored: u64) -> bool {
        match Self::type_index(stored) {
            Some(index) => (index as usize) < self.types.len(),
            None => true,
        }
    }

    /// Whether destroying an object with stored tag `stored` runs anything.
    #[cfg(test)]
    pub fn has_destructor(&self, stored: u64) -> bool {
        match Self::type_index(stored) {
            Some(index) => self.types[index as usize].drop.is_some(),
            None => self.raw.contains_key(&stored),
        }
    }

    /// Whether any destructor at all is registered (typed or raw).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.typed_drops == 0
    }

    /// Runs the destructor for an object with stored tag `stored` at `data`
    /// (`size` bytes), if any.
    ///
    /// # Safety
    /// `data` must point at the live object's `size` bytes, which are never
    /// read as the object again; for typed tags, at valid value(s) of the
    /// type with that index.
    #[inline]
    pub unsafe fn run(&mut self, handle: ObjectHandle, stored: u64, data: *mut u8, size: usize) {
        match Self::type_index(stored) {
            Some(index) => {
                if let Some(drop) = self.types[index as usize].drop {
                    // SAFETY: the index was claimed by the type whose drop
                    // glue this is; the caller guarantees `data` holds it.
                    unsafe { drop(data, size) }
                }
            }
            None if self.raw.is_empty() => {}
            None => {
                if let Some(destructor) = self.raw.get_mut(&stored) {
                    // SAFETY: raw objects' bytes are always initialized; the
                    // caller guarantees `data` points at `size` of them.
                    let bytes = unsafe { core::slice::from_raw_parts_mut(data, size) };
                    destructor(handle, bytes);
                }
            }
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
        assert_ne!(typed_tag::<u64>(), typed_tag::<[u64]>());
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
                ObjectHandle::from_raw_parts(0, 0, 0, 1),
                3,
                byte.as_mut_ptr(),
                1,
            )
        };
        assert_eq!(byte, [2], "the second registration replaced the first");
        assert!(d.has_destructor(3));
        assert!(!d.has_destructor(4));
    }

    #[test]
    fn types_get_dense_indices_and_drop_glue_only_when_needed() {
        let mut d = Destructors::default();
        let word = d.claim::<u64>().unwrap();
        assert_eq!(Destructors::type_index(word), Some(0));
        assert!(!d.has_destructor(word));
        assert!(d.is_empty());
        let text = d.claim::<String>().unwrap();
        assert_eq!(Destructors::type_index(text), Some(1));
        assert_eq!(d.claim::<String>().unwrap(), text, "claimed once");
        assert!(d.has_destructor(text));
        assert!(d.is::<String>(text));
        assert!(!d.is::<u64>(text));
        assert!(!d.is::<String>(5), "a raw tag is no type");
        assert_eq!(d.public_tag(text), typed_tag::<String>());
        let slice = d.claim_slice::<String>().unwrap();
        assert!(d.is::<[String]>(slice));
        assert_eq!(d.public_tag(slice), typed_tag::<[String]>());
    }
}

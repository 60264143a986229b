//! Per-type serializers: the [`Persist`] trait, what it writes with
//! ([`Saver`]) and reads with ([`Loader`]), and the registry's table of
//! registered types.
//!
//! A typed object is serialized by the `Persist` implementation of its
//! type, registered with [`Registry::register_persist`]. Handles a value
//! holds are written with [`Saver::handle`] as the index of their object
//! in the stream and come back, through [`Loader::handle`], as the handles
//! of the new copies. Raw objects need no serializer: their bytes, tag and
//! alignment are the object.

use alloc::vec::Vec;
use core::alloc::Layout;

use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::fallible;
use crate::handle::ObjectHandle;
use crate::registry::Registry;

/// A type whose values can be serialized with their region (see
/// `docs/FORMAT.md`). The primitive numbers have serializers (named
/// `"u64"` and so on); register them like any other. `NAME` identifies the type in the stream: a stream
/// loads only into a registry that registered a type of that name with the
/// same size and alignment.
///
/// ```
/// use regions::{LoadError, Loader, ObjectHandle, Persist, Registry, Saver};
///
/// struct Node { value: u64, next: Option<ObjectHandle> }
///
/// impl Persist for Node {
///     const NAME: &'static str = "example::Node";
///     fn save(&self, out: &mut Saver<'_>) {
///         out.u64(self.value);
///         out.handle(self.next);
///     }
///     fn load(input: &mut Loader<'_>) -> Result<Self, LoadError> {
///         Ok(Node { value: input.u64()?, next: input.handle()? })
///     }
/// }
///
/// let mut reg = Registry::new();
/// reg.register_persist::<Node>().unwrap();
/// let list = reg.create_region(reg.root()).unwrap();
/// let tail = reg.alloc_typed(list, Node { value: 2, next: None }).unwrap();
/// let head = reg.alloc_typed(list, Node { value: 1, next: Some(tail) }).unwrap();
/// let bytes = reg.serialize(list).unwrap();
///
/// let (copy, map) = reg.deserialize(reg.root(), &bytes).unwrap();
/// let new_head = map.get(head).unwrap();
/// let next = reg.get_typed::<Node>(new_head).unwrap().next.unwrap();
/// assert_eq!(next, map.get(tail).unwrap());
/// assert_eq!(reg.region_of(next).unwrap(), copy);
/// ```
pub trait Persist: Send + Sized + 'static {
    /// The type's name in streams (at most [`MAX_TYPE_NAME`] bytes).
    const NAME: &'static str;
    /// Writes the value.
    fn save(&self, out: &mut Saver<'_>);
    /// Reads a value [`save`](Self::save) wrote. Every byte written must
    /// be read.
    fn load(input: &mut Loader<'_>) -> core::result::Result<Self, LoadError>;
}

/// The longest type name a stream carries.
pub const MAX_TYPE_NAME: usize = 256;

/// Why a [`Persist::load`] refused its bytes (reported as
/// [`Error::CorruptInput`] with this reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// What was wrong.
    pub reason: &'static str,
}

/// Where a [`Persist::save`] writes.
pub struct Saver<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    /// The stream index of the object a live handle names, if it is being
    /// serialized too.
    pub(crate) index_of: &'a dyn Fn(ObjectHandle) -> Option<u32>,
    /// Bytes could not be added (the caller reports `OutOfMemory`).
    pub(crate) failed: bool,
}

impl Saver<'_> {
    /// Appends `bytes`.
    pub fn bytes(&mut self, bytes: &[u8]) {
        if fallible::reserve(self.out, bytes.len()).is_ok() {
            self.out.extend_from_slice(bytes);
        } else {
            self.failed = true;
        }
    }

    /// Appends `value`, little endian.
    pub fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    /// Appends a reference to an object: its index in the stream if it is
    /// serialized too, else "none" (loaded back as `None`).
    pub fn handle(&mut self, handle: Option<ObjectHandle>) {
        let index = handle.and_then(|h| (self.index_of)(h)).unwrap_or(NO_OBJECT);
        self.bytes(&index.to_le_bytes());
    }
}

/// The index that stands for "no object" in a stream.
pub(crate) const NO_OBJECT: u32 = u32::MAX;

/// What a [`Persist::load`] reads from.
pub struct Loader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
    /// The new handle of each object of the stream, by index.
    pub(crate) handles: &'a [ObjectHandle],
}

impl<'a> Loader<'a> {
    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> core::result::Result<&'a [u8], LoadError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(LoadError {
                reason: "a typed value reads past its bytes",
            })?;
        let bytes = &self.bytes[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    /// The next `u64`, little endian.
    pub fn u64(&mut self) -> core::result::Result<u64, LoadError> {
        let bytes = self.bytes(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// The next object reference: the new handle of the object it names,
    /// or `None` for "none". An index naming no object of the stream is an
    /// error.
    pub fn handle(&mut self) -> core::result::Result<Option<ObjectHandle>, LoadError> {
        let bytes = self.bytes(4)?;
        let index = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
        if index == NO_OBJECT {
            return Ok(None);
        }
        match self.handles.get(index as usize) {
            Some(&handle) => Ok(Some(handle)),
            None => Err(LoadError {
                reason: "a typed value refers to an object the stream does not hold",
            }),
        }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

/// One registered type, with its functions erased.
#[derive(Clone, Copy)]
pub(crate) struct Persister {
    pub name: &'static str,
    pub layout: Layout,
    /// The type's stored tag in this registry.
    pub stored_tag: u64,
    /// Writes the value at the address.
    pub save: unsafe fn(*const u8, &mut Saver<'_>),
    /// Reads a value and writes it at the address.
    pub load: unsafe fn(&mut Loader<'_>, *mut u8) -> core::result::Result<(), LoadError>,
    /// Drops the value at the address.
    pub drop: unsafe fn(*mut u8),
}

/// The registered types: by stored tag and by name.
#[derive(Default)]
pub(crate) struct Persisters {
    list: Vec<Persister>,
    by_tag: HashMap<u64, usize>,
}

impl core::fmt::Debug for Persisters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<&str> = self.list.iter().map(|p| p.name).collect();
        f.debug_struct("Persisters").field("types", &names).finish()
    }
}

impl Persisters {
    /// The serializer of objects with stored tag `stored`.
    pub fn of_tag(&self, stored: u64) -> Option<&Persister> {
        self.by_tag.get(&stored).map(|&i| &self.list[i])
    }

    /// The serializer registered under `name`.
    pub fn of_name(&self, name: &[u8]) -> Option<&Persister> {
        self.list.iter().find(|p| p.name.as_bytes() == name)
    }
}

/// # Safety
/// `data` holds a valid `T`.
unsafe fn save_erased<T: Persist>(data: *const u8, out: &mut Saver<'_>) {
    // SAFETY: the caller guarantees `data` holds a valid `T`.
    unsafe { &*data.cast::<T>() }.save(out);
}

/// # Safety
/// `data` is valid for writing a `T` and aligned for it.
unsafe fn load_erased<T: Persist>(
    input: &mut Loader<'_>,
    data: *mut u8,
) -> core::result::Result<(), LoadError> {
    let value = T::load(input)?;
    // SAFETY: the caller guarantees `data` is writable and aligned for `T`.
    unsafe { data.cast::<T>().write(value) };
    Ok(())
}

/// # Safety
/// `data` holds a valid `T` that is never used again.
unsafe fn drop_erased<T>(data: *mut u8) {
    // SAFETY: the caller guarantees `data` holds a valid, unused `T`.
    unsafe { core::ptr::drop_in_place(data.cast::<T>()) };
}

impl Registry {
    /// Registers `T`'s serializer, so that typed objects of `T` can be
    /// serialized and streams holding them deserialized. Registering a type
    /// again replaces nothing and is `Ok`; another type with the same
    /// `NAME` is `TypeTagCollision`.
    ///
    /// ```
    /// use regions::{LoadError, Loader, Persist, Registry, Saver};
    /// struct Score(u64);
    /// impl Persist for Score {
    ///     const NAME: &'static str = "Score";
    ///     fn save(&self, out: &mut Saver<'_>) { out.u64(self.0) }
    ///     fn load(input: &mut Loader<'_>) -> Result<Self, LoadError> { Ok(Score(input.u64()?)) }
    /// }
    /// let mut reg = Registry::new();
    /// reg.register_persist::<Score>().unwrap();
    /// ```
    pub fn register_persist<T: Persist>(&mut self) -> Result<()> {
        assert!(
            T::NAME.len() <= MAX_TYPE_NAME && !T::NAME.is_empty(),
            "Persist::NAME must be 1..={MAX_TYPE_NAME} bytes"
        );
        // A stream must never make an object `alloc_typed` would refuse.
        crate::registry::check_layout(Layout::new::<T>())?;
        let stored_tag = self.destructors.claim::<T>()?;
        let persisters = &mut self.persisters;
        if let Some(known) = persisters.of_name(T::NAME.as_bytes()) {
            if known.stored_tag == stored_tag {
                return Ok(());
            }
            return Err(Error::TypeTagCollision {
                tag: crate::typed_tag::<T>(),
            });
        }
        fallible::reserve(&mut persisters.list, 1)?;
        fallible::reserve_map(&mut persisters.by_tag, 1)?;
        persisters.by_tag.insert(stored_tag, persisters.list.len());
        persisters.list.push(Persister {
            name: T::NAME,
            layout: Layout::new::<T>(),
            stored_tag,
            save: save_erased::<T>,
            load: load_erased::<T>,
            drop: drop_erased::<T>,
        });
        Ok(())
    }
}

/// Serializers of the primitive numbers, little endian, named as the type.
macro_rules! persist_numbers {
    ($($t:ty),*) => {$(
        impl Persist for $t {
            const NAME: &'static str = stringify!($t);
            fn save(&self, out: &mut Saver<'_>) {
                out.bytes(&self.to_le_bytes());
            }
            fn load(input: &mut Loader<'_>) -> core::result::Result<Self, LoadError> {
                let bytes = input.bytes(core::mem::size_of::<$t>())?;
                Ok(<$t>::from_le_bytes(bytes.try_into().expect("the type's size")))
            }
        }
    )*};
}

persist_numbers!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

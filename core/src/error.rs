//! The one error type of the crate.

use core::fmt;

use crate::handle::{ObjectHandle, RegionHandle, TypeTag};

/// What an operation found when it rejected a handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// The id is beyond every id the registry has issued.
    NeverIssued,
    /// The region is stale: the handle's region incarnation is dead, and
    /// its id is free or holds a later incarnation.
    StaleRegion {
        /// The generation the region id has now.
        current: u32,
    },
    /// The slot is stale: the handle's object is gone, and its slot holds
    /// a later object (or a record of one that moved away).
    StaleSlot {
        /// The generation the slot has now.
        current: u32,
    },
    /// The region or slot id reached its last generation and was retired.
    Retired,
    /// The object was destroyed (by `free`) and its slot is still free.
    Freed,
    /// A forwarding record led to an object that no longer exists.
    DeadForwardingTarget,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::NeverIssued => f.write_str("the id was never issued"),
            Found::StaleRegion { current } => {
                write!(f, "the region is stale (its id is at generation {current})")
            }
            Found::StaleSlot { current } => write!(
                f,
                "the slot is stale (it is at generation {current}, a later object's)"
            ),
            Found::Retired => f.write_str("the id is retired"),
            Found::Freed => f.write_str("the object was freed"),
            Found::DeadForwardingTarget => f.write_str("the object moved and was destroyed since"),
        }
    }
}

/// What holds a count: a region or an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// A region (its reference count).
    Region(RegionHandle),
    /// An object (its strong or weak count), by the handle passed in.
    Object(ObjectHandle),
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Counted::Region(region) => region.fmt(f),
            Counted::Object(handle) => handle.fmt(f),
        }
    }
}

/// The type an access asked for, in a [`Error::TypeMismatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Byte access: a raw object, whatever its tag.
    Raw,
    /// A typed access: a value of this Rust type (`core::any::type_name`).
    Type(&'static str),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Raw => f.write_str("a raw object (byte access)"),
            Expected::Type(name) => write!(f, "a `{name}`"),
        }
    }
}

/// What an object is, in a [`Error::TypeMismatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectType {
    /// A raw object with this tag.
    Raw(TypeTag),
    /// A typed object: a value of this Rust type.
    Type(&'static str),
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectType::Raw(tag) => write!(f, "a raw object with {tag}"),
            ObjectType::Type(name) => write!(f, "a `{name}`"),
        }
    }
}

/// Which count an over- or underflow concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// A region's reference count.
    Region,
    /// An object's strong count.
    Strong,
    /// An object's weak count.
    Weak,
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Count::Region => "region refcount",
            Count::Strong => "strong count",
            Count::Weak => "weak count",
        })
    }
}

/// Which budget an allocation would exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// The registry-wide budget ([`Registry::set_budget`](crate::Registry::set_budget)).
    Registry,
    /// The budget of this region ([`Registry::create_region_with_budget`](crate::Registry::create_region_with_budget)).
    Region(RegionHandle),
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Registry => f.write_str("the registry's budget"),
            Budget::Region(region) => write!(f, "the budget of {region}"),
        }
    }
}

/// Every way an operation can fail. A failed operation changes nothing.
///
/// `Display` names the handle values and the state found; [`Error::kind`]
/// gives the field-less [`ErrorKind`] that the reference model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The region handle names no live region.
    InvalidRegion {
        /// The handle passed in.
        region: RegionHandle,
        /// What its id holds now.
        found: Found,
    },
    /// The root region cannot be retained or released.
    RootRegion,
    /// The object handle does not resolve to a live object.
    StaleHandle {
        /// The handle passed in.
        handle: ObjectHandle,
        /// What resolution found.
        found: Found,
    },
    /// The object is not of the type the operation needs (this includes
    /// byte access to a typed object and typed access to a raw one).
    TypeMismatch {
        /// The handle passed in.
        handle: ObjectHandle,
        /// What the operation needed.
        expected: Expected,
        /// What the object is.
        found: ObjectType,
    },
    /// A release or `drop_weak` found the count at 0.
    RefcountUnderflow {
        /// Which count.
        count: Count,
        /// Whose (the handle passed in).
        of: Counted,
    },
    /// A count would exceed `u32::MAX`.
    RefcountOverflow {
        /// Which count.
        count: Count,
        /// Whose (the handle passed in).
        of: Counted,
    },
    /// The byte slice given to a raw allocation is not `layout.size()` long.
    SizeMismatch {
        /// `layout.size()`.
        layout_size: usize,
        /// `bytes.len()`.
        bytes_len: usize,
    },
    /// A size (or size arithmetic) beyond [`MAX_OBJECT_SIZE`](crate::MAX_OBJECT_SIZE).
    SizeOverflow {
        /// The size asked for.
        size: usize,
    },
    /// An alignment beyond [`MAX_ALIGN`](crate::MAX_ALIGN).
    UnsupportedAlignment {
        /// The alignment asked for.
        align: usize,
    },
    /// A raw type tag with [`TypeTag::TYPED_BIT`] set.
    ReservedTypeTag {
        /// The tag passed in.
        tag: TypeTag,
    },
    /// Two Rust types hashed to the same typed tag in this registry; the second
    /// is refused rather than risk reading one as the other.
    TypeTagCollision {
        /// The colliding tag.
        tag: TypeTag,
    },
    /// A payload budget would be exceeded.
    BudgetExceeded {
        /// The budget.
        budget: Budget,
        /// Payload bytes the operation needed.
        requested: u64,
        /// Payload bytes still available under the budget (0 if a region
        /// death already took its region over it).
        available: u64,
    },
    /// The global allocator refused memory.
    OutOfMemory {
        /// Bytes asked of the allocator.
        requested: usize,
    },
    /// `unstore` found no reference to the object stored by the container.
    NotStored {
        /// The container region passed in.
        container: RegionHandle,
        /// The handle passed in.
        handle: ObjectHandle,
    },
    /// A serialized stream is malformed (see `docs/FORMAT.md`); nothing
    /// changed.
    CorruptInput {
        /// Byte offset in the stream where the problem was found.
        offset: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// A typed object's type has no registered serializer
    /// ([`Registry::register_persist`](crate::Registry::register_persist)).
    Unserializable {
        /// The object.
        handle: ObjectHandle,
    },
    /// Every region id or slot id is retired or in use (more than `u32::MAX`).
    IdSpaceExhausted,
}

/// The kind of an [`Error`], without its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant is documented on `Error`
pub enum ErrorKind {
    InvalidRegion,
    RootRegion,
    StaleHandle,
    TypeMismatch,
    RefcountUnderflow,
    RefcountOverflow,
    SizeMismatch,
    SizeOverflow,
    UnsupportedAlignment,
    ReservedTypeTag,
    TypeTagCollision,
    BudgetExceeded,
    OutOfMemory,
    NotStored,
    CorruptInput,
    Unserializable,
    IdSpaceExhausted,
}

impl Error {
    /// The variant without its fields.
    ///
    /// ```
    /// use regions::{Error, ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// let err = reg.release_region(reg.root()).unwrap_err();
    /// assert_eq!((err, err.kind()), (Error::RootRegion, ErrorKind::RootRegion));
    /// let h = reg.alloc_typed(reg.root(), 1u8).unwrap();
    /// let err = reg.get(h).unwrap_err(); // byte access to a typed object
    /// assert!(matches!(err, Error::TypeMismatch { .. }));
    /// assert_eq!(err.kind(), ErrorKind::TypeMismatch);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidRegion { .. } => ErrorKind::InvalidRegion,
            Error::RootRegion => ErrorKind::RootRegion,
            Error::StaleHandle { .. } => ErrorKind::StaleHandle,
            Error::TypeMismatch { .. } => ErrorKind::TypeMismatch,
            Error::RefcountUnderflow { .. } => ErrorKind::RefcountUnderflow,
            Error::RefcountOverflow { .. } => ErrorKind::RefcountOverflow,
            Error::SizeMismatch { .. } => ErrorKind::SizeMismatch,
            Error::SizeOverflow { .. } => ErrorKind::SizeOverflow,
            Error::UnsupportedAlignment { .. } => ErrorKind::UnsupportedAlignment,
            Error::ReservedTypeTag { .. } => ErrorKind::ReservedTypeTag,
            Error::TypeTagCollision { .. } => ErrorKind::TypeTagCollision,
            Error::BudgetExceeded { .. } => ErrorKind::BudgetExceeded,
            Error::OutOfMemory { .. } => ErrorKind::OutOfMemory,
            Error::NotStored { .. } => ErrorKind::NotStored,
            Error::CorruptInput { .. } => ErrorKind::CorruptInput,
            Error::Unserializable { .. } => ErrorKind::Unserializable,
            Error::IdSpaceExhausted => ErrorKind::IdSpaceExhausted,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRegion { region, found } => {
                write!(f, "{region} is not a live region: {found}")
            }
            Error::RootRegion => f.write_str("the root region cannot be retained or released"),
            Error::StaleHandle { handle, found } => {
                write!(f, "{handle} names no live object: {found}")
            }
            Error::TypeMismatch {
                handle,
                expected,
                found,
            } => write!(f, "{handle} is {found}, but {expected} was expected"),
            Error::RefcountUnderflow { count, of } => {
                write!(f, "the {count} of {of} is already 0")
            }
            Error::RefcountOverflow { count, of } => {
                write!(f, "the {count} of {of} would exceed u32::MAX")
            }
            Error::SizeMismatch {
                layout_size,
                bytes_len,
            } => write!(
                f,
                "layout size is {layout_size} bytes but {bytes_len} bytes were given"
            ),
            Error::SizeOverflow { size } => write!(
                f,
                "size {size} exceeds the maximum object size {}",
                crate::MAX_OBJECT_SIZE
            ),
            Error::UnsupportedAlignment { align } => write!(
                f,
                "alignment {align} exceeds the maximum alignment {}",
                crate::MAX_ALIGN
            ),
            Error::ReservedTypeTag { tag } => {
                write!(f, "{tag} has the bit reserved for typed allocations")
            }
            Error::TypeTagCollision { tag } => {
                write!(f, "{tag} is already used by another Rust type")
            }
            Error::BudgetExceeded {
                budget,
                requested,
                available,
            } => write!(
                f,
                "{requested} bytes requested but only {available} remain in {budget} \
                 (over by {})",
                requested.saturating_sub(*available)
            ),
            Error::OutOfMemory { requested } => {
                write!(f, "the allocator refused {requested} bytes")
            }
            Error::CorruptInput { offset, reason } => {
                write!(f, "corrupt input at byte {offset}: {reason}")
            }
            Error::Unserializable { handle } => {
                write!(f, "{handle} is of a type with no registered serializer")
            }
            Error::NotStored { container, handle } => {
                write!(f, "{container} stored no reference to {handle}")
            }
            Error::IdSpaceExhausted => f.write_str("no region or slot id is left"),
        }
    }
}

impl core::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

//! What an op returned, in a shape both sides share.
//!
//! The model's prediction is an `Outcome<ObjectId, RegionId>`; the core's
//! result is first an `Outcome<ObjectHandle, RegionHandle>` and is then
//! translated through the bijection into model identities, so the two can be
//! compared with `==` and printed side by side.

use std::collections::BTreeSet;

use regions::ErrorKind;

use crate::model::ModelError;

/// Why an operation failed, in comparable terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// A kind the model predicts.
    Kind(ModelError),
    /// A core error the model never predicts (`OutOfMemory`,
    /// `IdSpaceExhausted`, `TypeTagCollision`, or a kind added later): always
    /// a divergence.
    Unpredicted(ErrorKind),
}

impl Rejection {
    /// The core's `OutOfMemory` (never predicted, except after an injected
    /// allocation failure).
    pub const OUT_OF_MEMORY: Rejection = Rejection::Unpredicted(ErrorKind::OutOfMemory);
}

impl From<ModelError> for Rejection {
    fn from(error: ModelError) -> Self {
        Rejection::Kind(error)
    }
}

impl From<regions::Error> for Rejection {
    fn from(error: regions::Error) -> Self {
        let kind = error.kind();
        let model = match kind {
            ErrorKind::InvalidRegion => ModelError::InvalidRegion,
            ErrorKind::RootRegion => ModelError::RootRegion,
            ErrorKind::StaleHandle => ModelError::StaleHandle,
            ErrorKind::TypeMismatch => ModelError::TypeMismatch,
            ErrorKind::RefcountUnderflow => ModelError::RefcountUnderflow,
            ErrorKind::RefcountOverflow => ModelError::RefcountOverflow,
            ErrorKind::SizeMismatch => ModelError::SizeMismatch,
            ErrorKind::SizeOverflow => ModelError::SizeOverflow,
            ErrorKind::UnsupportedAlignment => ModelError::UnsupportedAlignment,
            ErrorKind::ReservedTypeTag => ModelError::ReservedTypeTag,
            ErrorKind::BudgetExceeded => ModelError::BudgetExceeded,
            ErrorKind::NotStored => ModelError::NotStored,
            ErrorKind::Unserializable => ModelError::Unserializable,
            ErrorKind::CorruptInput => ModelError::CorruptInput,
            // The model never predicts resource failures (its decision 2),
            // and a type tag collision between the driver's five types would
            // be a bug of the tag hash.
            _ => return Rejection::Unpredicted(kind),
        };
        Rejection::Kind(model)
    }
}

/// A result in comparable terms.
pub type Res<T> = Result<T, Rejection>;

/// Every object query at once (`InspectObject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectQueries<R> {
    /// `type_tag`.
    pub tag: Res<u64>,
    /// `layout_of`: (size, align).
    pub layout: Res<(usize, usize)>,
    /// `strong_count`.
    pub strong: Res<u32>,
    /// `weak_count`.
    pub weak: Res<u32>,
    /// `region_of`.
    pub region: Res<R>,
}

/// Every region query at once (`InspectRegion`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionQueries<R, O> {
    /// `is_region_alive`.
    pub alive: bool,
    /// `region_refcount`.
    pub refcount: Res<u32>,
    /// `parent_of`.
    pub parent: Res<Option<R>>,
    /// `children`, as a set.
    pub children: Res<BTreeSet<R>>,
    /// `object_count`.
    pub object_count: Res<usize>,
    /// `objects`, as a set.
    pub objects: Res<BTreeSet<O>>,
    /// `stored_in`, sorted (one entry per stored reference).
    pub stored: Res<Vec<O>>,
}

/// The identity queries at once (`Identify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityQueries<O> {
    /// `current(object)`.
    pub current: Res<O>,
    /// `is_alive(object)`.
    pub alive: bool,
    /// `same_object(object, other)`.
    pub same: bool,
}

/// What one op returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<O, R> {
    /// Operations returning `()`.
    Done(Res<()>),
    /// `release_region` (whether it died) and `store_handle` (whether it retained).
    Flag(Res<bool>),
    /// `create_region` and `region_of`.
    Region(Res<R>),
    /// `alloc`, `alloc_typed`, `alloc_slice_*`, `promote`, `resolve`: an
    /// object handle.
    Object(Res<O>),
    /// `alloc_bulk`: the new objects' handles, in order (each must be a
    /// fresh current home).
    Objects(Res<Vec<O>>),
    /// `downgrade`: the object the weak handle names.
    Weak(Res<O>),
    /// `upgrade`.
    Upgraded(Option<O>),
    /// `get`, `get_typed`, `get_slice` (typed values in the canonical
    /// encoding).
    Bytes(Res<Vec<u8>>),
    /// `with_region`: the scoped region and the object its body allocated.
    Scoped(Res<(R, O)>),
    /// `InspectObject`.
    ObjectInfo(ObjectQueries<R>),
    /// `InspectRegion`.
    RegionInfo(RegionQueries<R, O>),
    /// `Identify`.
    Identity(IdentityQueries<O>),
    /// `Iterate`: each object yielded with its contents (a typed value's
    /// canonical encoding, a raw object's bytes, nothing for the handle-only
    /// iterations), sorted by object (a duplicate is a divergence).
    Listed(Res<Vec<(O, Vec<u8>)>>),
}

impl<O, R> Outcome<O, R> {
    /// The rejection, if the op failed as a whole (queries never do).
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            Outcome::Done(r) => r.as_ref().err(),
            Outcome::Flag(r) => r.as_ref().err(),
            Outcome::Region(r) => r.as_ref().err(),
            Outcome::Object(r) | Outcome::Weak(r) => r.as_ref().err(),
            Outcome::Objects(r) => r.as_ref().err(),
            Outcome::Bytes(r) => r.as_ref().err(),
            Outcome::Scoped(r) => r.as_ref().err(),
            Outcome::Listed(r) => r.as_ref().err(),
            Outcome::Upgraded(_)
            | Outcome::ObjectInfo(_)
            | Outcome::RegionInfo(_)
            | Outcome::Identity(_) => None,
        }
        .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_model_kinds_and_resource_failures_stay_unpredicted() {
        let stale = regions::Error::StaleHandle {
            handle: regions::ObjectHandle::from_raw_parts(0, 0, 0, 0),
            found: regions::Found::Freed,
        };
        assert_eq!(
            Rejection::from(stale),
            Rejection::Kind(ModelError::StaleHandle)
        );
        let oom = regions::Error::OutOfMemory { requested: 8 };
        assert_eq!(
            Rejection::from(oom),
            Rejection::Unpredicted(ErrorKind::OutOfMemory)
        );
        assert_eq!(
            Rejection::from(regions::Error::IdSpaceExhausted),
            Rejection::Unpredicted(ErrorKind::IdSpaceExhausted)
        );
    }
}

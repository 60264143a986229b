//! Reference model, op language and differential driver for the `regions`
//! crate.
//!
//! The [`model`] module is a slow, obviously-correct executable version of
//! the semantics in `DESIGN.md` section 2 and `docs/SEMANTICS.md`. It shares
//! no code with the core and uses only std collections.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod model;

pub use model::{
    Model, ModelError, ObjectId, ObjectState, Reach, RegionId, RegionState, INLINE_SIZE, MAX_ALIGN,
    MAX_OBJECT_SIZE, TYPED_TAG_BIT,
};

//! Reference model, op language and differential driver for the `regions`
//! crate.
//!
//! The [`model`] module is a slow, obviously-correct executable version of
//! the semantics in `DESIGN.md` section 2 and `docs/SEMANTICS.md`. It shares
//! no code with the core and uses only std collections; it never imports
//! `regions`.
//!
//! The [`op`] module is the op language every engine speaks, and [`driver`]
//! the one differential driver that runs ops against the model and the core
//! (package `regions`) and reports every disagreement. Only these two modules
//! use the core.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod driver;
pub mod model;
pub mod op;

pub use model::{
    Destroyed, Model, ModelError, ObjectId, ObjectState, Reach, RegionId, RegionState, INLINE_SIZE,
    MAX_ALIGN, MAX_OBJECT_SIZE, TYPED_TAG_BIT,
};

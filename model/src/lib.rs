//! Reference model, op language and differential driver for the `regions`
//! crate.
//!
//! The [`model`] module is a slow, obviously-correct executable version of
//! the contract in `docs/SEMANTICS.md`. It shares
//! no code with the core and uses only std collections; it never imports
//! `regions`.
//!
//! The [`op`] module is the op language every engine speaks, and [`driver`]
//! the one differential driver that runs ops against the model and the core
//! (package `regions`) and reports every disagreement. Only these two modules
//! use the core.
//!
//! The engines built on the driver share [`engine`] (runs that catch
//! panics, soak episodes, regression-test rendering) and [`shrink`] (delta
//! debugging of failing traces): the soak runner (`cargo run --release -p
//! regions-model --bin soak`), the repro tool (`--bin repro`), the fuzz
//! target in `fuzz/` and the smoke tests that run them under `cargo test`.
//!
//! [`serial_fixture`] (which uses the core too) is the fixture of the
//! serialization tests: populated registries, the `Persist` types they
//! register, and the checks the fuzz target `deserialize` and the corpus
//! replay test make on untrusted streams.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod driver;
pub mod engine;
pub mod model;
pub mod op;
pub mod serial_fixture;
pub mod shrink;

pub use model::{
    Destroyed, Model, ModelError, ObjectId, ObjectState, Reach, RegionId, RegionState, INLINE_SIZE,
    MAX_ALIGN, MAX_OBJECT_SIZE, TYPED_TAG_BIT,
};

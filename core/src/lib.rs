//! Hierarchical region-based memory with generational handles that never dangle.
//!
//! A [`Registry`] owns a tree of *regions* under a permanent root. Objects are
//! allocated in a region and addressed by an [`ObjectHandle`], a plain `Copy`
//! value of four `u32`s: (region id, region generation, slot id, slot
//! generation). Releasing a region's last reference frees all of its objects
//! at once — except those still referenced from outside (strong count > 0),
//! which are *promoted* (moved) into the parent region. Every handle that
//! named a promoted object keeps working: the dead region's slot table leaves
//! behind a *ghost table* of forwarding records, found through a hash index
//! keyed by (region id, generation). Forwarding records are freed together
//! with the object they lead to, and a ghost table as soon as nothing it
//! forwards to is alive, so promotion does not leak memory in a long-running
//! program.
//!
//! ```
//! use regions::Registry;
//!
//! let mut reg = Registry::new();
//! let frame = reg.create_region(reg.root()).unwrap();
//! let scratch = reg.alloc_typed(frame, [0u8; 100]).unwrap();
//! let result = reg.alloc_typed(frame, String::from("kept")).unwrap();
//! reg.retain(result).unwrap(); // referenced from outside the frame
//!
//! reg.release_region(frame).unwrap(); // frame dies
//! assert!(reg.get_typed::<[u8; 100]>(scratch).is_err()); // freed with it
//! assert_eq!(reg.get_typed::<String>(result).unwrap(), "kept"); // promoted
//! assert_eq!(reg.region_of(result).unwrap(), reg.root());
//! ```
//!
//! # Why handles and not references
//!
//! Runtimes and simulations keep object references in data structures that
//! outlive any Rust borrow. A handle can be stored anywhere, copied freely,
//! and checked on every use: a stale handle (freed object, dead region,
//! recycled id) or a fabricated one is an `Err`, never a dangling pointer.
//! Generations never wrap: an id whose generation reaches [`MAX_GENERATION`]
//! is retired for good, so a handle can never name a later occupant.
//!
//! # Semantics
//!
//! `../shared/DESIGN.md` section 2 and `docs/SEMANTICS.md` in the repository
//! are the contract; the reference model in `regions-model` implements it
//! independently and the differential harness checks this crate against it.
//! In short:
//!
//! - Regions start with refcount 1. When the count reaches 0 the region dies:
//!   its children are reparented to its parent, objects with strong count > 0
//!   move to the parent, the rest are destroyed (destructor once each), its
//!   forwarding records and ghost tables pass to the parent, and its id is
//!   recycled with a generation bump. Death never cascades and never
//!   recurses, whatever the depth of the tree.
//! - Objects are raw ([`Registry::alloc`]: a `Layout`, bytes and a user
//!   [`TypeTag`]) or typed ([`Registry::alloc_typed`]); typed reads check the
//!   type. Strong counts ([`Registry::retain`], [`Registry::store_handle`])
//!   decide survival of region death; weak handles ([`Registry::downgrade`])
//!   never keep an object alive.
//! - [`Registry::promote`] moves an object by hand; [`Registry::resolve`]
//!   returns its current home handle and compresses the forwarding chain.
//! - A failed operation changes nothing; errors are one [`Error`] enum.
//!
//! # Layout and cost
//!
//! The hot path of [`Registry::get`] is: region table entry (generation
//! check) → slot record (generation and state) and the live set's position
//! → pool entry → bytes. No hashing; hashing happens only for handles that
//! need forwarding.
//!
//! Per object: a 48-byte pool entry (16 bytes of inline storage aligned to 16,
//! type tag, size, alignment, placement, strong and weak counts), a 24-byte
//! slot record, and 8 bytes of sparse-set bookkeeping. Objects of at most 16
//! bytes with alignment at most 16 live inline in their entry; larger ones live
//! in arena blocks (default 64 KiB, aligned to 4096, bump allocation plus a
//! size-classed free list whose chunks record their arena index) or, above a
//! quarter of a block, in a dedicated allocation. A dying region frees its
//! arenas in bulk; with no destructors registered and no strong references,
//! death does no per-object work.
//!
//! # Portability
//!
//! The crate is `#![no_std]` + `alloc` (maps from `hashbrown`, errors via
//! `core::error::Error`). Real allocation failure is reported as
//! [`Error::OutOfMemory`] wherever the crate allocates for an operation.
//! [`Registry`] is `Send`.

#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod arith;
mod block;
mod config;
mod destructor;
mod error;
mod forwarding;
mod handle;
mod invariants;
mod pool;
mod region;
mod registry;
mod size_class;
mod slot_table;

pub use config::{
    RegistryBuilder, DEFAULT_ARENA_BLOCK_SIZE, DEFAULT_BLOCK_CACHE_BYTES, FIRST_BLOCK_SIZE,
    MAX_ARENA_BLOCK_SIZE, MIN_ARENA_BLOCK_SIZE,
};
pub use destructor::{typed_tag, Destructor};
pub use error::{Count, Error, ErrorKind, Found, Result};
pub use handle::{ObjectHandle, RegionHandle, TypeTag, WeakHandle, MAX_GENERATION};
pub use invariants::InvariantViolations;
pub use pool::{Compaction, INLINE_ALIGN, INLINE_SIZE};
pub use registry::{MemoryUsage, Registry};

/// The largest object size, in bytes.
pub const MAX_OBJECT_SIZE: usize = (1 << 31) - 1;
/// The largest supported alignment, in bytes.
pub const MAX_ALIGN: usize = 4096;

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Registry>();
};

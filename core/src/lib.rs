//! Hierarchical region-based memory with generational handles that never dangle.
//!
//! A [`Registry`] owns a tree of *regions* under a permanent root. Objects are
//! allocated in a region and addressed by an [`ObjectHandle`], a plain `Copy`
//! value of four `u32`s: (region id, region generation, slot id, slot
//! generation). Releasing a region's last reference frees all of its objects
//! at once — except those still referenced from outside (strong count > 0),
//! which are *promoted* (moved) into the parent region. Every handle that
//! named a promoted object keeps working, through one forwarding record,
//! however often the object moved; forwarding records exist only for objects
//! that moved and go away with them.
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
//! `docs/SEMANTICS.md` in the repository is the contract; the reference
//! model in `regions-model` implements it independently and the
//! differential harness checks this crate against it. In short:
//!
//! - Regions start with refcount 1. When the count reaches 0 the region dies:
//!   its children are reparented to its parent, objects with strong count > 0
//!   move to the parent, the rest are destroyed (destructor once each), old
//!   handles keep resolving, and its id is recycled with a generation bump.
//!   Death never cascades and never recurses, whatever the depth of the tree.
//! - Objects are raw ([`Registry::alloc`]: a `Layout`, bytes and a user
//!   [`TypeTag`]) or typed ([`Registry::alloc_typed`], slices with
//!   [`Registry::alloc_slice_copy`]); typed reads check the type. Many raw
//!   objects come at once from [`Registry::alloc_bulk`]. Strong counts
//!   ([`Registry::retain`], [`Registry::store_handle`]) decide survival of
//!   region death; weak handles ([`Registry::downgrade`]) never keep an
//!   object alive.
//! - [`Registry::promote`] moves an object by hand; [`Registry::resolve`]
//!   returns its current home handle. [`Registry::compact`] moves objects
//!   between a region's pages without changing anything observable.
//! - A failed operation changes nothing; errors are one [`Error`] enum.
//!
//! # Layout and cost
//!
//! **Slot records.** Each region has a table of 32-byte slot records (half
//! a cache line) holding everything [`Registry::get`] reads: the generation,
//! the size, the tag, and a 16-byte cell with the object's bytes (objects of
//! at most 16 bytes aligned to at most 16) or the address and page of its
//! heap storage. The strong and weak counts and the alignment sit in a
//! parallel 12-byte array. `get` is: region table (one word compared with
//! the handle) → slot record (generation and tag) → bytes; no hashing.
//! Typed reads compare a dense type index (`TypeId` check, no hashing).
//! Per object: 44 bytes of table, measured at about 30 bytes of metadata
//! per 16-byte object beyond its payload at a million objects.
//!
//! **Arena memory.** A region's first heap objects share one *nursery*
//! block (bump allocation, sized from the regions that died before it,
//! 128 B to 64 KiB by default, see [`RegistryBuilder::nursery_bytes`]), so
//! a small region costs one block. A region that outgrows it gets slab
//! pools (one per size class — 19 classes up to 1 KiB — and one per Rust
//! type and class, so values of a type sit together) and a large-object
//! pool (boundary-tagged chunks that coalesce with free neighbours);
//! objects above a quarter of the largest block get their own allocation.
//! Blocks come from a registry-wide cache and go back to it when they empty
//! or their region dies; a dead region's tables and nursery stay for the
//! next region that takes its id. So once warm, allocating, freeing,
//! and creating and releasing regions make no call to the global allocator.
//!
//! **Forwarding.** An object that moves gets a 24-byte *node* holding its
//! current home; its old home slot (or, after that region's death, a
//! 20-byte ghost record in one registry-wide hash map) names the node.
//! Moving again only updates the node, so resolving any old handle is one
//! record and one node.
//!
//! `docs/PERF.md` has the measurements against slotmap, bumpalo, `Box` and
//! `Rc`, and what the profiles showed.
//!
//! # Portability
//!
//! The crate is `#![no_std]` + `alloc` (maps from `hashbrown`, errors via
//! `core::error::Error`). Real allocation failure is reported as
//! [`Error::OutOfMemory`] wherever the crate allocates for an operation.
//! [`Registry`] is `Send`.
//!
//! # Features
//!
//! - `std` (default): links the standard library; the crate uses only
//!   `core` and `alloc` either way.
//! - `small-generations`: shrinks [`MAX_GENERATION`] to 3 so that tests and
//!   fuzzing reach id retirement quickly.
//! - `poison` (debugging): freed object memory — vacant slot records' cells,
//!   free slab and large-pool chunks, freed nursery bytes, blocks in the
//!   block cache — is filled with `0xDE`, except the bytes the allocator
//!   keeps its own links in (the first 4 bytes of a vacant cell or a free
//!   slab chunk; the 16-byte boundary tag and 8 bytes of links of a free
//!   large chunk). The pattern is verified when the memory is handed out
//!   again and by [`Registry::check_invariants`], for every free byte the
//!   registry knows. A mismatch means something wrote through a stale raw
//!   pointer after the object was freed, moved or its region died: on
//!   reuse the allocator **panics** with `regions: freed memory at {addr:p}
//!   was written after free (poison feature)` rather than hand out that
//!   memory, and `check_invariants` reports a violation naming the region,
//!   page or slot, address and offset. `docs/SEMANTICS.md` ("Poisoning")
//!   has the exact rules and limits. Without the feature none of this is
//!   compiled.
//! - `leak-report` (debugging): every object records its *allocation site*
//!   — the `file:line:column` of the user's call; the allocation functions
//!   are `#[track_caller]` — and, if typed, its Rust type name, in a side
//!   table of 8 bytes per slot that follows the object when it moves.
//!   `Registry::leak_report(region)` lists a region's live objects with
//!   handle, size, alignment, tag, type and site (`leak_report_subtree` a
//!   region and its descendants, `origin_of` one object), and every region
//!   death that promotes retained objects is logged as a `RetainedAtDeath`
//!   event (the last `LEAK_EVENT_LOG_LEN` = 64 are kept) that
//!   `Registry::take_leak_events` drains. `docs/SEMANTICS.md` ("Leak
//!   reports") has the rules. Without the feature none of this is compiled
//!   and the allocation functions are not `#[track_caller]`.

#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod accounting;
mod arith;
mod block;
mod config;
mod destructor;
mod error;
mod fallible;
mod forwarding;
mod handle;
mod invariants;
#[cfg(feature = "leak-report")]
mod leak_report;
mod persist;
#[cfg(feature = "serde")]
mod persist_serde;
mod poison;
mod pool;
mod region;
mod registry;
mod scope;
mod size_class;
mod slot_table;
mod stats;
#[cfg(feature = "test-hooks")]
mod test_hooks;
mod unwind;

pub use config::{
    RegistryBuilder, DEFAULT_ARENA_BLOCK_SIZE, DEFAULT_BLOCK_CACHE_BYTES,
    DEFAULT_MAX_NURSERY_BYTES, FIRST_BLOCK_SIZE, MAX_ARENA_BLOCK_SIZE, MIN_ARENA_BLOCK_SIZE,
};
pub use destructor::{typed_tag, Destructor};
pub use error::{Budget, Count, Counted, Error, ErrorKind, Expected, Found, ObjectType, Result};
#[cfg(all(feature = "test-hooks", feature = "std"))]
pub use fallible::failure;
pub use handle::{ObjectHandle, RegionHandle, TypeTag, WeakHandle, MAX_GENERATION};
pub use invariants::InvariantViolations;
#[cfg(feature = "leak-report")]
pub use leak_report::{
    LeakReport, LeakedObject, Origin, RetainedAtDeath, RetainedObject, LEAK_EVENT_LOG_LEN,
};
pub use persist::{LoadError, Loader, Persist, Saver, MAX_TYPE_NAME};
#[cfg(feature = "serde")]
pub use persist_serde::serde_support;
pub use pool::{Compaction, INLINE_ALIGN, INLINE_SIZE};
pub use registry::{HandleMap, MemoryUsage, Registry};
pub use scope::{RegionBuilder, RegionScope};
pub use stats::{GlobalStats, Occupancy, RegionStats};
#[cfg(feature = "test-hooks")]
pub use test_hooks::Corruption;

/// The largest object size, in bytes.
pub const MAX_OBJECT_SIZE: usize = (1 << 31) - 1;
/// The largest supported alignment, in bytes.
pub const MAX_ALIGN: usize = 4096;

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Registry>();
};

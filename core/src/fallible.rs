//! The one layer all of the registry's memory comes through.
//!
//! Every allocation the registry makes — blocks and dedicated objects from
//! the global allocator, and growth of its tables (`Vec`s and hash maps) —
//! goes through these functions, which turn refusal into
//! [`Error::OutOfMemory`] instead of aborting. Table growth is always asked
//! for with `try_reserve` before an operation changes anything, so a refusal
//! leaves the registry as it was.
//!
//! With the features `test-hooks` and `std`, [`failure`] can make the
//! k-th allocation from now fail, so that tests (and the differential
//! harness) can prove that every path survives allocation failure. A
//! request that fits in capacity a table already has is not an allocation
//! and is never failed.

use alloc::alloc::{alloc, dealloc, Layout};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::hash::{BuildHasher, Hash};
use core::mem::size_of;
use core::ptr::NonNull;

use hashbrown::HashMap;

use crate::error::{Error, Result};

/// `OutOfMemory` for a request of `bytes`.
#[cold]
fn refused(bytes: usize) -> Error {
    Error::OutOfMemory { requested: bytes }
}

/// Lets one real allocation of `bytes` go ahead, unless a test hook says
/// it fails.
#[inline]
fn admit(bytes: usize) -> Result<()> {
    #[cfg(all(feature = "test-hooks", feature = "std"))]
    if failure::should_fail() {
        return Err(refused(bytes));
    }
    let _ = bytes;
    Ok(())
}

/// Allocates `layout` (non-zero size) from the global allocator.
pub(crate) fn system_alloc(layout: Layout) -> Result<NonNull<u8>> {
    debug_assert!(layout.size() > 0);
    admit(layout.size())?;
    // SAFETY: the layout has a non-zero size (checked by every caller).
    let raw = unsafe { alloc(layout) };
    NonNull::new(raw).ok_or_else(|| refused(layout.size()))
}

/// Returns memory from [`system_alloc`].
///
/// # Safety
/// `ptr` must come from `system_alloc(layout)` with this `layout` and not
/// have been freed.
pub(crate) unsafe fn system_free(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: guaranteed by the caller.
    unsafe { dealloc(ptr.as_ptr(), layout) }
}

/// `value` in a box, or `OutOfMemory` if the global allocator refuses.
pub(crate) fn try_box<T>(value: T) -> Result<Box<T>> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    let raw = system_alloc(layout)?.cast::<T>();
    // SAFETY: `raw` is a fresh allocation of `T`'s layout from the global
    // allocator, which is what `Box` frees it with; it is initialized here.
    unsafe {
        raw.as_ptr().write(value);
        Ok(Box::from_raw(raw.as_ptr()))
    }
}

/// Grows a table that has `spare` free places by `additional` of `size`
/// bytes each with `try_reserve` (which says whether it succeeded), unless it has room already (then nothing
/// is allocated, and nothing can fail).
#[inline]
fn grow(
    spare: usize,
    additional: usize,
    size: usize,
    try_reserve: impl FnOnce() -> bool,
) -> Result<()> {
    if spare >= additional {
        return Ok(());
    }
    let bytes = additional.saturating_mul(size);
    admit(bytes)?;
    if try_reserve() {
        Ok(())
    } else {
        Err(refused(bytes))
    }
}

/// Room for `additional` more elements in `vec` (amortized growth).
#[inline]
pub(crate) fn reserve<T>(vec: &mut Vec<T>, additional: usize) -> Result<()> {
    let spare = vec.capacity() - vec.len();
    grow(spare, additional, size_of::<T>(), || {
        vec.try_reserve(additional).is_ok()
    })
}

/// Room for exactly `additional` more elements in `vec`.
#[inline]
pub(crate) fn reserve_exact<T>(vec: &mut Vec<T>, additional: usize) -> Result<()> {
    let spare = vec.capacity() - vec.len();
    grow(spare, additional, size_of::<T>(), || {
        vec.try_reserve_exact(additional).is_ok()
    })
}

/// Room for `additional` more elements in `deque`.
#[cfg_attr(not(feature = "leak-report"), allow(dead_code))]
pub(crate) fn reserve_deque<T>(deque: &mut VecDeque<T>, additional: usize) -> Result<()> {
    let spare = deque.capacity() - deque.len();
    grow(spare, additional, size_of::<T>(), || {
        deque.try_reserve(additional).is_ok()
    })
}

/// Room for `additional` more entries in `map`.
#[inline]
pub(crate) fn reserve_map<K: Eq + Hash, V, S: BuildHasher>(
    map: &mut HashMap<K, V, S>,
    additional: usize,
) -> Result<()> {
    let spare = map.capacity() - map.len();
    grow(spare, additional, size_of::<(K, V)>(), || {
        map.try_reserve(additional).is_ok()
    })
}

/// Injected allocation failure (features `test-hooks` and `std`): state is
/// per thread, so tests running in parallel do not disturb each other.
#[cfg(all(feature = "test-hooks", feature = "std"))]
pub mod failure {
    use core::cell::Cell;

    std::thread_local! {
        /// Allocations left before the injected failure, if one is armed.
        static COUNTDOWN: Cell<Option<u64>> = const { Cell::new(None) };
        /// Allocations admitted or failed on this thread so far.
        static ATTEMPTS: Cell<u64> = const { Cell::new(0) };
        /// An injected failure happened since the last [`take_fired`].
        static FIRED: Cell<bool> = const { Cell::new(false) };
        /// Injection is paused (the countdown does not move).
        static PAUSED: Cell<bool> = const { Cell::new(false) };
    }

    /// Makes the allocation after the next `after` allocations on this
    /// thread fail (`0`: the very next one), once.
    ///
    /// ```
    /// use regions::{failure, ErrorKind, Registry};
    /// let mut reg = Registry::new();
    /// failure::fail_after(0);
    /// let err = reg.create_region(reg.root()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    /// assert_eq!(reg.live_region_count(), 1); // nothing changed
    /// assert!(reg.create_region(reg.root()).is_ok()); // it failed once only
    /// ```
    pub fn fail_after(after: u64) {
        COUNTDOWN.with(|countdown| countdown.set(Some(after)));
    }

    /// Cancels an armed failure that has not happened yet.
    ///
    /// ```
    /// use regions::{failure, Registry};
    /// let mut reg = Registry::new();
    /// failure::fail_after(0);
    /// failure::disarm();
    /// assert!(!failure::is_armed());
    /// assert!(reg.create_region(reg.root()).is_ok());
    /// ```
    pub fn disarm() {
        COUNTDOWN.with(|countdown| countdown.set(None));
    }

    /// Whether a failure is armed and has not happened yet.
    ///
    /// ```
    /// use regions::{failure, Registry};
    /// let mut reg = Registry::new();
    /// assert!(!failure::is_armed());
    /// failure::fail_after(0);
    /// assert!(failure::is_armed());
    /// assert!(reg.create_region(reg.root()).is_err());
    /// assert!(!failure::is_armed()); // it happened
    /// ```
    pub fn is_armed() -> bool {
        COUNTDOWN.with(Cell::get).is_some()
    }

    /// Whether an injected failure happened since the last call.
    ///
    /// ```
    /// use regions::{failure, Registry};
    /// let mut reg = Registry::new();
    /// failure::fail_after(0);
    /// assert!(reg.create_region(reg.root()).is_err());
    /// assert!(failure::take_fired());
    /// assert!(!failure::take_fired()); // reset by the call
    /// ```
    pub fn take_fired() -> bool {
        FIRED.with(|fired| fired.replace(false))
    }

    /// Allocations attempted on this thread so far (failed ones included).
    ///
    /// ```
    /// use regions::{failure, Registry};
    /// let mut reg = Registry::new();
    /// let before = failure::attempts();
    /// reg.create_region(reg.root()).unwrap(); // grows the region table
    /// assert!(failure::attempts() > before);
    /// ```
    pub fn attempts() -> u64 {
        ATTEMPTS.with(Cell::get)
    }

    /// Runs `f` with injection paused: its allocations neither fail nor
    /// move the countdown.
    ///
    /// ```
    /// use regions::{failure, Registry};
    /// let mut reg = Registry::new();
    /// failure::fail_after(0);
    /// let region = failure::paused(|| reg.create_region(reg.root()));
    /// assert!(region.is_ok());
    /// assert!(failure::is_armed()); // the countdown did not move
    /// ```
    pub fn paused<R>(f: impl FnOnce() -> R) -> R {
        /// Restores the pause flag, also if `f` panics.
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                PAUSED.with(|paused| paused.set(self.0));
            }
        }
        let _restore = Restore(PAUSED.with(|paused| paused.replace(true)));
        f()
    }

    /// Counts one allocation; `true` if it must fail.
    pub(super) fn should_fail() -> bool {
        if PAUSED.with(Cell::get) {
            return false;
        }
        ATTEMPTS.with(|attempts| attempts.set(attempts.get() + 1));
        COUNTDOWN.with(|countdown| match countdown.get() {
            Some(0) => {
                countdown.set(None);
                FIRED.with(|fired| fired.set(true));
                true
            }
            Some(left) => {
                countdown.set(Some(left - 1));
                false
            }
            None => false,
        })
    }
}

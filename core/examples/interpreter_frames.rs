//! An interpreter's call stack with one region per frame.
//!
//! ```text
//! cargo run -p regions --example interpreter_frames
//! ```
//!
//! Why frames as regions: a call allocates its locals and temporaries as
//! it goes, and almost all of them die when it returns. With a region per
//! frame, returning is one `release_region` that frees them all, and the
//! one value that outlives the call — the return value — is *retained*, so
//! the frame's death promotes it into the caller's frame instead of
//! destroying it. No tracing, no reference counting of every local.
//!
//! Each call runs in `reg.scope(caller_frame)`: a guard that releases the
//! frame when the call ends, including when a panic unwinds through it, so
//! a failing program cannot leak frames.

use std::panic::{catch_unwind, AssertUnwindSafe};

use regions::{ObjectHandle, RegionHandle, Registry};

/// A local variable or temporary of an interpreted frame.
#[derive(Debug)]
struct Local {
    #[allow(dead_code)] // shown by `Debug` only
    name: &'static str,
    value: i64,
}

/// What the interpreter observes while it runs.
#[derive(Default)]
struct Run {
    /// Print a line per return.
    trace: bool,
    calls: u64,
    /// The most regions alive at once (frames + the root).
    deepest: usize,
    /// The highest region id a frame used: ids are recycled.
    highest_id: u32,
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Interprets `fib(n)` called from frame `caller`; returns the handle of
/// the return value, which lives in `caller` when this returns.
fn call_fib(
    reg: &mut Registry,
    caller: RegionHandle,
    n: i64,
    depth: usize,
    run: &mut Run,
) -> Result<ObjectHandle> {
    run.calls += 1;
    // The frame: a child region of the caller's frame, released when
    // `frame` is dropped or closed. `frame` dereferences to the registry.
    let mut frame = reg.scope(caller)?;
    let me = frame.region();
    run.deepest = run.deepest.max(frame.live_region_count());
    run.highest_id = run.highest_id.max(me.id());

    // The argument is a local of the frame.
    let arg = frame.alloc_typed(
        me,
        Local {
            name: "n",
            value: n,
        },
    )?;
    let n = frame.get_typed::<Local>(arg)?.value;
    let value = if n < 2 {
        n
    } else {
        // Each callee's return value arrives in *this* frame, promoted by
        // the callee's death. Its strong count (the callee's `retain`) has
        // done its job: releasing it makes it an ordinary local that dies
        // with this frame. (`&mut frame` is a `&mut Registry`.)
        let a = call_fib(&mut frame, me, n - 1, depth + 1, run)?;
        let b = call_fib(&mut frame, me, n - 2, depth + 1, run)?;
        frame.release(a)?;
        frame.release(b)?;
        frame.get_typed::<Local>(a)?.value + frame.get_typed::<Local>(b)?.value
    };

    // The return value outlives the frame: retain it, and the frame's
    // death moves it to the caller instead of destroying it.
    let ret = frame.alloc_typed(me, Local { name: "ret", value })?;
    frame.retain(ret)?;
    if run.trace {
        println!(
            "  {:indent$}fib({n}) = {value}   frame {me}",
            "",
            indent = 2 * depth
        );
    }
    // Return: the frame dies here (`close` reports an error that a plain
    // drop could not).
    frame.close()?;
    // Hand the caller the value's current home, so it reads it without
    // going through a forwarding record.
    Ok(reg.current(ret)?)
}

/// A chain of `depth` nested calls whose innermost one divides by zero.
fn call_divide(
    reg: &mut Registry,
    caller: RegionHandle,
    depth: u32,
    frames: &mut Vec<RegionHandle>,
) -> Result<i64> {
    let mut frame = reg.scope(caller)?;
    let me = frame.region();
    frames.push(me);
    let x = frame.alloc_typed(
        me,
        Local {
            name: "x",
            value: 7,
        },
    )?;
    if depth > 1 {
        return call_divide(&mut frame, me, depth - 1, frames);
    }
    let zero = frame.alloc_typed(
        me,
        Local {
            name: "zero",
            value: 0,
        },
    )?;
    // Integer division by zero panics in Rust: a bug in the interpreter,
    // or an unchecked operation of the interpreted program.
    let quotient = frame.get_typed::<Local>(x)?.value / frame.get_typed::<Local>(zero)?.value;
    Ok(quotient)
}

fn main() -> Result {
    let mut reg = Registry::new();
    let root = reg.root();

    // --- A traced run: fib(4), called from the root. ----------------------
    println!("fib(4), each line printed as its frame returns:");
    let mut small = Run {
        trace: true,
        ..Run::default()
    };
    let small_result = call_fib(&mut reg, root, 4, 0, &mut small)?;
    let small_value = reg.get_typed::<Local>(small_result)?.value;
    // The value landed in the root (the caller). Drop it now.
    reg.free(small_result)?;

    // --- A deeper run, counted. --------------------------------------------
    let before = reg.global_stats();
    let mut big = Run::default();
    let result = call_fib(&mut reg, root, 15, 0, &mut big)?;
    let after = reg.global_stats();
    let value = reg.get_typed::<Local>(result)?.value;
    let calls = big.calls;
    println!(
        "fib(15) = {value}: {calls} calls, at most {} frames deep, frames used region ids up to {}",
        big.deepest - 1,
        big.highest_id
    );
    println!(
        "  during it: {} allocations, {} promoted by a frame's death, {} destroyed by one, {} frames died",
        after.allocations - before.allocations,
        after.promotions_by_death - before.promotions_by_death,
        after.destroyed_by_death - before.destroyed_by_death,
        after.region_deaths - before.region_deaths,
    );
    println!(
        "  afterwards: {} live region(s), {} live object(s): the result in {}",
        after.live_regions,
        after.occupancy.objects,
        reg.region_of(result)?
    );

    // --- A panic inside a frame. --------------------------------------------
    // The default hook would print the panic to stderr; say it briefly.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        println!("  panic in the innermost frame: {message}");
    }));
    let objects_before_panic = reg.global_stats().occupancy.objects;
    let mut frames = Vec::new();
    println!("3 nested calls, the innermost dividing by zero:");
    let caught = catch_unwind(AssertUnwindSafe(|| {
        call_divide(&mut reg, root, 3, &mut frames)
    }));
    std::panic::set_hook(default_hook);
    let frames_alive = frames.iter().filter(|&&f| reg.is_region_alive(f)).count();
    let after_panic = reg.global_stats();
    println!(
        "  caught: {} frames were entered, {frames_alive} are still alive; {} live region(s), {} live object(s)",
        frames.len(),
        after_panic.live_regions,
        after_panic.occupancy.objects
    );

    // --- What we claimed. -----------------------------------------------
    assert_eq!(small_value, 3);
    assert_eq!(small.calls, 9);
    assert_eq!(value, 610);
    assert_eq!(calls, 1973, "fib(15) makes 1973 calls");
    assert_eq!(
        big.deepest,
        15 + 1,
        "15 frames (fib(15) .. fib(1)) and the root"
    );
    // Ids are recycled with a generation bump (the contract); which id a
    // new frame gets is the allocator's choice, so only claim reuse.
    assert!(
        u64::from(big.highest_id) < calls,
        "{calls} frames did not need {calls} region ids"
    );
    // Per call: the argument and the return value.
    assert_eq!(after.allocations - before.allocations, 2 * calls);
    // Every return value was promoted once, by its own frame's death...
    assert_eq!(
        after.promotions_by_death - before.promotions_by_death,
        calls
    );
    // ...and destroyed by its caller's, except the last one; every argument
    // died with its frame.
    assert_eq!(
        after.destroyed_by_death - before.destroyed_by_death,
        2 * calls - 1
    );
    assert_eq!(after.region_deaths - before.region_deaths, calls);
    assert_eq!(after.live_regions, 1, "only the root remains");
    assert_eq!(after.occupancy.objects, 1, "only the result remains");
    assert_eq!(reg.region_of(result)?, root);
    assert_eq!(
        reg.strong_count(result)?,
        1,
        "still the last frame's retain"
    );

    assert!(caught.is_err(), "the panic reached catch_unwind");
    assert_eq!(frames.len(), 3);
    assert_eq!(frames_alive, 0, "every scope guard released its frame");
    assert_eq!(after_panic.live_regions, 1);
    assert_eq!(
        after_panic.occupancy.objects, objects_before_panic,
        "the frames' locals died with them"
    );
    reg.check_invariants()?;
    println!("all assertions hold; invariants checked");
    Ok(())
}

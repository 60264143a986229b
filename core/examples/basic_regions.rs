//! A tour of the basics: the registry, regions, raw and typed objects, what
//! a region's death does, scopes, and statistics.
//!
//! ```text
//! cargo run -p regions --example basic_regions
//! ```
//!
//! The program prints what happens at each step and ends with assertions,
//! so running it is also a test of what it claims.

use core::alloc::Layout;

use regions::{ErrorKind, Registry, TypeTag};

/// Raw objects carry a tag of our choosing (below 2^63) that says how to
/// read their bytes. The registry never interprets them.
const NAME: TypeTag = TypeTag(1);
const GRID: TypeTag = TypeTag(2);

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result {
    // A registry owns a tree of regions under a permanent root. Everything
    // is addressed by handles: small `Copy` values that are checked on
    // every use, so keeping one around never risks a dangling pointer.
    let mut reg = Registry::new();
    let root = reg.root();

    // Regions nest. A region is where objects live and the unit in which
    // they are freed: a level of a game, a request, a call frame.
    let level = reg.create_region(root)?;
    let room = reg.create_region(level)?;
    let closet = reg.create_region(room)?;
    println!("created {level} under the root, {room} inside it, {closet} inside that");

    // --- Raw objects: bytes, an alignment and a tag. -------------------
    // `alloc_bytes` copies the bytes in; `alloc_zeroed` takes a `Layout`
    // and starts from zeros, for buffers filled in afterwards.
    let name = reg.alloc_bytes(room, NAME, 1, b"lobby")?;
    let grid = reg.alloc_zeroed(room, Layout::new::<[u16; 8]>(), GRID)?;
    reg.get_mut(grid)?[0] = 0xff; // raw bytes are writable in place
    println!(
        "raw: {name} = {:?}, {grid} = {} bytes starting {:?}",
        std::str::from_utf8(reg.get(name)?)?,
        reg.get(grid)?.len(),
        &reg.get(grid)?[..2]
    );

    // --- Typed objects: any `Send + 'static` Rust value. ---------------
    // Typed reads check the type, so reading a `u64` as a `u32` is an
    // error rather than a reinterpretation of its bytes.
    let score = reg.alloc_typed(room, 0u64)?;
    let log = reg.alloc_default::<Vec<String>>(room)?; // `Vec::default()`
    *reg.get_typed_mut::<u64>(score)? += 10;
    reg.get_typed_mut::<Vec<String>>(log)?
        .push("entered the lobby".to_string());
    println!(
        "typed: score = {}, log = {:?}",
        reg.get_typed::<u64>(score)?,
        reg.get_typed::<Vec<String>>(log)?
    );
    let wrong_type = reg.get_typed::<u32>(score).unwrap_err();
    println!("  reading the score as a u32: {wrong_type}");
    // Byte access to a typed object is refused too: its bytes may include
    // padding, and writing arbitrary bytes into a `T` would be unsound.
    let bytes_of_typed = reg.get(score).unwrap_err();

    let room_stats = reg.stats(room)?;
    println!(
        "{room}: {} objects ({} inline in their slot, {} on the heap), {} payload bytes, {} child",
        room_stats.occupancy.objects,
        room_stats.occupancy.inline_objects,
        room_stats.occupancy.heap_objects,
        room_stats.occupancy.payload_bytes,
        room_stats.children,
    );

    // --- Death. ---------------------------------------------------------
    // A region starts with one reference (ours); releasing the last one
    // kills it. Its objects are freed all at once, except those whose
    // strong count is above 0: something outside still refers to them, so
    // they are *promoted* (moved) into the parent. `retain` says "I keep a
    // reference to this object beyond its region".
    reg.retain(log)?;
    let died = reg.release_region(room)?;
    println!("released {room}: died = {died}");

    // The destroyed objects' handles are now errors, never dangling.
    let stale = reg.get_typed::<u64>(score).unwrap_err();
    println!("  score: {stale}");
    // The retained log moved to the level, and the old handle still
    // resolves: every handle an object ever had forwards to its home.
    let log_now = reg.current(log)?;
    println!(
        "  log: promoted, old handle {log} -> current {log_now} in {}, contents {:?}",
        reg.region_of(log)?,
        reg.get_typed::<Vec<String>>(log)?
    );
    let same = reg.same_object(log, log_now);
    // The dead region's child was not killed (death never cascades): it
    // was handed to the grandparent.
    println!(
        "  {closet} is alive = {}, its parent is now {}",
        reg.is_region_alive(closet),
        reg.parent_of(closet)?.expect("not the root")
    );

    // --- Scopes: a region tied to a Rust block. -------------------------
    // `scope` creates a child and releases it when the guard is dropped,
    // even when a panic unwinds through it. The guard dereferences to the
    // registry, so it is used as the registry inside the block.
    let scratch_region;
    {
        let mut scratch = reg.scope(level)?;
        scratch_region = scratch.region();
        scratch.alloc_typed(scratch_region, [0u8; 64])?;
        println!(
            "scope: {scratch_region} holds {} object",
            scratch.object_count(scratch_region)?
        );
    } // dropped here: the region and its object die
    println!(
        "  after the block: {scratch_region} alive = {}",
        reg.is_region_alive(scratch_region)
    );

    // The builder sets what `create_region` does not: room for a number of
    // objects up front (no table growth on the hot path) and a payload
    // budget for this region's own objects.
    let mut bounded = reg
        .region_builder()
        .parent(level)
        .capacity(4)
        .budget(64)
        .scope()?;
    let bounded_region = bounded.region();
    bounded.alloc_typed(bounded_region, [1u8; 48])?;
    let over = bounded.alloc_typed(bounded_region, [2u8; 32]).unwrap_err();
    println!("builder scope: 48 of 64 bytes used; 32 more: {over}");
    let bounded_budget = bounded.stats(bounded_region)?.budget;
    // `close` ends the scope now and says whether the region died.
    let bounded_died = bounded.close()?;

    // --- Registry-wide statistics. --------------------------------------
    let global = reg.global_stats();
    println!(
        "global: {} live regions, {} live object(s); so far {} allocations, \
         {} destroyed by death, {} promoted by death, {} regions created, {} deaths",
        global.live_regions,
        global.occupancy.objects,
        global.allocations,
        global.destroyed_by_death,
        global.promotions_by_death,
        global.regions_created,
        global.region_deaths,
    );

    // The level dies too: the log, still retained, moves on to the root.
    // The root never dies, so an object there lives until it is freed (or
    // the registry is dropped). Releasing its count does not free it:
    // counts decide survival of a death, not lifetime.
    reg.release_region(level)?;
    reg.release(log)?;
    let log_in_root = reg.region_of(log)? == root;
    reg.free(log)?;
    println!("released {level}; the log reached the root and was then freed");

    // --- What we claimed. -----------------------------------------------
    assert_eq!(reg.get(name).unwrap_err().kind(), ErrorKind::StaleHandle);
    assert!(!reg.is_alive(score) && !reg.is_alive(grid));
    assert_eq!(stale.kind(), ErrorKind::StaleHandle);
    assert_eq!(wrong_type.kind(), ErrorKind::TypeMismatch);
    assert_eq!(bytes_of_typed.kind(), ErrorKind::TypeMismatch);
    assert_eq!(room_stats.occupancy.objects, 4);
    assert_eq!(room_stats.occupancy.payload_bytes, 5 + 16 + 8 + 24);
    assert_eq!(room_stats.children, 1);
    assert!(died);
    assert_ne!(log_now, log, "a promoted object has a new home handle");
    assert_eq!(log_now.region(), level);
    assert!(same);
    assert!(!reg.is_region_alive(scratch_region));
    assert_eq!(over.kind(), ErrorKind::BudgetExceeded);
    assert_eq!(bounded_budget, Some(64));
    assert!(bounded_died);
    assert_eq!(global.live_regions, 3, "root, level, closet");
    assert_eq!(global.occupancy.objects, 1, "only the log survived");
    assert_eq!(
        (
            global.allocations,
            global.destroyed_by_death,
            global.promotions_by_death
        ),
        (6, 5, 1),
        "6 objects made; all but the log destroyed by deaths"
    );
    assert!(log_in_root);
    assert!(!reg.is_alive(log));
    // A reparented child keeps its reference: whoever created it still
    // owns it and must release it.
    assert_eq!(
        reg.live_region_count(),
        2,
        "the root and the orphaned closet"
    );
    assert!(reg.release_region(closet)?);
    assert_eq!(reg.live_region_count(), 1);
    assert_eq!(reg.global_stats().occupancy.objects, 0);
    reg.check_invariants()?;
    println!("all assertions hold; invariants checked");
    Ok(())
}

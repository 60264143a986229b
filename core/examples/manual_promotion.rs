//! Manual promotion: do the work in a short-lived scratch region, move
//! just the result to where it must live, and let the scratch region die.
//!
//! ```text
//! cargo run -p regions --example manual_promotion
//! ```
//!
//! Why: a computation makes many intermediate objects (here: one per word
//! of a text, and a frequency table) and one result. Allocating it all in
//! the long-lived region would keep the garbage for as long as that region
//! lives. In a scratch region, the garbage goes in one sweep when the
//! scratch region dies, and `promote` moves the one object worth keeping.
//!
//! Why `promote` rather than `retain` + death: a death promotes into the
//! *parent* only, and the retained object keeps its strong count, which
//! someone must remember to release. `promote` moves to any live region,
//! right now, and changes no count.
//!
//! Every handle the result ever had keeps working: the old handle forwards
//! to the new home, through exactly one record however often it moved.

use std::collections::HashMap;

use regions::{ObjectHandle, RegionHandle, Registry};

const TEXT_A: &str = "the quick brown fox jumps over the lazy dog and the dog sleeps \
                      while the fox runs over the hill and the fox hides";
const TEXT_B: &str = "a region is a bag of objects and a bag dies as a whole";

/// The result worth keeping.
#[derive(Debug)]
struct Summary {
    words: usize,
    top: Vec<(String, usize)>,
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Counts the words of `text`, allocating every intermediate object in
/// `region`, and returns the handle of the summary (also in `region`).
fn summarize(reg: &mut Registry, region: RegionHandle, text: &str) -> Result<ObjectHandle> {
    let counts = reg.alloc_default::<HashMap<String, usize>>(region)?;
    let mut words = 0;
    for word in text.split_whitespace() {
        // A tokenizer would keep its tokens around: one object per word.
        let token = reg.alloc_typed(region, word.to_lowercase())?;
        let key = reg.get_typed::<String>(token)?.clone();
        *reg.get_typed_mut::<HashMap<String, usize>>(counts)?
            .entry(key)
            .or_default() += 1;
        words += 1;
    }
    let mut ranked: Vec<(String, usize)> = reg
        .get_typed::<HashMap<String, usize>>(counts)?
        .iter()
        .map(|(word, &n)| (word.clone(), n))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(3);
    Ok(reg.alloc_typed(region, Summary { words, top: ranked })?)
}

fn main() -> Result {
    let mut reg = Registry::new();
    let root = reg.root();
    // Lives as long as the program's session: results go here.
    let session = reg.create_region(root)?;

    // --- Manual promotion. -----------------------------------------------
    // The scratch region need not be a child of the session: `promote`
    // moves anywhere.
    let scratch = reg.create_region(root)?;
    let result = summarize(&mut reg, scratch, TEXT_A)?;
    let scratch_objects = reg.object_count(scratch)?;
    let kept = reg.promote(result, session)?;
    // The old handle is now a forwarding record in the scratch region.
    let forwarding_slots = reg.stats(scratch)?.occupancy.forwarding_slots;
    reg.release_region(scratch)?; // the intermediates go, all at once
    let after_manual = reg.global_stats();
    println!(
        "manual: built the summary among {scratch_objects} objects in {scratch}, promoted it to \
         {session} ({result} -> {kept}); the scratch death destroyed {}",
        after_manual.destroyed_by_death
    );
    let summary = reg.get_typed::<Summary>(result)?; // old handle, still fine
    println!("  {} words, top {:?}", summary.words, summary.top);
    let summary_top = summary.top.clone();

    // --- The same through retain + death, for comparison. -----------------
    // The scratch region must be a child of the target, and the count we
    // added must be given back afterwards, or the summary would survive the
    // session's death too.
    let scratch2 = reg.create_region(session)?;
    let result2 = summarize(&mut reg, scratch2, TEXT_B)?;
    reg.retain(result2)?;
    reg.release_region(scratch2)?;
    reg.release(result2)?;
    let after_death = reg.global_stats();
    println!(
        "by death: counters now manual_promotions = {}, promotions_by_death = {}, destroyed_by_death = {}",
        after_death.manual_promotions, after_death.promotions_by_death, after_death.destroyed_by_death
    );

    // --- Versus doing the work in the long-lived region. -----------------
    // (Payload counts the objects' own bytes: 24 for a `String` header; the
    // characters live in the global heap and are freed by its `Drop`.)
    let mut naive_reg = Registry::new();
    let naive = naive_reg.create_region(naive_reg.root())?;
    summarize(&mut naive_reg, naive, TEXT_A)?;
    let naive_stats = naive_reg.stats(naive)?.occupancy;
    let session_stats = reg.stats(session)?.occupancy;
    println!(
        "the session holds {} objects / {} payload bytes for two results; \
         working in it directly would leave {} objects / {} bytes for one",
        session_stats.objects,
        session_stats.payload_bytes,
        naive_stats.objects,
        naive_stats.payload_bytes
    );

    // --- Forwarding. -------------------------------------------------------
    // `resolve` (through `&mut self`) counts the forwarding records it
    // visits in `forwarding_hops`; a current handle costs none. So a caller
    // that uses a handle often should resolve it once and keep the result.
    let hops_0 = reg.forwarding_hops();
    let via_old = reg.resolve(result)?;
    let hops_1 = reg.forwarding_hops();
    reg.resolve(kept)?;
    let hops_1b = reg.forwarding_hops();
    // Move it again: the old handle still needs one hop, not two.
    let archive = reg.create_region(root)?;
    let archived = reg.promote(result, archive)?; // `promote` resolves too: +1
    let hops_2 = reg.forwarding_hops();
    reg.resolve(result)?;
    let hops_3 = reg.forwarding_hops();
    let moved_twice = reg.global_stats();
    println!(
        "forwarding: current(old) = {via_old}; hops +{} for the old handle, +{} for the current one; \
         after a second move to {archive} ({archived}) the old one still costs +{}",
        hops_1 - hops_0,
        hops_1b - hops_1,
        hops_3 - hops_2
    );
    println!(
        "  {} forwarding node(s), {} ghost record(s) in {} ghost table(s) of dead regions",
        moved_twice.forwarding_nodes, moved_twice.ghost_records, moved_twice.ghost_tables
    );

    // Records exist only while the object lives: freeing it clears them.
    reg.free(result)?;
    reg.free(result2)?;
    reg.release_region(session)?;
    reg.release_region(archive)?;
    let end = reg.global_stats();
    println!(
        "after freeing the results: {} forwarding nodes, {} ghost tables, {} live region(s)",
        end.forwarding_nodes, end.ghost_tables, end.live_regions
    );

    // --- What we claimed. -----------------------------------------------
    let words_a = TEXT_A.split_whitespace().count();
    assert_eq!(summary_top[0], ("the".to_string(), 6));
    assert_eq!(summary_top[1], ("fox".to_string(), 3));
    assert_eq!(scratch_objects, words_a + 2, "tokens + table + summary");
    assert_eq!(forwarding_slots, 1);
    assert_eq!(kept.region(), session);
    assert_eq!(
        (
            after_manual.manual_promotions,
            after_manual.promotions_by_death
        ),
        (1, 0)
    );
    assert_eq!(after_manual.destroyed_by_death as usize, words_a + 1);
    assert_eq!(
        (
            after_death.manual_promotions,
            after_death.promotions_by_death
        ),
        (1, 1)
    );
    assert_eq!(session_stats.objects, 2, "two summaries, nothing else");
    assert_eq!(naive_stats.objects as usize, words_a + 2);
    assert!(naive_stats.payload_bytes > session_stats.payload_bytes);
    assert_eq!(via_old, kept);
    assert_eq!(
        (hops_1 - hops_0, hops_1b - hops_1, hops_3 - hops_2),
        (1, 0, 1)
    );
    assert_eq!(archived.region(), archive);
    assert_eq!(moved_twice.forwarding_nodes, 2, "the two summaries moved");
    assert_eq!(moved_twice.ghost_tables, 2, "both scratch regions are dead");
    assert_eq!(end.forwarding_nodes, 0);
    assert_eq!(end.ghost_tables, 0);
    assert_eq!(end.live_regions, 1);
    reg.check_invariants()?;
    naive_reg.check_invariants()?;
    println!("all assertions hold; invariants checked");
    Ok(())
}

//! Turning a shrunk trace into a named regression test, in the style of
//! `model/tests/regressions.rs`.

use crate::driver::{format_trace, run};
use crate::op::Op;

/// Whether this build runs the core with 3-value generations (the fuzz
/// crate enables it; `cargo test --workspace` does not). A trace found with
/// it may need it to fail.
pub const BUILT_WITH_SMALL_GENERATIONS: bool = cfg!(feature = "small-generations");

/// Runs `ops` through a fresh driver, teardown included, and panics with
/// the full failure report on any divergence: the body of every regression
/// test (`model/tests/regressions.rs` has its own copy of this helper).
pub fn replay(ops: &[Op]) {
    if let Err(failure) = run(ops) {
        panic!("{failure}");
    }
}

/// A ready-to-paste `#[test]` named `name` (made a valid identifier) that
/// replays `ops`, with a one-line postmortem placeholder for the developer
/// to fill in and a comment saying where the trace came from (`origin`).
///
/// ```
/// use regions_model::engine::regression_test;
/// use regions_model::op::prelude::*;
///
/// let test = regression_test("soak seed 7", "soak episode seed 7", &[CreateRegion { parent: Root }]);
/// assert!(test.contains("#[test]\nfn soak_seed_7() {\n    replay(&[\n        CreateRegion { parent: Root },\n    ]);\n}\n"));
/// ```
pub fn regression_test(name: &str, origin: &str, ops: &[Op]) -> String {
    let mut test = String::from(
        "// Paste into model/tests/regressions.rs (then `cargo fmt`). In another test\n\
         // file, add `use regions_model::engine::replay;` and\n\
         // `use regions_model::op::prelude::*;`.\n",
    );
    test.push_str(&format!("// Found by: {origin}.\n"));
    if BUILT_WITH_SMALL_GENERATIONS {
        test.push_str(
            "// Found with small generations: if the test passes without them, add\n\
             // `#[cfg(feature = \"small-generations\")]`.\n",
        );
    }
    test.push_str("/// Core|Model|Driver: POSTMORTEM (one line: the root cause, then the fix).\n");
    test.push_str(&format!(
        "#[test]\nfn {}() {{\n    replay(&[\n",
        identifier(name)
    ));
    for line in format_trace(ops).lines() {
        test.push_str(&format!("    {line}\n"));
    }
    test.push_str("    ]);\n}\n");
    test
}

/// `name` as a snake-case identifier: lower case, every run of other
/// characters an underscore, never starting with a digit, never empty.
fn identifier(name: &str) -> String {
    let mut ident = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            ident.push(c.to_ascii_lowercase());
        } else if !ident.is_empty() && !ident.ends_with('_') {
            ident.push('_');
        }
    }
    let ident = ident.trim_end_matches('_');
    match ident.chars().next() {
        None => "regression".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("regression_{ident}"),
        Some(_) => ident.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::prelude::*;

    #[test]
    fn names_become_identifiers() {
        assert_eq!(identifier("Soak seed 12"), "soak_seed_12");
        assert_eq!(
            identifier("crash-3f2a…b"),
            "crash_3f2a_b",
            "non-ASCII is a separator"
        );
        assert_eq!(identifier("42"), "regression_42");
        assert_eq!(identifier("--"), "regression");
    }

    #[test]
    fn the_test_replays_every_op_in_order() {
        let ops = [
            CreateRegion { parent: Root },
            Free {
                object: FakeObject {
                    region_id: 1,
                    region_generation: 0,
                    slot: 2,
                    slot_generation: 1,
                },
            },
        ];
        let test = regression_test("x", "a test", &ops);
        let body = "        CreateRegion { parent: Root },\n        Free { object: FakeObject { region_id: 1, region_generation: 0, slot: 2, slot_generation: 1 } },\n";
        assert!(test.contains(body), "{test}");
        assert!(test.contains("// Found by: a test.\n"));
        assert!(test.contains("/// Core|Model|Driver: POSTMORTEM"));
    }

    #[test]
    fn replay_runs_the_trace_through_teardown() {
        replay(&[
            CreateRegion { parent: Root },
            RegisterDestructor { tag: 1 },
            Alloc {
                region: Region(1),
                size: 40,
                align_log2: 3,
                tag: 1,
                fill: 1,
                mismatched_len: false,
            },
        ]);
    }
}

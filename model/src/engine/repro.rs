//! Turning a shrunk trace into a named regression test, in the style of
//! `model/tests/regressions.rs`, and appending it to that file.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

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
/// to fill in and a comment saying where the trace came from (`origin`):
/// [`regression_test_item`] under a comment on where to paste it.
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
        "// Paste into model/tests/regressions.rs (then `cargo fmt`), or rerun repro\n\
         // with `--write`. In another test file, add\n\
         // `use regions_model::engine::replay;` and `use regions_model::op::prelude::*;`.\n",
    );
    test.push_str(&regression_test_item(name, origin, ops));
    test
}

/// The `#[test]` item itself, as `--write` appends it to
/// `model/tests/regressions.rs`: where the trace came from, a small-generations
/// note when this build has them, the postmortem placeholder, and
/// `replay(&[...])` of `ops` (not yet formatted by rustfmt: one op a line).
pub fn regression_test_item(name: &str, origin: &str, ops: &[Op]) -> String {
    let mut test = format!("// Found by: {origin}.\n");
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

/// The named regressions of this source tree, where `repro --write`
/// appends its tests.
pub fn regressions_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions.rs")
}

/// Why [`write_regression_test`] wrote nothing.
#[derive(Debug)]
pub enum WriteError {
    /// The file already has a function of that name.
    NameTaken {
        /// The file.
        path: PathBuf,
        /// The test's name as an identifier.
        ident: String,
    },
    /// The file has no `replay` function for the test to call.
    NoReplay(PathBuf),
    /// Reading or writing failed.
    Io(PathBuf, io::Error),
    /// rustfmt could not be run, or refused the file.
    Rustfmt(String),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::NameTaken { path, ident } => write!(
                f,
                "{} already has a `fn {ident}`: choose another name",
                path.display()
            ),
            WriteError::NoReplay(path) => write!(
                f,
                "{} has no `fn replay` for the test to call",
                path.display()
            ),
            WriteError::Io(path, error) => write!(f, "{}: {error}", path.display()),
            WriteError::Rustfmt(why) => write!(f, "rustfmt: {why}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// The identifier the test named `name` gets in the file at `path`, if the
/// file has no function of that name yet (checked before shrinking, so a
/// taken name is refused before any work is done).
pub fn free_test_name(path: &Path, name: &str) -> Result<String, WriteError> {
    let source = fs::read_to_string(path).map_err(|e| WriteError::Io(path.to_owned(), e))?;
    let ident = identifier(name);
    if defines_fn(&source, &ident) {
        return Err(WriteError::NameTaken {
            path: path.to_owned(),
            ident,
        });
    }
    Ok(ident)
}

/// Appends [`regression_test_item`]`(name, origin, ops)` to the test file at
/// `path` (normally [`regressions_file`]) and formats the file with rustfmt,
/// so it stays as `cargo fmt` leaves it. Refuses, writing nothing, when the
/// file already has a function of that name or has no `fn replay`. The
/// result goes to a hidden file beside `path` first and replaces `path` only
/// once rustfmt accepted it. Returns the test's identifier.
pub fn write_regression_test(
    path: &Path,
    name: &str,
    origin: &str,
    ops: &[Op],
) -> Result<String, WriteError> {
    let io_error = |e| WriteError::Io(path.to_owned(), e);
    let ident = free_test_name(path, name)?;
    let mut source = fs::read_to_string(path).map_err(io_error)?;
    if !defines_fn(&source, "replay") {
        return Err(WriteError::NoReplay(path.to_owned()));
    }
    if !source.ends_with('\n') {
        source.push('\n');
    }
    source.push('\n');
    source.push_str(&regression_test_item(name, origin, ops));
    let file_name = path.file_name().map_or_else(
        || "regressions.rs".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    // Not `*.rs`, so that cargo never takes it for a test target of its own.
    let staged = path.with_file_name(format!(".{file_name}.repro-new"));
    fs::write(&staged, source).map_err(|e| WriteError::Io(staged.clone(), e))?;
    let formatted = rustfmt(&staged)
        .and_then(|()| fs::rename(&staged, path).map_err(|e| WriteError::Io(path.to_owned(), e)));
    if formatted.is_err() {
        let _ = fs::remove_file(&staged);
    }
    formatted.map(|()| ident)
}

/// Formats the file at `path` in place with rustfmt, in the workspace's
/// edition (what `cargo fmt` passes).
fn rustfmt(path: &Path) -> Result<(), WriteError> {
    let output = Command::new("rustfmt")
        .arg("--edition")
        .arg(workspace_edition())
        .arg(path)
        .output()
        .map_err(|e| WriteError::Rustfmt(format!("cannot run rustfmt: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(WriteError::Rustfmt(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}

/// The `edition` of the workspace manifest (the model package inherits it).
fn workspace_edition() -> &'static str {
    include_str!("../../../Cargo.toml")
        .lines()
        .filter_map(|line| line.trim().strip_prefix("edition"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"'))
        .next()
        .expect("the workspace Cargo.toml sets an edition")
}

/// Whether `source` has a `fn ident` (anywhere: a nested function or one in
/// a comment counts too, which can only make the writer refuse a name).
fn defines_fn(source: &str, ident: &str) -> bool {
    let is_ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    source.match_indices("fn").any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = &source[at + 2..];
        let name = after.trim_start();
        before.is_none_or(|c| !is_ident_char(c))
            && name.len() < after.len()
            && name
                .strip_prefix(ident)
                .is_some_and(|rest| !rest.starts_with(is_ident_char))
    })
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
        let ops = [CreateRegion { parent: Root }, free_of_a_fabricated_handle()];
        let test = regression_test("x", "a test", &ops);
        let body = "        CreateRegion { parent: Root },\n        Free { object: FakeObject { region_id: 1, region_generation: 0, slot: 2, slot_generation: 1 } },\n";
        assert!(test.contains(body), "{test}");
        assert!(test.contains("// Found by: a test.\n"));
        assert!(test.contains("/// Core|Model|Driver: POSTMORTEM"));
    }

    #[test]
    fn function_names_are_found_as_whole_words_only() {
        let source = "fn replay(ops: &[Op]) {}\n#[test]\nfn a_test() {\n    replay(&[]);\n}\n";
        assert!(defines_fn(source, "replay"));
        assert!(defines_fn(source, "a_test"));
        assert!(!defines_fn(source, "a_tes"));
        assert!(!defines_fn(source, "test"));
        assert!(!defines_fn("fnord a_test()", "a_test"));
        assert!(!defines_fn("let fn_a_test = 1;", "a_test"));
    }

    #[test]
    fn the_edition_is_read_from_the_workspace_manifest() {
        let edition = workspace_edition();
        assert!(
            edition.len() == 4 && edition.chars().all(|c| c.is_ascii_digit()),
            "{edition:?}"
        );
    }

    /// A scratch copy of `model/tests/regressions.rs` in a directory of its
    /// own, removed on drop.
    /// An op whose operand the test file has to spell out in full.
    fn free_of_a_fabricated_handle() -> Op {
        Free {
            object: FakeObject {
                region_id: 1,
                region_generation: 0,
                slot: 2,
                slot_generation: 1,
            },
        }
    }

    struct ScratchCopy {
        dir: PathBuf,
        file: PathBuf,
    }

    impl ScratchCopy {
        /// A refused write left the file as `expected` and no staged file
        /// beside it.
        fn assert_unchanged(&self, expected: &str) {
            assert_eq!(fs::read_to_string(&self.file).unwrap(), expected);
            assert_eq!(
                fs::read_dir(&self.dir).unwrap().count(),
                1,
                "a staged file was left behind"
            );
        }

        fn new(tag: &str) -> ScratchCopy {
            let dir = std::env::temp_dir()
                .join(format!("regions-model-writer-{}-{tag}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            let file = dir.join("regressions.rs");
            fs::copy(regressions_file(), &file).unwrap();
            ScratchCopy { dir, file }
        }
    }

    impl Drop for ScratchCopy {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// `text` without whitespace and without the trailing commas rustfmt adds
    /// when it splits a struct literal over lines.
    fn squeezed(text: &str) -> String {
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        text.replace(",}", "}").replace(",]", "]")
    }

    #[test]
    fn the_writer_appends_a_formatted_test_and_refuses_a_taken_name() {
        let scratch = ScratchCopy::new("append");
        let before = fs::read_to_string(&scratch.file).unwrap();
        let ops = [
            CreateRegion { parent: Root },
            Alloc {
                region: Region(1),
                size: 300,
                align_log2: 4,
                tag: 2,
                fill: 9,
                mismatched_len: true,
            },
            free_of_a_fabricated_handle(),
        ];
        let ident =
            write_regression_test(&scratch.file, "Soak seed 12", "a unit test", &ops).unwrap();
        assert_eq!(ident, "soak_seed_12");
        let after = fs::read_to_string(&scratch.file).unwrap();
        assert!(after.starts_with(&before), "the existing tests changed");
        let appended = &after[before.len()..];
        assert!(
            appended.contains("// Found by: a unit test.\n"),
            "{appended}"
        );
        assert!(
            appended.contains("#[test]\nfn soak_seed_12() {\n    replay(&[\n"),
            "{appended}"
        );
        // rustfmt split the long ops over lines; the trace is the same.
        assert!(
            squeezed(appended).contains(&format!(
                "replay(&[{}]);",
                squeezed(&format_trace(&ops)).trim_end_matches(',')
            )),
            "{appended}"
        );
        assert!(appended.lines().all(|line| line.len() <= 100), "{appended}");
        // Parsed and formatted: rustfmt has nothing to change.
        let check = Command::new("rustfmt")
            .args(["--check", "--edition", workspace_edition()])
            .arg(&scratch.file)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );

        for taken in ["soak_seed_12", "SOAK seed 12", "replay"] {
            let refused = write_regression_test(&scratch.file, taken, "again", &ops);
            assert!(
                matches!(&refused, Err(WriteError::NameTaken { ident, .. }) if *ident == identifier(taken)),
                "{refused:?}"
            );
        }
        scratch.assert_unchanged(&after);
    }

    #[test]
    fn the_writer_refuses_a_file_without_replay_or_that_does_not_parse() {
        let scratch = ScratchCopy::new("refuse");
        let ops = [CreateRegion { parent: Root }];
        fs::write(&scratch.file, "#[test]\nfn other() {}\n").unwrap();
        assert!(matches!(
            write_regression_test(&scratch.file, "x", "a unit test", &ops),
            Err(WriteError::NoReplay(_))
        ));
        let broken = "fn replay(ops: &[Op]) {\n";
        fs::write(&scratch.file, broken).unwrap();
        assert!(matches!(
            write_regression_test(&scratch.file, "x", "a unit test", &ops),
            Err(WriteError::Rustfmt(_))
        ));
        scratch.assert_unchanged(broken);
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

//! Destructors as resource cleanup: objects that stand for files and
//! sockets close them exactly once, whichever way the object ends.
//!
//! ```text
//! cargo run -p regions --example resource_cleanup
//! ```
//!
//! An object ends in one of three ways: `free`, its region's death (when
//! nothing retained it), or the registry being dropped. Each runs its
//! cleanup exactly once. Moving an object (promotion, by hand or by a
//! death) is not an end and runs nothing: the resource stays open in its
//! new home.
//!
//! Two kinds of cleanup are shown:
//! - a typed object (`alloc_typed`) is a Rust value; its `Drop` runs in
//!   place when it is destroyed, as for a `Box`;
//! - a raw object (bytes and a tag) has no `Drop`; a destructor registered
//!   for its tag with `register_destructor` receives its handle and bytes.
//!   That is what a runtime uses for objects whose layout it defines
//!   itself (here a socket id stored as four bytes).

use std::sync::{Arc, Mutex};

use regions::{ErrorKind, ObjectHandle, RegionHandle, Registry, TypeTag};

/// Where the stand-in resources report what happens to them.
type Log = Arc<Mutex<Vec<String>>>;

/// A stand-in for an open file: closing it is its `Drop`.
struct FakeFile {
    name: &'static str,
    log: Log,
}

impl FakeFile {
    fn open(name: &'static str, log: &Log) -> FakeFile {
        log.lock().unwrap().push(format!("open file {name}"));
        FakeFile {
            name,
            log: Arc::clone(log),
        }
    }
}

impl Drop for FakeFile {
    fn drop(&mut self) {
        let line = format!("close file {}", self.name);
        self.log.lock().unwrap().push(line);
    }
}

/// Raw objects with this tag hold a socket id as 4 little-endian bytes.
const SOCKET: TypeTag = TypeTag(7);

fn open_socket(reg: &mut Registry, region: RegionHandle, id: u32, log: &Log) -> ObjectHandle {
    log.lock().unwrap().push(format!("open socket {id}"));
    reg.alloc_bytes(region, SOCKET, 4, &id.to_le_bytes())
        .expect("a 4-byte object fits")
}

/// The log lines added since `*seen`, which moves on to the end.
fn since(log: &Log, seen: &mut usize) -> Vec<String> {
    let lines = log.lock().unwrap();
    let new = lines[*seen..].to_vec();
    *seen = lines.len();
    new
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result {
    let log: Log = Arc::default();
    let mut seen = 0;
    let mut reg = Registry::new();
    let root = reg.root();

    // The destructor for raw SOCKET objects. It must be `Send + 'static`
    // (the registry is `Send`), so it owns a clone of the log. It is
    // called with the object's current home handle and its bytes, which
    // are about to be reused. A raw object gets the destructor registered
    // for its tag at the moment it is destroyed.
    let socket_log = Arc::clone(&log);
    reg.register_destructor(SOCKET, move |handle, bytes| {
        let id = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
        let line = format!("close socket {id} ({handle})");
        socket_log.lock().unwrap().push(line);
    })?;

    // --- 1. `free`: the object ends now, whatever its counts. -----------
    let notes = reg.alloc_typed(root, FakeFile::open("notes.txt", &log))?;
    let tmp_socket = open_socket(&mut reg, root, 3, &log);
    reg.retain(notes)?; // a strong count does not protect against `free`
    since(&log, &mut seen); // the opens
    reg.free(notes)?;
    reg.free(tmp_socket)?;
    let second_free = reg.free(notes).unwrap_err();
    let freed = since(&log, &mut seen);
    println!("1. free: {freed:?}");
    println!("   a second free: {second_free}");

    // --- 2. Region death: everything not retained ends at once. ----------
    // This is the main point of regions: a request, a frame or a level
    // opens resources as it goes and needs no cleanup code of its own.
    let request = reg.create_region(root)?;
    reg.alloc_typed(request, FakeFile::open("request.log", &log))?;
    let request_socket = open_socket(&mut reg, request, 42, &log);
    reg.alloc_typed(request, 12345u64)?; // needs no cleanup: nothing runs
    since(&log, &mut seen); // the opens
    reg.release_region(request)?;
    let died = since(&log, &mut seen);
    println!("2. death of {request}: {died:?}");

    // --- 3. Promotion: a move, not an end. --------------------------------
    // A retained object survives its region's death by moving to the
    // parent; the resource must stay open. Same for a manual `promote`.
    let session = reg.create_region(root)?;
    let cache = reg.alloc_typed(session, FakeFile::open("cache.db", &log))?;
    let listener = open_socket(&mut reg, session, 80, &log);
    reg.retain(cache)?;
    reg.retain(listener)?;
    let journal_region = reg.create_region(root)?;
    let journal = reg.alloc_typed(journal_region, FakeFile::open("journal", &log))?;
    let opened = since(&log, &mut seen);
    reg.release_region(session)?; // cache.db and socket 80 move to the root
    reg.promote(journal, root)?; // the journal moves by hand
    reg.release_region(journal_region)?; // empty now: nothing to end
    let promoted = since(&log, &mut seen);
    let cache_name = reg.get_typed::<FakeFile>(cache)?.name; // still open
    println!("3. promotions: opened {opened:?}, then on the moves: {promoted:?}");
    println!(
        "   {cache_name} is still usable through its old handle, now in {}",
        reg.region_of(cache)?
    );

    // Check the registry before it goes: after the drop there is nothing
    // left to check.
    reg.check_invariants()?;

    // --- 4. The registry is dropped: everything still alive ends. ---------
    // That includes the root's objects and retained ones: a strong count
    // only decides survival of a region's death.
    drop(reg);
    let dropped = since(&log, &mut seen);
    println!("4. registry dropped: {dropped:?}");

    // --- What we claimed. -----------------------------------------------
    assert_eq!(second_free.kind(), ErrorKind::StaleHandle);
    assert_eq!(
        freed,
        [
            "close file notes.txt",
            &format!("close socket 3 ({tmp_socket})")
        ]
    );
    // The order of destruction within one death is unspecified: compare sets.
    let mut died_sorted = died;
    died_sorted.sort();
    assert_eq!(
        died_sorted,
        [
            "close file request.log",
            &format!("close socket 42 ({request_socket})")
        ],
        "the destructor gets the handle the object had in the dying region"
    );
    assert!(promoted.is_empty(), "promotion runs no destructor");
    assert_eq!(cache_name, "cache.db");
    let mut dropped_sorted = dropped;
    dropped_sorted.sort();
    assert_eq!(dropped_sorted.len(), 3);
    assert_eq!(
        dropped_sorted[..2],
        ["close file cache.db", "close file journal"]
    );
    assert!(dropped_sorted[2].starts_with("close socket 80 "));
    // Every resource opened was closed exactly once.
    let all = log.lock().unwrap();
    for line in all.iter().filter(|line| line.starts_with("open ")) {
        let what = &line["open ".len()..];
        let closes = all
            .iter()
            .filter(|l| {
                l.strip_prefix("close ")
                    .is_some_and(|c| c == what || c.starts_with(&format!("{what} (")))
            })
            .count();
        assert_eq!(closes, 1, "{what} closed {closes} times");
    }
    println!("all assertions hold; invariants checked; every resource closed exactly once");
    Ok(())
}

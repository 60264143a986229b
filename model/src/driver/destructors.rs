//! Recording destructor calls in the core and matching them with the
//! model's destruction log.
//!
//! Raw destructors registered by the driver record the home handle, tag and
//! bytes they receive, and which registration they belong to (a replaced
//! destructor must never run again). Typed tracked values record their token
//! when dropped. After each op, every call must match exactly one object the
//! model destroyed with `destructor_ran`, and vice versa.

use std::sync::{Arc, Mutex};

use regions::{ObjectHandle, Registry, TypeTag};

use crate::model::{Destroyed, ObjectId};

use super::divergence::Mismatch;
use super::handles::Handles;
use super::typed::{tracked_tokens, DropLog};
use crate::op::SliceKind;

/// One call of a raw destructor.
#[derive(Clone, Debug)]
struct RawCall {
    handle: ObjectHandle,
    tag: u64,
    registration: u64,
    bytes: Vec<u8>,
}

/// The logs the core's destructors write into.
#[derive(Debug, Default)]
pub(crate) struct DestructorLogs {
    raw: Arc<Mutex<Vec<RawCall>>>,
    /// Tokens of dropped tracked values (shared with every value).
    pub drops: DropLog,
    /// Per raw tag, the registration whose destructor is installed.
    installed: super::handles::FastMap<u64, u64>,
    registrations: u64,
}

/// Calls matched against the model after one op.
#[derive(Debug, Default)]
pub(crate) struct Matched {
    pub calls: u64,
    /// Elements of destroyed tracked slices that were dropped as predicted.
    pub slice_element_drops: u64,
    pub mismatches: Vec<Mismatch>,
}

/// Takes a log's entries, tolerating poisoning (a panicking check elsewhere
/// must not hide what was recorded).
fn drain<T>(log: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// The payload of the panics the driver raises on purpose (panicking
/// destructors and `init` closures); the hook [`silence_deliberate_panics`]
/// installs lets them pass without a word (or an abort under libFuzzer).
#[derive(Debug)]
struct DeliberatePanic;

/// Panics with [`DeliberatePanic`], having installed the hook that keeps
/// the panic quiet first: every deliberate panic goes through here, so no
/// path can reach libFuzzer's aborting hook (an `init` that panicked before
/// any panicking destructor was registered once did).
pub(crate) fn panic_deliberately() -> ! {
    silence_deliberate_panics();
    std::panic::panic_any(DeliberatePanic)
}

/// Installs (once per process) a panic hook that ignores [`DeliberatePanic`]
/// and passes every other panic to the hook that was installed before
/// (libFuzzer's aborts the process on any panic, even a caught one).
fn silence_deliberate_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<DeliberatePanic>() {
                previous(info);
            }
        }));
    });
}

impl DestructorLogs {
    /// `register_destructor(tag, f)` with an `f` that records its calls
    /// and, if `panics`, then panics with [`DeliberatePanic`].
    pub fn register(
        &mut self,
        registry: &mut Registry,
        tag: u64,
        panics: bool,
    ) -> regions::Result<()> {
        if panics {
            silence_deliberate_panics();
        }
        let registration = self.registrations;
        self.registrations += 1;
        let log = Arc::clone(&self.raw);
        registry.register_destructor(TypeTag(tag), move |handle, bytes| {
            let call = RawCall {
                handle,
                tag,
                registration,
                bytes: bytes.to_vec(),
            };
            log.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(call);
            if panics {
                panic_deliberately();
            }
        })?;
        self.installed.insert(tag, registration);
        Ok(())
    }

    /// Matches the calls recorded since the last call with the objects the
    /// model destroyed. `dropped_unallocated` is the token of a tracked value
    /// whose `alloc_typed` failed (the core drops it on `Err`).
    pub fn match_calls(
        &mut self,
        destroyed: &[Destroyed],
        handles: &Handles,
        dropped_unallocated: Option<u64>,
    ) -> Matched {
        let mut matched = Matched::default();
        let mut raw_calls = drain(&self.raw);
        let mut tokens = drain(&self.drops);
        matched.calls = (raw_calls.len() + tokens.len()) as u64;
        if let Some(token) = dropped_unallocated {
            take_token(&mut tokens, token, None, &mut matched.mismatches);
        }
        for d in destroyed.iter().filter(|d| d.destructor_ran) {
            let state = &d.last_state;
            if state.typed {
                // One token for a tracked value, one per element of a
                // tracked slice (each must be dropped exactly once).
                let slice = SliceKind::of_tag(state.tag).is_some();
                for token in tracked_tokens(state.tag, &state.bytes) {
                    let dropped =
                        take_token(&mut tokens, token, Some(d.id), &mut matched.mismatches);
                    matched.slice_element_drops += u64::from(dropped && slice);
                }
                continue;
            }
            let home = handles.home(d.id);
            match raw_calls.iter().position(|call| Some(call.handle) == home) {
                Some(position) => {
                    let call = raw_calls.swap_remove(position);
                    self.check_call(d, &call, &mut matched.mismatches);
                }
                None => matched.mismatches.push(Mismatch::Destructor {
                    object: Some(d.id),
                    problem: format!("not called (expected with its home {home:?})"),
                }),
            }
        }
        for call in raw_calls {
            let object = handles.object_id(call.handle);
            matched.mismatches.push(Mismatch::Destructor {
                object: Some(object),
                problem: format!("unexpected call with {} for tag {}", call.handle, call.tag),
            });
        }
        for token in tokens {
            matched.mismatches.push(Mismatch::Destructor {
                object: None,
                problem: format!("unexpected drop of the tracked value with token {token}"),
            });
        }
        matched
    }

    fn check_call(&self, d: &Destroyed, call: &RawCall, mismatches: &mut Vec<Mismatch>) {
        let mut problem = |what: &str, expected: String, found: String| {
            mismatches.push(Mismatch::Destructor {
                object: Some(d.id),
                problem: format!("{what}: expected {expected}, got {found}"),
            });
        };
        if call.tag != d.last_state.tag {
            problem("tag", d.last_state.tag.to_string(), call.tag.to_string());
        }
        if call.bytes != d.last_state.bytes {
            problem(
                "bytes",
                format!("{:?}", d.last_state.bytes),
                format!("{:?}", call.bytes),
            );
        }
        let installed = self.installed.get(&call.tag).copied();
        if Some(call.registration) != installed {
            problem(
                "registration (a replaced destructor ran)",
                format!("{installed:?}"),
                call.registration.to_string(),
            );
        }
    }
}

/// Removes one occurrence of `token` and returns `true`, or reports it
/// missing and returns `false`.
fn take_token(
    tokens: &mut Vec<u64>,
    token: u64,
    object: Option<ObjectId>,
    mismatches: &mut Vec<Mismatch>,
) -> bool {
    match tokens.iter().position(|&t| t == token) {
        Some(position) => {
            tokens.swap_remove(position);
            true
        }
        None => {
            mismatches.push(Mismatch::Destructor {
                object,
                problem: format!("tracked value with token {token} was not dropped"),
            });
            false
        }
    }
}

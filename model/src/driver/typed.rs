//! The Rust types behind [`TypedKind`], and their model representation.
//!
//! The model stores a typed object as bytes. Those bytes are not the value's
//! memory (which holds padding and, for the tracked types, a pointer) but a
//! *canonical encoding*: the value's meaningful `u64` words, little endian,
//! zero-padded to `size_of::<T>()`. The driver encodes what the core returns
//! the same way and compares encodings.
//!
//! The tracked types need drop glue; dropping one records its token (unique
//! per allocation, chosen by the driver) in a shared log, so the driver can
//! check that every destroyed typed object was dropped exactly once and that
//! no live one was.

use std::mem::{align_of, needs_drop, size_of};
use std::sync::{Arc, Mutex};

use regions::typed_tag;

use crate::op::TypedKind;

/// Tokens of dropped tracked values, in drop order.
pub(crate) type DropLog = Arc<Mutex<Vec<u64>>>;

/// A Rust type the op language allocates.
pub(crate) trait TypedValue: Send + 'static {
    /// The value an `AllocTyped` with `token` and `payload` allocates.
    fn new(token: u64, payload: u64, log: &DropLog) -> Self;
    /// The words [`TypedValue::new`] produces, without building a value.
    fn words_for(token: u64, payload: u64) -> Vec<u64>;
    /// The value's meaningful words.
    fn words(&self) -> Vec<u64>;
    /// Replaces the payload (`SetTyped`); the token, if any, stays.
    fn set_payload(&mut self, payload: u64);
    /// Whether the first word is a drop-tracking token.
    const TRACKED: bool;
}

/// The encoding the model stores for a value of `size` bytes with `words`.
pub(crate) fn encode(words: &[u64], size: usize) -> Vec<u8> {
    let mut bytes = vec![0; size];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The first word of an encoding (the token of a tracked value).
pub(crate) fn first_word(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

/// `payload` spread over `n` distinct words.
fn spread(payload: u64, n: usize) -> impl Iterator<Item = u64> {
    (0..n as u64).map(move |i| payload.rotate_left(i as u32 * 7) ^ i)
}

impl TypedValue for u64 {
    const TRACKED: bool = false;
    fn new(_: u64, payload: u64, _: &DropLog) -> Self {
        payload
    }
    fn words_for(_: u64, payload: u64) -> Vec<u64> {
        vec![payload]
    }
    fn words(&self) -> Vec<u64> {
        vec![*self]
    }
    fn set_payload(&mut self, payload: u64) {
        *self = payload;
    }
}

impl TypedValue for [u64; 8] {
    const TRACKED: bool = false;
    fn new(_: u64, payload: u64, _: &DropLog) -> Self {
        let mut words = [0; 8];
        words
            .iter_mut()
            .zip(spread(payload, 8))
            .for_each(|(w, v)| *w = v);
        words
    }
    fn words_for(_: u64, payload: u64) -> Vec<u64> {
        spread(payload, 8).collect()
    }
    fn words(&self) -> Vec<u64> {
        self.to_vec()
    }
    fn set_payload(&mut self, payload: u64) {
        *self = Self::new(0, payload, &DropLog::default());
    }
}

/// A value that records its token in `log` when dropped. `Tracked<0>` is 16
/// bytes (inline), `Tracked<5>` 56 bytes (arena).
pub(crate) struct Tracked<const N: usize> {
    token: u64,
    payload: [u64; N],
    log: DropLog,
}

impl<const N: usize> Drop for Tracked<N> {
    fn drop(&mut self) {
        // A poisoned log means another check already panicked; record anyway.
        let mut log = self
            .log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        log.push(self.token);
    }
}

impl<const N: usize> TypedValue for Tracked<N> {
    const TRACKED: bool = true;
    fn new(token: u64, payload: u64, log: &DropLog) -> Self {
        let mut words = [0; N];
        words
            .iter_mut()
            .zip(spread(payload, N))
            .for_each(|(w, v)| *w = v);
        Tracked {
            token,
            payload: words,
            log: Arc::clone(log),
        }
    }
    fn words_for(token: u64, payload: u64) -> Vec<u64> {
        std::iter::once(token).chain(spread(payload, N)).collect()
    }
    fn words(&self) -> Vec<u64> {
        std::iter::once(self.token).chain(self.payload).collect()
    }
    fn set_payload(&mut self, payload: u64) {
        self.payload
            .iter_mut()
            .zip(spread(payload, N))
            .for_each(|(w, v)| *w = v);
    }
}

/// A page-aligned page: the largest alignment the core supports.
#[repr(align(4096))]
pub(crate) struct Page(u64);

impl TypedValue for Page {
    const TRACKED: bool = false;
    fn new(_: u64, payload: u64, _: &DropLog) -> Self {
        Page(payload)
    }
    fn words_for(_: u64, payload: u64) -> Vec<u64> {
        vec![payload]
    }
    fn words(&self) -> Vec<u64> {
        vec![self.0]
    }
    fn set_payload(&mut self, payload: u64) {
        self.0 = payload;
    }
}

/// Runs `$body` with the type alias `$t` bound to `$kind`'s Rust type.
macro_rules! with_type {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::op::TypedKind::U64 => {
                type $t = u64;
                $body
            }
            $crate::op::TypedKind::Words => {
                type $t = [u64; 8];
                $body
            }
            $crate::op::TypedKind::Tracked => {
                type $t = $crate::driver::typed::Tracked<0>;
                $body
            }
            $crate::op::TypedKind::TrackedWords => {
                type $t = $crate::driver::typed::Tracked<5>;
                $body
            }
            $crate::op::TypedKind::Page => {
                type $t = $crate::driver::typed::Page;
                $body
            }
        }
    };
}
pub(crate) use with_type;

/// What the model needs to know about a kind's Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KindInfo {
    pub size: usize,
    pub align: usize,
    pub tag: u64,
    pub needs_drop: bool,
    pub tracked: bool,
}

fn info_of<T: TypedValue>() -> KindInfo {
    KindInfo {
        size: size_of::<T>(),
        align: align_of::<T>(),
        tag: typed_tag::<T>().0,
        needs_drop: needs_drop::<T>(),
        tracked: T::TRACKED,
    }
}

impl TypedKind {
    pub(crate) fn info(self) -> KindInfo {
        with_type!(self, T => info_of::<T>())
    }

    /// The kind whose typed tag is `tag`, if any.
    pub(crate) fn of_tag(tag: u64) -> Option<TypedKind> {
        TypedKind::ALL
            .into_iter()
            .find(|kind| kind.info().tag == tag)
    }

    /// The model bytes of the value `AllocTyped` (or `SetTyped`, keeping the
    /// token) builds from `token` and `payload`.
    pub(crate) fn model_bytes(self, token: u64, payload: u64) -> Vec<u8> {
        with_type!(self, T => encode(&T::words_for(token, payload), size_of::<T>()))
    }
}

/// The model bytes of a value.
pub(crate) fn encoding_of<T: TypedValue>(value: &T) -> Vec<u8> {
    encode(&value.words(), size_of::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_cover_inline_arena_and_dedicated_placement() {
        let info = |kind: TypedKind| kind.info();
        assert_eq!(
            (info(TypedKind::U64).size, info(TypedKind::U64).align),
            (8, 8)
        );
        assert_eq!(info(TypedKind::Words).size, 64);
        assert_eq!(info(TypedKind::Tracked).size, 16, "inline and tracked");
        assert_eq!(info(TypedKind::TrackedWords).size, 56);
        assert_eq!(
            (info(TypedKind::Page).size, info(TypedKind::Page).align),
            (4096, 4096)
        );
        for kind in TypedKind::ALL {
            assert_eq!(info(kind).needs_drop, info(kind).tracked, "{kind:?}");
            assert_eq!(TypedKind::of_tag(info(kind).tag), Some(kind));
        }
    }

    fn check_encoding_agrees<T: TypedValue>() {
        let log = DropLog::default();
        let mut value = T::new(7, 0xdead_beef, &log);
        assert_eq!(
            encoding_of(&value),
            encode(&T::words_for(7, 0xdead_beef), size_of::<T>())
        );
        value.set_payload(42);
        assert_eq!(
            encoding_of(&value),
            encode(&T::words_for(7, 42), size_of::<T>())
        );
        drop(value);
        let expected: Vec<u64> = if T::TRACKED { vec![7] } else { vec![] };
        assert_eq!(*log.lock().unwrap(), expected);
    }

    #[test]
    fn model_bytes_match_the_encoding_of_the_real_value() {
        for kind in TypedKind::ALL {
            with_type!(kind, T => check_encoding_agrees::<T>());
        }
    }
}

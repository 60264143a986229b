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
//!
//! Typed slices ([`SliceKind`]) are encoded as the concatenated encodings of
//! their elements (each `size_of::<T>()` bytes: a `u8` is itself, a `u64`
//! its little-endian bytes, a `Tracked<0>` its token and 8 zero bytes). Each
//! element of a tracked slice has a token of its own, so destroying the
//! slice must drop every element exactly once.

use std::mem::{align_of, needs_drop, size_of};
use std::sync::{Arc, Mutex};

use crate::model::TYPED_TAG_BIT;
use crate::op::{SliceKind, TypedKind};

/// Tokens of dropped tracked values, in drop order.
pub(crate) type DropLog = Arc<Mutex<Vec<u64>>>;

/// A Rust type the op language allocates (`Default` for `alloc_default`).
pub(crate) trait TypedValue: Default + Send + 'static {
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

impl TypedValue for i64 {
    const TRACKED: bool = false;
    fn new(_: u64, payload: u64, _: &DropLog) -> Self {
        payload as i64
    }
    fn words_for(_: u64, payload: u64) -> Vec<u64> {
        vec![payload]
    }
    fn words(&self) -> Vec<u64> {
        vec![*self as u64]
    }
    fn set_payload(&mut self, payload: u64) {
        *self = payload as i64;
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

std::thread_local! {
    /// The token and log the next `Tracked::default()` takes (set by
    /// [`with_default_token`]).
    static DEFAULT_TOKEN: std::cell::RefCell<Option<(u64, DropLog)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` (an `alloc_default`) so that a tracked value it makes by
/// `Default` carries `token` and records its drop in `log`.
pub(crate) fn with_default_token<R>(token: u64, log: &DropLog, f: impl FnOnce() -> R) -> R {
    DEFAULT_TOKEN.with(|next| *next.borrow_mut() = Some((token, Arc::clone(log))));
    let result = f();
    DEFAULT_TOKEN.with(|next| next.borrow_mut().take());
    result
}

/// The default tracked value: all-zero payload, with the token and log
/// [`with_default_token`] provides (a tracked value needs an identity).
impl<const N: usize> Default for Tracked<N> {
    fn default() -> Self {
        let (token, log) = DEFAULT_TOKEN
            .with(|next| next.borrow_mut().take())
            .expect("Tracked::default is only called inside with_default_token");
        Tracked {
            token,
            payload: [0; N],
            log,
        }
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
#[derive(Default)]
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

/// The harness's serializable type: its payload, little endian.
impl regions::Persist for Page {
    const NAME: &'static str = "regions_model::Page";
    fn save(&self, out: &mut regions::Saver<'_>) {
        out.u64(self.0);
    }
    fn load(input: &mut regions::Loader<'_>) -> Result<Self, regions::LoadError> {
        Ok(Page(input.u64()?))
    }
}

/// The typed kinds the driver registers a serializer for (`u64` and
/// `Page`); the others make a serialization `Unserializable`.
pub(crate) const SERIALIZABLE: [TypedKind; 2] = [TypedKind::U64, TypedKind::Page];

/// What a stream holds of typed tag `tag`'s serializer, if it is of a
/// [`SERIALIZABLE`] kind: its name's length and 8 bytes per value (both
/// write one `u64`).
pub(crate) fn stream_type(tag: u64) -> Option<crate::model::StreamType> {
    let kind = SERIALIZABLE
        .into_iter()
        .find(|kind| kind.info().tag == tag)?;
    let name_len = match kind {
        TypedKind::U64 => <u64 as regions::Persist>::NAME.len(),
        _ => <Page as regions::Persist>::NAME.len(),
    };
    Some(crate::model::StreamType {
        name_len,
        value_len: 8,
    })
}

/// Registers the serializers of [`SERIALIZABLE`] with `registry`.
pub(crate) fn register_serializers(registry: &mut regions::Registry) {
    registry
        .register_persist::<u64>()
        .expect("a fresh registry");
    registry
        .register_persist::<Page>()
        .expect("a fresh registry");
}

/// Runs `$body` with the type alias `$t` bound to `$kind`'s Rust type.
macro_rules! with_type {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::op::TypedKind::U64 => {
                type $t = u64;
                $body
            }
            $crate::op::TypedKind::I64 => {
                type $t = i64;
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

/// The model's own type identity of the kind at `index` of
/// [`TypedKind::ALL`]: the core's tags (`regions::typed_tag`) are never fed
/// to the model, so a bug in them cannot be mirrored; the driver learns
/// which core tag each of these stands for (`Handles::learn_tag`) and
/// checks that the correspondence stays one to one.
const fn kind_tag(index: usize) -> u64 {
    TYPED_TAG_BIT | (index as u64 + 1)
}

/// The model's type identity of the slice kind at `index` of
/// [`SliceKind::ALL`] (see [`kind_tag`]).
const fn slice_tag(index: usize) -> u64 {
    TYPED_TAG_BIT | (1 << 32) | index as u64
}

fn info_of<T: TypedValue>(kind: TypedKind) -> KindInfo {
    let index = TypedKind::ALL.iter().position(|&k| k == kind);
    KindInfo {
        size: size_of::<T>(),
        align: align_of::<T>(),
        tag: kind_tag(index.expect("every kind is in ALL")),
        needs_drop: needs_drop::<T>(),
        tracked: T::TRACKED,
    }
}

impl TypedKind {
    pub(crate) fn info(self) -> KindInfo {
        with_type!(self, T => info_of::<T>(self))
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

/// An element type of a typed slice.
pub(crate) trait SliceElement: Send + Sized + 'static {
    /// Element `index` of an `AllocSlice` whose first token is `first_token`
    /// (tracked elements carry `first_token + index`).
    fn element(index: usize, first_token: u64, payload: u64, log: &DropLog) -> Self;
    /// The encoding of that element, without building it.
    fn element_encoding(index: usize, first_token: u64, payload: u64) -> Vec<u8>;
    /// The encoding of an element (`size_of::<Self>()` bytes).
    fn encoding(&self) -> Vec<u8>;
}

/// Word `index` of the words seeded by `payload` (as [`spread`]).
fn spread_word(payload: u64, index: usize) -> u64 {
    payload.rotate_left((index as u32).wrapping_mul(7)) ^ index as u64
}

impl SliceElement for u8 {
    fn element(index: usize, _: u64, payload: u64, _: &DropLog) -> Self {
        spread_word(payload, index) as u8
    }
    fn element_encoding(index: usize, _: u64, payload: u64) -> Vec<u8> {
        vec![spread_word(payload, index) as u8]
    }
    fn encoding(&self) -> Vec<u8> {
        vec![*self]
    }
}

impl SliceElement for u64 {
    fn element(index: usize, _: u64, payload: u64, _: &DropLog) -> Self {
        spread_word(payload, index)
    }
    fn element_encoding(index: usize, _: u64, payload: u64) -> Vec<u8> {
        spread_word(payload, index).to_le_bytes().to_vec()
    }
    fn encoding(&self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

impl SliceElement for Tracked<0> {
    fn element(index: usize, first_token: u64, payload: u64, log: &DropLog) -> Self {
        Tracked::new(first_token + index as u64, payload, log)
    }
    fn element_encoding(index: usize, first_token: u64, payload: u64) -> Vec<u8> {
        encode(
            &Self::words_for(first_token + index as u64, payload),
            size_of::<Self>(),
        )
    }
    fn encoding(&self) -> Vec<u8> {
        encoding_of(self)
    }
}

/// Runs `$body` with the type alias `$t` bound to `$kind`'s element type.
macro_rules! with_slice_type {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::op::SliceKind::Bytes => {
                type $t = u8;
                $body
            }
            $crate::op::SliceKind::Words => {
                type $t = u64;
                $body
            }
            $crate::op::SliceKind::Tracked => {
                type $t = $crate::driver::typed::Tracked<0>;
                $body
            }
        }
    };
}
pub(crate) use with_slice_type;

/// What the model needs to know about a slice kind: per element size and
/// alignment, and the tag and drop glue of the slice type `[T]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SliceInfo {
    pub element_size: usize,
    pub align: usize,
    pub tag: u64,
    pub needs_drop: bool,
    pub tracked: bool,
}

fn slice_info_of<T: SliceElement>(kind: SliceKind) -> SliceInfo {
    let index = SliceKind::ALL.iter().position(|&k| k == kind);
    SliceInfo {
        element_size: size_of::<T>(),
        align: align_of::<T>(),
        tag: slice_tag(index.expect("every slice kind is in ALL")),
        needs_drop: needs_drop::<[T]>(),
        tracked: needs_drop::<T>(),
    }
}

impl SliceKind {
    pub(crate) fn info(self) -> SliceInfo {
        with_slice_type!(self, T => slice_info_of::<T>(self))
    }

    /// The kind whose slice tag is `tag`, if any.
    pub(crate) fn of_tag(tag: u64) -> Option<SliceKind> {
        SliceKind::ALL
            .into_iter()
            .find(|kind| kind.info().tag == tag)
    }

    /// The model bytes of the slice `AllocSlice` builds.
    pub(crate) fn model_bytes(self, len: usize, first_token: u64, payload: u64) -> Vec<u8> {
        with_slice_type!(self, T => (0..len)
            .flat_map(|i| T::element_encoding(i, first_token, payload))
            .collect())
    }
}

/// The model bytes of a slice.
pub(crate) fn slice_encoding<T: SliceElement>(values: &[T]) -> Vec<u8> {
    values.iter().flat_map(SliceElement::encoding).collect()
}

/// The drop tokens a destroyed typed object with `tag` and model `bytes`
/// must drop: one for a tracked value, one per element of a tracked slice,
/// none otherwise.
pub(crate) fn tracked_tokens(tag: u64, bytes: &[u8]) -> Vec<u64> {
    if let Some(kind) = TypedKind::of_tag(tag) {
        return if kind.info().tracked {
            vec![first_word(bytes)]
        } else {
            Vec::new()
        };
    }
    match SliceKind::of_tag(tag) {
        Some(kind) if kind.info().tracked => bytes
            .chunks_exact(kind.info().element_size)
            .map(first_word)
            .collect(),
        _ => Vec::new(),
    }
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

    fn check_slice_encoding_agrees<T: SliceElement>(kind: SliceKind) {
        let log = DropLog::default();
        for len in [0, 1, 5, 200] {
            let values: Vec<T> = (0..len)
                .map(|i| T::element(i, 40, 0xfeed_f00d, &log))
                .collect();
            let bytes = kind.model_bytes(len, 40, 0xfeed_f00d);
            assert_eq!(slice_encoding(&values), bytes, "{kind:?} x {len}");
            assert_eq!(bytes.len(), len * kind.info().element_size);
            let tokens = tracked_tokens(kind.info().tag, &bytes);
            drop(values);
            let dropped = std::mem::take(&mut *log.lock().unwrap());
            assert_eq!(tokens, dropped, "every element's token, in order");
            if kind.info().tracked {
                assert_eq!(tokens, (40..40 + len as u64).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn slice_model_bytes_match_the_encoding_of_the_real_slice() {
        for kind in SliceKind::ALL {
            with_slice_type!(kind, T => check_slice_encoding_agrees::<T>(kind));
        }
    }

    #[test]
    fn slice_tags_differ_from_element_tags_and_from_each_other() {
        let mut tags: Vec<u64> = TypedKind::ALL.iter().map(|k| k.info().tag).collect();
        tags.extend(SliceKind::ALL.iter().map(|k| k.info().tag));
        let distinct: std::collections::BTreeSet<u64> = tags.iter().copied().collect();
        assert_eq!(distinct.len(), tags.len());
        for kind in SliceKind::ALL {
            assert_eq!(SliceKind::of_tag(kind.info().tag), Some(kind));
            assert_eq!(TypedKind::of_tag(kind.info().tag), None);
        }
        let info = |kind: SliceKind| kind.info();
        assert_eq!(
            (
                info(SliceKind::Bytes).element_size,
                info(SliceKind::Bytes).align
            ),
            (1, 1)
        );
        assert_eq!(
            (
                info(SliceKind::Words).element_size,
                info(SliceKind::Words).align
            ),
            (8, 8)
        );
        assert_eq!(info(SliceKind::Tracked).element_size, 16);
        assert!(info(SliceKind::Tracked).needs_drop && info(SliceKind::Tracked).tracked);
        assert!(!info(SliceKind::Words).needs_drop && !info(SliceKind::Bytes).tracked);
    }
}

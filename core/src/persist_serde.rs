//! Serializers through serde (feature `serde`): [`persist_with_serde!`]
//! implements [`Persist`](crate::Persist) for a type with serde's traits,
//! writing its postcard encoding with a length in front.
//!
//! serde's encoding cannot carry object handles (a handle means nothing in
//! another registry): a type that holds handles implements `Persist` by
//! hand, with [`Saver::handle`](crate::Saver::handle).

use crate::persist::{LoadError, Loader, Saver};

/// Implements [`Persist`](crate::Persist) for `$type`, named `$name` in
/// streams, through serde and postcard (feature `serde`).
///
/// ```
/// use regions::{persist_with_serde, Registry};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Settings { volume: u8, name: String }
/// persist_with_serde!(Settings, "example::Settings");
///
/// let mut reg = Registry::new();
/// reg.register_persist::<Settings>().unwrap();
/// let r = reg.create_region(reg.root()).unwrap();
/// let h = reg.alloc_typed(r, Settings { volume: 7, name: "main".into() }).unwrap();
/// let bytes = reg.serialize(r).unwrap();
/// let (_, map) = reg.deserialize(reg.root(), &bytes).unwrap();
/// assert_eq!(reg.get_typed::<Settings>(map.get(h).unwrap()).unwrap().name, "main");
/// ```
#[macro_export]
macro_rules! persist_with_serde {
    ($type:ty, $name:expr) => {
        impl $crate::Persist for $type {
            const NAME: &'static str = $name;
            fn save(&self, out: &mut $crate::Saver<'_>) {
                $crate::serde_support::save(self, out)
            }
            fn load(
                input: &mut $crate::Loader<'_>,
            ) -> ::core::result::Result<Self, $crate::LoadError> {
                $crate::serde_support::load(input)
            }
        }
    };
}

/// What [`persist_with_serde!`] calls; not meant to be used directly.
#[doc(hidden)]
pub mod serde_support {
    use super::*;

    /// Writes `value`'s postcard encoding, its length first (`u64`).
    pub fn save<T: serde::Serialize>(value: &T, out: &mut Saver<'_>) {
        match postcard::to_allocvec(value) {
            Ok(bytes) => {
                out.u64(bytes.len() as u64);
                out.bytes(&bytes);
            }
            Err(_) => out.failed = true,
        }
    }

    /// Reads what [`save`] wrote.
    pub fn load<T: serde::de::DeserializeOwned>(input: &mut Loader<'_>) -> Result<T, LoadError> {
        let len = usize::try_from(input.u64()?).map_err(|_| LoadError {
            reason: "a serde value's length does not fit",
        })?;
        let bytes = input.bytes(len)?;
        postcard::from_bytes(bytes).map_err(|_| LoadError {
            reason: "serde could not decode a value",
        })
    }
}

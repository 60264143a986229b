//! Registry configuration and its builder.

use crate::registry::Registry;

/// Smallest arena block size accepted; smaller requests are raised to it.
pub const MIN_ARENA_BLOCK_SIZE: usize = 1024;
/// Largest arena block size accepted; larger requests are lowered to it.
pub const MAX_ARENA_BLOCK_SIZE: usize = 1 << 30;
/// Arena block size used when none is configured.
pub const DEFAULT_ARENA_BLOCK_SIZE: usize = 64 * 1024;

/// Settings shared by every region of a registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// Bytes per arena block; heap objects above a quarter of it get a
    /// dedicated allocation.
    pub arena_block_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            arena_block_size: DEFAULT_ARENA_BLOCK_SIZE as u32,
        }
    }
}

/// Builds a [`Registry`] with non-default settings.
///
/// ```
/// use regions::Registry;
/// let reg = Registry::builder().arena_block_size(16 * 1024).build();
/// assert_eq!(reg.live_region_count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RegistryBuilder {
    config: Config,
}

impl RegistryBuilder {
    /// Bytes per arena block, clamped to
    /// [`MIN_ARENA_BLOCK_SIZE`]`..=`[`MAX_ARENA_BLOCK_SIZE`]. Heap objects
    /// larger than a quarter of a block get a dedicated allocation.
    pub fn arena_block_size(mut self, bytes: usize) -> Self {
        self.config.arena_block_size =
            bytes.clamp(MIN_ARENA_BLOCK_SIZE, MAX_ARENA_BLOCK_SIZE) as u32;
        self
    }

    /// The registry.
    pub fn build(self) -> Registry {
        Registry::with_config(self.config)
    }
}

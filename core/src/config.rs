//! Registry configuration and its builder.

use crate::registry::Registry;

/// Smallest value [`RegistryBuilder::arena_block_size`] accepts; smaller
/// requests are raised to it.
pub const MIN_ARENA_BLOCK_SIZE: usize = 1024;
/// Largest value [`RegistryBuilder::arena_block_size`] accepts; larger
/// requests are lowered to it.
pub const MAX_ARENA_BLOCK_SIZE: usize = 1 << 30;
/// The largest arena block used when none is configured.
pub const DEFAULT_ARENA_BLOCK_SIZE: usize = 64 * 1024;
/// The size of the first block a region takes for a pool: small, so that a
/// region holding a few objects costs little. Later blocks double.
pub const FIRST_BLOCK_SIZE: usize = 128;
/// Bytes of free blocks the registry keeps for reuse when none is configured.
pub const DEFAULT_BLOCK_CACHE_BYTES: usize = 4 << 20;
/// The largest nursery (a region's first, bump-allocated block) when none
/// is configured.
pub const DEFAULT_MAX_NURSERY_BYTES: usize = 64 * 1024;

/// log2 of [`FIRST_BLOCK_SIZE`].
pub(crate) const FIRST_BLOCK_LOG2: u8 = FIRST_BLOCK_SIZE.trailing_zeros() as u8;
/// log2 of [`MAX_ARENA_BLOCK_SIZE`].
pub(crate) const MAX_BLOCK_LOG2: u8 = MAX_ARENA_BLOCK_SIZE.trailing_zeros() as u8;

/// Settings shared by every region of a registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// log2 of the largest block a region takes; blocks start at
    /// [`FIRST_BLOCK_SIZE`] and double up to it.
    pub max_block_log2: u8,
    /// Free blocks and dead regions' table capacity kept for reuse, in bytes;
    /// above it memory goes back to the global allocator.
    pub cache_bytes: usize,
    /// log2 of the largest nursery, or `None`: regions have no nursery.
    pub max_nursery_log2: Option<u8>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_block_log2: DEFAULT_ARENA_BLOCK_SIZE.trailing_zeros() as u8,
            cache_bytes: DEFAULT_BLOCK_CACHE_BYTES,
            max_nursery_log2: Some(DEFAULT_MAX_NURSERY_BYTES.trailing_zeros() as u8),
        }
    }
}

impl Config {
    /// The largest block, in bytes.
    pub fn max_block(&self) -> usize {
        1 << self.max_block_log2
    }

    /// Heap objects larger than this get a dedicated allocation.
    pub fn dedicated_threshold(&self) -> usize {
        self.max_block() / 4
    }
}

/// Builds a [`Registry`] with non-default settings.
///
/// ```
/// use regions::Registry;
/// let reg = Registry::builder()
///     .arena_block_size(16 * 1024)
///     .block_cache_bytes(1 << 20)
///     .build();
/// assert_eq!(reg.live_region_count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RegistryBuilder {
    config: Config,
}

impl RegistryBuilder {
    /// The largest arena block a region takes, rounded up to a power of two
    /// and clamped to [`MIN_ARENA_BLOCK_SIZE`]`..=`[`MAX_ARENA_BLOCK_SIZE`].
    /// A region's blocks start at [`FIRST_BLOCK_SIZE`] and double up to it.
    /// Heap objects larger than a quarter of it get a dedicated allocation.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::builder().arena_block_size(4096).build();
    /// reg.alloc_typed(reg.root(), [0u8; 1000]).unwrap(); // at most a quarter: in a block
    /// reg.alloc_typed(reg.root(), [0u8; 2000]).unwrap(); // above: its own allocation
    /// assert_eq!(reg.stats(reg.root()).unwrap().occupancy.dedicated_bytes, 2000);
    /// ```
    pub fn arena_block_size(mut self, bytes: usize) -> Self {
        let bytes = bytes
            .clamp(MIN_ARENA_BLOCK_SIZE, MAX_ARENA_BLOCK_SIZE)
            .next_power_of_two();
        self.config.max_block_log2 = bytes.trailing_zeros() as u8;
        self
    }

    /// How many bytes of free arena blocks (and of dead regions' table
    /// capacity) the registry keeps for reuse by later regions; above this
    /// high-water mark, freed memory goes back to the global allocator.
    /// `0` disables the cache.
    ///
    /// ```
    /// use regions::Registry;
    /// let mut reg = Registry::builder().block_cache_bytes(0).build();
    /// let r = reg.create_region(reg.root()).unwrap();
    /// reg.alloc_typed(r, [0u8; 64]).unwrap();
    /// reg.release_region(r).unwrap(); // its block goes back to the global allocator
    /// let usage = reg.memory_usage();
    /// assert_eq!((usage.cached_block_bytes, usage.retained_bytes), (0, 0));
    /// ```
    pub fn block_cache_bytes(mut self, bytes: usize) -> Self {
        self.config.cache_bytes = bytes;
        self
    }

    /// The largest *nursery*: the block a region's first heap objects share
    /// by bump allocation, sized from the regions that died before (see the
    /// crate documentation). Rounded down to a power of two and clamped to
    /// [`FIRST_BLOCK_SIZE`]`..=` the arena block size; `0` gives regions no
    /// nursery, so every heap object goes to its size class or type pool
    /// from the start (what a region that outgrows its nursery does anyway).
    ///
    /// ```
    /// use regions::Registry;
    /// for (nursery, blocks) in [(1024, 1), (0, 2)] {
    ///     let mut reg = Registry::builder().nursery_bytes(nursery).build();
    ///     let r = reg.create_region(reg.root()).unwrap();
    ///     reg.alloc_typed(r, [0u8; 64]).unwrap();
    ///     reg.alloc_typed(r, [0u16; 32]).unwrap(); // another type: another pool
    ///     assert_eq!(reg.arena_count(r).unwrap(), blocks);
    /// }
    /// ```
    pub fn nursery_bytes(mut self, bytes: usize) -> Self {
        self.config.max_nursery_log2 = match bytes {
            0 => None,
            bytes => {
                let floor = usize::BITS - 1 - bytes.leading_zeros();
                Some((floor as u8).max(FIRST_BLOCK_LOG2))
            }
        };
        self
    }

    /// The registry.
    ///
    /// ```
    /// use regions::RegistryBuilder;
    /// let mut reg = RegistryBuilder::default().block_cache_bytes(1 << 20).build();
    /// assert_eq!(reg.memory_usage().block_cache_limit, 1 << 20);
    /// assert_eq!(reg.live_region_count(), 1); // only the root
    /// assert!(reg.create_region(reg.root()).is_ok());
    /// ```
    pub fn build(self) -> Registry {
        Registry::with_config(self.config)
    }
}

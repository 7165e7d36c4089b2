//! In-process store on a moka cache: the default for a single instance.
//!
//! Atomic operations go through moka's `and_compute_with`, which runs calls on the same key
//! one after another under a per-key lock, so `take`, `put_if_absent` and `incr` need no
//! lock of our own and never block other keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};

use super::{Store, StoreError, ttl_millis};

/// Default bound on the memory used by entries (keys plus values), in bytes.
pub const DEFAULT_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// Per-entry bookkeeping overhead counted by the weigher, so millions of tiny entries
/// cannot grow the cache far beyond its byte bound.
const ENTRY_OVERHEAD: usize = 64;

/// One stored value with its absolute deadline.
///
/// The deadline lives in the value (rather than a TTL per write) so `incr` can keep the
/// deadline set by the first increment while replacing the count.
#[derive(Clone)]
struct Item {
    /// Shared bytes: moka clones values on every read.
    bytes: Arc<[u8]>,
    expires_at: Instant,
}

impl Item {
    fn new(bytes: Vec<u8>, ttl: Duration) -> Self {
        Self {
            bytes: bytes.into(),
            expires_at: Instant::now() + Duration::from_millis(ttl_millis(ttl)),
        }
    }
}

/// Tells moka each entry's lifetime from its own deadline.
struct ItemExpiry;

impl Expiry<String, Item> for ItemExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Item,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Item,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(updated_at))
    }
}

/// A bounded in-memory [`Store`]. State is lost at restart and not shared between
/// processes: use [`super::RedisStore`] behind a load balancer.
#[derive(Clone)]
pub struct MemoryStore {
    cache: Cache<String, Item>,
}

impl MemoryStore {
    /// A store holding at most about `capacity_bytes` of keys and values; the least
    /// useful entries are evicted beyond that, so a flood of requests cannot exhaust memory.
    pub fn new(capacity_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|key: &String, item: &Item| {
                u32::try_from(key.len() + item.bytes.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .expire_after(ItemExpiry)
            .build();
        Self { cache }
    }

    /// An entry's value when it has not expired. moka hides expired entries from reads,
    /// but the deadline is checked here too because eviction runs lazily.
    fn live(item: Option<Item>) -> Option<Item> {
        item.filter(|i| i.expires_at > Instant::now())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY_BYTES)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.cache
            .insert(key.to_string(), Item::new(value, ttl))
            .await;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(Self::live(self.cache.get(key).await).map(|i| i.bytes.to_vec()))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self
            .cache
            .entry(key.to_string())
            .and_compute_with(|entry| async move {
                match entry {
                    Some(_) => Op::Remove,
                    None => Op::Nop,
                }
            })
            .await;
        Ok(match result {
            CompResult::Removed(entry) => {
                Self::live(Some(entry.into_value())).map(|i| i.bytes.to_vec())
            }
            _ => None,
        })
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let result = self
            .cache
            .entry(key.to_string())
            .and_compute_with(|entry| async move {
                match Self::live(entry.map(|e| e.into_value())) {
                    Some(_) => Op::Nop,
                    None => Op::Put(Item::new(value, ttl)),
                }
            })
            .await;
        Ok(matches!(
            result,
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.cache.invalidate(key).await;
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        let result = self
            .cache
            .entry(key.to_string())
            .and_compute_with(|entry| async move {
                let next = match Self::live(entry.map(|e| e.into_value())) {
                    None => Ok(Item::new(b"1".to_vec(), ttl)),
                    Some(item) => parse_counter(&item.bytes).map(|n| Item {
                        bytes: (n + 1).to_string().into_bytes().into(),
                        expires_at: item.expires_at,
                    }),
                };
                match next {
                    Ok(item) => Op::Put(item),
                    Err(_) => Op::Nop,
                }
            })
            .await;
        match result {
            CompResult::Inserted(e) | CompResult::ReplacedWith(e) => {
                parse_counter(&e.into_value().bytes)
            }
            _ => Err(StoreError::Backend(format!(
                "key {key:?} holds a value that is not a counter"
            ))),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn push_capped(
        &self,
        key: &str,
        value: Vec<u8>,
        max: usize,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let result = self
            .cache
            .entry(key.to_string())
            .and_compute_with(|entry| async move {
                let old = Self::live(entry.map(|e| e.into_value()));
                let older = match old.as_ref().map(|i| decode_list(&i.bytes)).transpose() {
                    Ok(frames) => frames.unwrap_or_default(),
                    Err(_) => return Op::Nop,
                };
                let newest = std::iter::once(value.as_slice()).chain(older);
                Op::Put(Item::new(encode_list(newest.take(max.max(1))), ttl))
            })
            .await;
        match result {
            CompResult::Inserted(_) | CompResult::ReplacedWith(_) => Ok(()),
            _ => Err(StoreError::Backend(format!(
                "key {key:?} holds a value that is not a list"
            ))),
        }
    }

    async fn list(&self, key: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        match Self::live(self.cache.get(key).await) {
            None => Ok(Vec::new()),
            Some(item) => Ok(decode_list(&item.bytes)?
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect()),
        }
    }
}

/// A list as one value: each element as its length (4 bytes, big-endian) then its bytes.
/// One value per list keeps the byte weigher and the per-key lock of moka in charge.
fn encode_list<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&v[..len as usize]);
    }
    out
}

fn decode_list(mut bytes: &[u8]) -> Result<Vec<&[u8]>, StoreError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let not_a_list = || StoreError::Backend("value is not a list".into());
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(not_a_list)?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(not_a_list());
        }
        let (value, rest) = rest.split_at(len);
        out.push(value);
        bytes = rest;
    }
    Ok(out)
}

/// Counters are stored as decimal text, as Redis does, so both stores read the same way.
fn parse_counter(bytes: &[u8]) -> Result<u64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| StoreError::Backend("value is not a counter".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte bound holds: a flood of entries evicts old ones instead of growing.
    #[tokio::test]
    async fn capacity_is_bounded() {
        let store = MemoryStore::new(64 * 1024);
        for i in 0..1000 {
            store
                .put(&format!("k{i}"), vec![0u8; 1024], Duration::from_secs(60))
                .await
                .expect("put");
        }
        store.cache.run_pending_tasks().await;
        assert!(
            store.cache.weighted_size() <= 64 * 1024,
            "{}",
            store.cache.weighted_size()
        );
        assert!(store.cache.entry_count() < 1000);
    }
}

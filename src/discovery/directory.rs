//! Where tenants are looked up: a `TenantSource` (the `domains/` files today, a database for
//! millions of domains later) read through a moka cache that remembers misses too, so an
//! unknown domain costs the source one query per TTL, not one per request.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;

use super::map::TenantMap;
use super::tenant::Tenant;

/// Errors of a tenant source (a database source can be down; the file source cannot).
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The source could not answer.
    #[error("tenant source unavailable: {0}")]
    Unavailable(String),
}

/// A place tenants come from.
#[async_trait]
pub trait TenantSource: Send + Sync {
    /// The tenant owning `domain` (normalised), subdomain rules applied.
    async fn by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, DirectoryError>;
    /// The tenant with this URL slug.
    async fn by_account(&self, account: &str) -> Result<Option<Arc<Tenant>>, DirectoryError>;
}

/// Tenants from `domains/`: the last good `TenantMap`, swapped whole on reload so a
/// request never sees half a reload.
#[derive(Default)]
pub struct FileSource {
    map: ArcSwap<TenantMap>,
}

impl FileSource {
    /// A source serving `map`.
    pub fn new(map: TenantMap) -> Self {
        Self {
            map: ArcSwap::from_pointee(map),
        }
    }

    /// Replaces the served map.
    pub fn replace(&self, map: TenantMap) {
        self.map.store(Arc::new(map));
    }

    /// The current map.
    pub fn snapshot(&self) -> Arc<TenantMap> {
        self.map.load_full()
    }
}

#[async_trait]
impl TenantSource for FileSource {
    async fn by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        Ok(self.map.load().lookup(domain))
    }

    async fn by_account(&self, account: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        Ok(self.map.load().account(account))
    }
}

/// The cached view of a source that the rest of the gateway uses.
pub struct Directory {
    source: Arc<dyn TenantSource>,
    domains: moka::future::Cache<Box<str>, Option<Arc<Tenant>>>,
}

impl Directory {
    /// Caches up to `capacity` domains (hits and misses) for `ttl`.
    pub fn new(source: Arc<dyn TenantSource>, capacity: u64, ttl: Duration) -> Self {
        Self {
            source,
            domains: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The tenant owning `domain`.
    pub async fn by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        if let Some(hit) = self.domains.get(domain).await {
            metrics::counter!("realmgate_tenant_cache_total", "result" => "hit").increment(1);
            return Ok(hit);
        }
        metrics::counter!("realmgate_tenant_cache_total", "result" => "miss").increment(1);
        let found = self.source.by_domain(domain).await?;
        self.domains.insert(domain.into(), found.clone()).await;
        Ok(found)
    }

    /// The tenant with this URL slug (not cached: the source indexes accounts directly and
    /// slugs come from links, not from a hot loop).
    pub async fn by_account(&self, account: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        self.source.by_account(account).await
    }

    /// Forgets every cached answer; called after the source changed.
    pub fn invalidate(&self) {
        self.domains.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::map::load_dir;

    #[tokio::test]
    async fn cache_is_invalidated_on_replace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.toml"),
            "account = \"a\"\ndomains = [\"a.com\"]\n",
        )
        .unwrap();
        let source = Arc::new(FileSource::new(load_dir(dir.path()).unwrap()));
        let directory = Directory::new(source.clone(), 100, Duration::from_secs(60));
        assert!(directory.by_domain("b.com").await.unwrap().is_none());
        std::fs::write(
            dir.path().join("b.toml"),
            "account = \"b\"\ndomains = [\"b.com\"]\n",
        )
        .unwrap();
        source.replace(load_dir(dir.path()).unwrap());
        // A cached miss survives until invalidation...
        assert!(directory.by_domain("b.com").await.unwrap().is_none());
        directory.invalidate();
        assert_eq!(
            directory.by_domain("b.com").await.unwrap().unwrap().account,
            "b"
        );
    }
}

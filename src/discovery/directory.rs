//! Where tenants are looked up: a `TenantSource` (the `domains/` files today, a database for
//! millions of domains later) read through a moka cache that remembers misses too, so an
//! unknown domain costs the source one query per TTL, not one per request. A source that
//! changes under a running gateway (PostgreSQL) says what changed as a [`Change`], and the
//! caches forget just that.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;

use super::map::TenantMap;
use super::tenant::Tenant;

/// Errors of a tenant source (a database source can be down; the file source cannot).
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The tenant database could not answer.
    #[error("tenant source unavailable: PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// The tenant database's schema could not be migrated.
    #[error("tenant source unavailable: PostgreSQL migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A change notification could not be encoded.
    #[error("tenant source unavailable: change notification: {0}")]
    Notice(#[from] serde_json::Error),
    /// A stored tenant does not load (written by another version, or by hand).
    #[error("tenant source unavailable: {0}")]
    BadRow(crate::config::Problem),
}

/// A place tenants come from.
#[async_trait]
pub trait TenantSource: Send + Sync {
    /// The tenant owning `domain` (normalised), subdomain rules applied.
    async fn by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, DirectoryError>;
    /// The tenant with this URL slug.
    async fn by_account(&self, account: &str) -> Result<Option<Arc<Tenant>>, DirectoryError>;
    /// The tenants that allow IdP-initiated login and whose IdP may be `issuer`, by
    /// account; the caller still checks each one's metadata (a source need not parse it).
    async fn idp_initiated(&self, issuer: &str) -> Result<Vec<Arc<Tenant>>, DirectoryError>;
}

/// What changed in a tenant source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Anything may have changed: a large import, or notifications were missed.
    All,
    /// These tenants changed or were removed. `domains` are the domains they claim now, so
    /// a cached miss of a domain that just got a tenant is forgotten too (the old domains
    /// are found through the cached tenants' accounts).
    Tenants {
        /// Accounts of the changed tenants.
        accounts: HashSet<String>,
        /// Their current domains.
        domains: HashSet<String>,
    },
}

impl Change {
    /// Whether what is cached about `account` may be stale.
    pub fn covers_account(&self, account: &str) -> bool {
        match self {
            Change::All => true,
            Change::Tenants { accounts, .. } => accounts.contains(account),
        }
    }

    /// Whether a cached answer for `domain` may be stale: it, or a parent domain whose
    /// tenant may include subdomains, is one of the changed domains.
    pub fn covers_domain(&self, domain: &str) -> bool {
        let Change::Tenants { domains, .. } = self else {
            return true;
        };
        let mut rest = domain;
        loop {
            if domains.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => return false,
            }
        }
    }
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

    async fn idp_initiated(&self, _issuer: &str) -> Result<Vec<Arc<Tenant>>, DirectoryError> {
        let mut found: Vec<Arc<Tenant>> = self
            .map
            .load()
            .tenants()
            .filter(|t| t.sso.as_ref().is_some_and(|s| s.allow_idp_initiated))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.account.cmp(&b.account));
        Ok(found)
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
                .support_invalidation_closures()
                .build(),
        }
    }

    /// The tenant owning `domain`.
    pub async fn by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        // `realmgate_tenant_cache_total{result}` handles, resolved on the first lookup (the
        // recorder is installed by then) instead of a registry lookup on every one.
        static HIT_MISS: LazyLock<[metrics::Counter; 2]> = LazyLock::new(|| {
            ["hit", "miss"]
                .map(|r| metrics::counter!("realmgate_tenant_cache_total", "result" => r))
        });
        if let Some(hit) = self.domains.get(domain).await {
            HIT_MISS[0].increment(1);
            return Ok(hit);
        }
        HIT_MISS[1].increment(1);
        let found = self.source.by_domain(domain).await?;
        self.domains.insert(domain.into(), found.clone()).await;
        Ok(found)
    }

    /// The tenant with this URL slug (not cached: the source indexes accounts directly and
    /// slugs come from links, not from a hot loop).
    pub async fn by_account(&self, account: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        self.source.by_account(account).await
    }

    /// The tenants that may accept an unsolicited response from `issuer` (not cached:
    /// IdP-initiated logins are rare next to discovery).
    pub async fn idp_initiated(&self, issuer: &str) -> Result<Vec<Arc<Tenant>>, DirectoryError> {
        self.source.idp_initiated(issuer).await
    }

    /// Forgets every cached answer; called after the source changed.
    pub fn invalidate(&self) {
        self.domains.invalidate_all();
    }

    /// Forgets the cached answers `change` may have made stale: hits of a changed tenant,
    /// and hits or misses of its domains and their subdomains.
    pub fn forget(&self, change: &Change) {
        if *change == Change::All {
            return self.invalidate();
        }
        let change = change.clone();
        let registered = self.domains.invalidate_entries_if(move |domain, found| {
            change.covers_domain(domain)
                || found
                    .as_ref()
                    .is_some_and(|t| change.covers_account(&t.account))
        });
        if registered.is_err() {
            self.invalidate();
        }
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

    #[tokio::test]
    async fn forget_drops_only_what_a_change_covers() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "a.toml",
            "account = \"a\"\ndomains = [\"a.com\"]\ninclude_subdomains = true\n",
        );
        write("c.toml", "account = \"c\"\ndomains = [\"c.com\"]\n");
        let source = Arc::new(FileSource::new(load_dir(dir.path()).unwrap()));
        let directory = Directory::new(source.clone(), 100, Duration::from_secs(60));
        let account = |d: &'static str| {
            let directory = &directory;
            async move {
                directory
                    .by_domain(d)
                    .await
                    .unwrap()
                    .map(|t| t.account.clone())
            }
        };
        assert_eq!(account("eu.a.com").await.as_deref(), Some("a"));
        assert_eq!(account("b.com").await, None);
        assert_eq!(account("c.com").await.as_deref(), Some("c"));
        // a gives up its domains to b; c moves to c2 without telling anyone.
        write("a.toml", "account = \"a\"\ndomains = [\"x.com\"]\n");
        write(
            "b.toml",
            "account = \"b\"\ndomains = [\"b.com\", \"a.com\"]\ninclude_subdomains = true\n",
        );
        write("c.toml", "account = \"c2\"\ndomains = [\"c.com\"]\n");
        source.replace(load_dir(dir.path()).unwrap());
        directory.forget(&Change::Tenants {
            accounts: HashSet::from(["a".to_string(), "b".to_string()]),
            domains: HashSet::from(["b.com".to_string(), "a.com".to_string()]),
        });
        assert_eq!(account("eu.a.com").await.as_deref(), Some("b"));
        assert_eq!(account("b.com").await.as_deref(), Some("b"));
        // Not covered by the change: still the cached answer.
        assert_eq!(account("c.com").await.as_deref(), Some("c"));
        directory.forget(&Change::All);
        assert_eq!(account("c.com").await.as_deref(), Some("c2"));
    }

    #[test]
    fn a_change_covers_subdomains_not_lookalikes() {
        let change = Change::Tenants {
            accounts: HashSet::from(["a".to_string()]),
            domains: HashSet::from(["a.com".to_string()]),
        };
        assert!(change.covers_domain("a.com"));
        assert!(change.covers_domain("eu.a.com"));
        assert!(!change.covers_domain("evila.com"));
        assert!(!change.covers_domain("com"));
        assert!(change.covers_account("a") && !change.covers_account("b"));
        assert!(Change::All.covers_domain("anything.example"));
    }
}

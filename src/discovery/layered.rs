//! The tenant source of a gateway with `domains/` files: the operator's files, then the
//! tenants of the management API kept in the users' database. The management operations
//! keep a domain and an account to one tenant across both, so the order only matters for
//! a file added by hand later with a database tenant's account or domain: the file wins,
//! as the operator's word does everywhere.

use std::sync::Arc;

use async_trait::async_trait;

use super::directory::{DirectoryError, FileSource, TenantSource};
use super::tenant::Tenant;

/// `domains/` files over database tenants.
pub struct Layered {
    /// The operator's files.
    pub files: Arc<FileSource>,
    /// The management API's tenants (PostgreSQL queried live, or SQLite held in memory).
    pub database: Arc<dyn TenantSource>,
}

#[async_trait]
impl TenantSource for Layered {
    async fn by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        match self.files.by_domain(domain).await? {
            Some(t) => Ok(Some(t)),
            None => self.database.by_domain(domain).await,
        }
    }

    async fn by_account(&self, account: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        match self.files.by_account(account).await? {
            Some(t) => Ok(Some(t)),
            None => self.database.by_account(account).await,
        }
    }

    async fn idp_initiated(&self, issuer: &str) -> Result<Vec<Arc<Tenant>>, DirectoryError> {
        let mut found = self.files.idp_initiated(issuer).await?;
        for t in self.database.idp_initiated(issuer).await? {
            if !found.iter().any(|f| f.account == t.account) {
                found.push(t);
            }
        }
        found.sort_by(|a, b| a.account.cmp(&b.account));
        Ok(found)
    }
}

//! Tenants of the management API, in the users' database: the rows of the tenant map's
//! tables (`tenants`, `tenant_domains`; migrations 0002 and 0004 on PostgreSQL, 0004 on
//! SQLite), written here and read back through `discovery::map::load_stored`, the check a
//! `domains/` file passes. On PostgreSQL `discovery::PgSource` serves these rows (its
//! queries and parse cache, not a second copy) and every write announces itself on the
//! import's NOTIFY channel in the same transaction; SQLite is single-instance, so the
//! gateway holds its rows as a map and swaps it after each write.
//!
//! A domain belongs to one tenant: `tenant_domains`' primary key refuses a second owner,
//! even between two gateways creating at the same moment.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, SqliteConnection};

use super::AccountsError;
use super::sql::{Pool, with_pool};
use crate::discovery::map::load_stored;
use crate::discovery::{Tenant, TenantOrigin};

/// A tenant ready to be written: its file's text and what the lookups filter on.
#[derive(Debug, Clone)]
pub struct TenantRecord {
    /// URL slug.
    pub account: String,
    /// The name problems cite (`api:<account>`).
    pub file_name: String,
    /// The tenant file's TOML text.
    pub content: String,
    /// The Federation Metadata document, when given by `PUT idp-metadata`.
    pub idp_metadata: Option<Vec<u8>>,
    /// Entity ID of the stored or inline IdP.
    pub idp_entity_id: Option<String>,
    /// Whether unsolicited responses are accepted.
    pub allow_idp_initiated: bool,
    /// Whether subdomains belong to the tenant.
    pub include_subdomains: bool,
    /// Normalised domains.
    pub domains: Vec<String>,
}

/// A domain of a stored tenant and when its DNS proof held.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredDomain {
    /// The domain.
    pub domain: String,
    /// When its proof held; `None`: not yet.
    pub verified_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    account: String,
    file_name: String,
    content: String,
    idp_metadata: Option<Vec<u8>>,
    origin: String,
}

macro_rules! columns {
    () => {
        "SELECT account, file_name, content, idp_metadata, origin FROM tenants"
    };
}
const BY_ACCOUNT: &str = concat!(columns!(), " WHERE account = $1");
const ALL: &str = concat!(columns!(), " ORDER BY account");
const INSERT: &str = "INSERT INTO tenants (account, file_name, content, idp_metadata, \
     idp_entity_id, allow_idp_initiated, include_subdomains, digest, updated_at, origin) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'api')";
const UPDATE: &str = "UPDATE tenants SET file_name = $2, content = $3, idp_metadata = $4, \
     idp_entity_id = $5, allow_idp_initiated = $6, include_subdomains = $7, digest = $8, \
     updated_at = $9 WHERE account = $1 AND origin = 'api'";
const OWNER_OF: &str = "SELECT account FROM tenant_domains WHERE domain = $1";
const DOMAINS: &str = "SELECT domain, verified_at FROM tenant_domains WHERE account = $1 \
     ORDER BY domain";
const VERIFIED: &str = "SELECT account, domain FROM tenant_domains \
     WHERE verified_at IS NOT NULL ORDER BY domain";

/// Announces a committed change to the other gateways of the database.
trait Announce {
    /// Queues the notice of `account`'s change in the current transaction.
    async fn announce(&mut self, account: &str) -> Result<(), AccountsError>;
}

impl Announce for SqliteConnection {
    /// One gateway per SQLite file: nobody else to tell.
    async fn announce(&mut self, _account: &str) -> Result<(), AccountsError> {
        Ok(())
    }
}

impl Announce for PgConnection {
    async fn announce(&mut self, account: &str) -> Result<(), AccountsError> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut *self)
            .await?;
        crate::discovery::pg::notify(self, &schema, vec![account.to_string()])
            .await
            .map_err(AccountsError::Announce)
    }
}

/// A unique violation: another writer took the account or a domain first.
fn taken(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// The tenants of the management API.
#[derive(Clone, Debug)]
pub struct TenantStore {
    pool: Pool,
}

impl TenantStore {
    /// The tenants in `pool` (migrated by [`super::open`]).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// The tenant `account` as the gateway reads it, whatever its origin.
    pub async fn get(&self, account: &str) -> Result<Option<Tenant>, AccountsError> {
        let row: Option<Row> = with_pool!(self, p => sqlx::query_as(BY_ACCOUNT).bind(account).fetch_optional(p).await?);
        let Some(row) = row else { return Ok(None) };
        let verified: Vec<String> = self
            .domains(account)
            .await?
            .into_iter()
            .filter(|d| d.verified_at.is_some())
            .map(|d| d.domain)
            .collect();
        tenant_of(row, verified).map(Some)
    }

    /// Every stored tenant, by account (SQLite's in-memory map, the API's listing).
    pub async fn all(&self) -> Result<Vec<Tenant>, AccountsError> {
        let rows: Vec<Row> = with_pool!(self, p => sqlx::query_as(ALL).fetch_all(p).await?);
        let verified = self.verified().await?;
        rows.into_iter()
            .map(|row| {
                let mine = verified
                    .iter()
                    .filter(|(a, _)| *a == row.account)
                    .map(|(_, d)| d.clone())
                    .collect();
                tenant_of(row, mine)
            })
            .collect()
    }

    /// Every domain whose proof held, as (account, domain), by domain.
    pub async fn verified(&self) -> Result<Vec<(String, String)>, AccountsError> {
        Ok(with_pool!(self, p => sqlx::query_as(VERIFIED).fetch_all(p).await?))
    }

    /// The domains of `account` with their proof.
    pub async fn domains(&self, account: &str) -> Result<Vec<StoredDomain>, AccountsError> {
        Ok(with_pool!(self, p => sqlx::query_as(DOMAINS).bind(account).fetch_all(p).await?))
    }

    /// The account holding `domain` in the database, if any.
    pub async fn owner_of(&self, domain: &str) -> Result<Option<String>, AccountsError> {
        Ok(
            with_pool!(self, p => sqlx::query_scalar(OWNER_OF).bind(domain).fetch_optional(p).await?),
        )
    }

    /// Writes `record`, new (`create`) or replacing the API tenant of its account, in one
    /// transaction: domains it no longer lists go, new ones come unproven, kept ones keep
    /// their proof. Refuses ([`AccountsError::TenantTaken`]) an account or a domain
    /// another tenant holds, naming neither that tenant nor its account.
    pub async fn write(&self, record: &TenantRecord, create: bool) -> Result<(), AccountsError> {
        let digest = crate::secrets::random_token();
        let now = Utc::now();
        let r = record;
        let done: Result<(), AccountsError> = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let sql = if create { INSERT } else { UPDATE };
            let written = sqlx::query(sql)
                .bind(&r.account)
                .bind(&r.file_name)
                .bind(&r.content)
                .bind(r.idp_metadata.as_deref())
                .bind(r.idp_entity_id.as_deref())
                .bind(r.allow_idp_initiated)
                .bind(r.include_subdomains)
                .bind(&digest)
                .bind(now)
                .execute(&mut *tx)
                .await;
            match written {
                Err(e) if taken(&e) => {
                    return Err(AccountsError::TenantTaken(format!("account {:?} is taken", r.account)));
                }
                Err(e) => return Err(e.into()),
                Ok(w) if w.rows_affected() == 0 => {
                    return Err(AccountsError::NotFound(format!("tenant {}", r.account)));
                }
                Ok(_) => {}
            }
            let kept: Vec<String> = sqlx::query_scalar("SELECT domain FROM tenant_domains WHERE account = $1")
                .bind(&r.account)
                .fetch_all(&mut *tx)
                .await?;
            for gone in kept.iter().filter(|d| !r.domains.contains(d)) {
                sqlx::query("DELETE FROM tenant_domains WHERE domain = $1 AND account = $2")
                    .bind(gone)
                    .bind(&r.account)
                    .execute(&mut *tx)
                    .await?;
            }
            for new in r.domains.iter().filter(|d| !kept.contains(d)) {
                let inserted = sqlx::query("INSERT INTO tenant_domains (domain, account) VALUES ($1, $2)")
                    .bind(new)
                    .bind(&r.account)
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Err(e) if taken(&e) => {
                        return Err(AccountsError::TenantTaken(format!(
                            "domain {new:?} is already claimed by another tenant; a domain belongs to one tenant"
                        )));
                    }
                    other => {
                        other?;
                    }
                }
            }
            (*tx).announce(&r.account).await?;
            tx.commit().await?;
            Ok(())
        });
        done
    }

    /// Removes the API tenant `account`; false when there is none.
    pub async fn delete(&self, account: &str) -> Result<bool, AccountsError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM tenant_domains WHERE account = $1 AND account IN \
                 (SELECT account FROM tenants WHERE account = $1 AND origin = 'api')")
                .bind(account)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query("DELETE FROM tenants WHERE account = $1 AND origin = 'api'")
                .bind(account)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone == 0 {
                return Ok(false);
            }
            (*tx).announce(account).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Records that `domain`'s DNS proof held for `account` (at `at`), or, with `None`,
    /// that it no longer does, and changes the tenant's digest so every parsed copy is
    /// read again. False when the domain was already so (or is not the account's).
    pub async fn set_verified(
        &self,
        account: &str,
        domain: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<bool, AccountsError> {
        let digest = crate::secrets::random_token();
        let sql = if at.is_some() {
            "UPDATE tenant_domains SET verified_at = $1 \
             WHERE domain = $2 AND account = $3 AND verified_at IS NULL"
        } else {
            "UPDATE tenant_domains SET verified_at = $1 \
             WHERE domain = $2 AND account = $3 AND verified_at IS NOT NULL"
        };
        let now = at.unwrap_or_else(Utc::now);
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let done = sqlx::query(sql)
                .bind(at)
                .bind(domain)
                .bind(account)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            sqlx::query("UPDATE tenants SET digest = $1, updated_at = $2 WHERE account = $3")
                .bind(&digest)
                .bind(now)
                .bind(account)
                .execute(&mut *tx)
                .await?;
            (*tx).announce(account).await?;
            tx.commit().await?;
            Ok(true)
        })
    }
}

fn tenant_of(row: Row, verified: Vec<String>) -> Result<Tenant, AccountsError> {
    let mut t = load_stored(&row.account, &row.file_name, &row.content, row.idp_metadata)
        .map_err(AccountsError::BadTenant)?;
    if row.origin == TenantOrigin::Api.as_str() {
        t.origin = TenantOrigin::Api;
        t.verified_domains = verified;
    } else {
        t.origin = TenantOrigin::Import;
    }
    Ok(t)
}

//! Tenants in PostgreSQL, for maps of millions of domains: the queries behind
//! [`TenantSource`] over the tables of `migrations/postgres/0002_tenants.sql`, the
//! `tenant import` that fills them in one transaction, and the LISTEN loop through which
//! running gateways learn what an import changed.
//!
//! A tenant is stored as its file's text (and the IdP metadata document beside it), so a
//! row read back goes through the same `validate` as a `domains/` file.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::directory::{Change, DirectoryError, TenantSource};
use super::map::{self, TenantMap};
use super::tenant::{Tenant, TenantOrigin};
use crate::config::Problem;

/// The same set as the user store's, so the two agree on `_sqlx_migrations` when tenants
/// and users share a database.
static MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The channel imports NOTIFY and gateways LISTEN on.
pub const CHANNEL: &str = "realmgate_tenants";
/// PostgreSQL refuses payloads of 8000 bytes or more; a longer list of accounts is sent as
/// "everything changed".
const MAX_PAYLOAD: usize = 7000;
/// How long a lookup waits for a pooled connection before the source is "unavailable".
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Rows per domain INSERT: large enough that 1M domains take 20 round trips, small enough
/// that one statement's arrays stay a few MB.
const DOMAIN_BATCH: usize = 50_000;
/// Tenants per tenant INSERT (each row carries a whole file and maybe a metadata document).
const TENANT_BATCH: usize = 500;
/// Pause between attempts to reconnect the listener.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Parsed tenants kept by account: a tenant of a thousand domains takes milliseconds to
/// parse and validate, and each of its domains is looked up (and cached) separately.
const PARSED_TENANTS: u64 = 10_000;

/// Exact domain, else the longest parent suffix whose tenant includes subdomains: the rule
/// of `TenantMap::lookup`, as one indexed probe of the domain and its parents. Only the
/// account and digest: the file is fetched and parsed when not already parsed.
const BY_DOMAIN: &str = "SELECT t.account, t.digest \
     FROM tenant_domains d JOIN tenants t ON t.account = d.account \
     WHERE d.domain = ANY($1) AND (d.domain = $2 OR t.include_subdomains) \
     ORDER BY length(d.domain) DESC LIMIT 1";
const DIGEST_OF: &str = "SELECT account, digest FROM tenants WHERE account = $1";
/// The columns of [`Row`], verified domains included, for `FROM tenants t`.
macro_rules! row_columns {
    () => {
        "SELECT t.account, t.file_name, t.content, t.idp_metadata, t.digest, t.origin, \
         ARRAY(SELECT v.domain FROM tenant_domains v WHERE v.account = t.account \
         AND v.verified_at IS NOT NULL ORDER BY v.domain) AS verified FROM tenants t "
    };
}
const BY_ACCOUNT: &str = concat!(row_columns!(), "WHERE t.account = $1");
const IDP_INITIATED: &str = concat!(
    row_columns!(),
    "WHERE t.allow_idp_initiated AND (t.idp_entity_id = $1 OR t.idp_entity_id IS NULL) \
     ORDER BY t.account"
);
const ALL_TENANTS: &str = concat!(row_columns!(), "ORDER BY t.account");
const DOMAINS_OF: &str = "SELECT domain FROM tenant_domains WHERE account = ANY($1)";
const UPSERT_TENANTS: &str = "INSERT INTO tenants (account, file_name, content, idp_metadata, \
     idp_entity_id, allow_idp_initiated, include_subdomains, digest) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], \
     $6::bool[], $7::bool[], $8::text[]) \
     ON CONFLICT (account) DO UPDATE SET file_name = EXCLUDED.file_name, \
     content = EXCLUDED.content, idp_metadata = EXCLUDED.idp_metadata, \
     idp_entity_id = EXCLUDED.idp_entity_id, allow_idp_initiated = EXCLUDED.allow_idp_initiated, \
     include_subdomains = EXCLUDED.include_subdomains, digest = EXCLUDED.digest, \
     updated_at = now()";
const INSERT_DOMAINS: &str = "INSERT INTO tenant_domains (domain, account) \
     SELECT * FROM UNNEST($1::text[], $2::text[])";

/// A notification's payload. Channels are per database, not per schema: the schema tells
/// a gateway whether the change is about its tenants at all.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Notice {
    schema: String,
    /// The changed accounts; `None` for "everything".
    accounts: Option<Vec<String>>,
}

/// Tells every gateway on the database that `accounts` of `schema` changed: delivered when
/// `tx` commits, and only if it does. The one sender, for imports and the management API.
pub async fn notify(
    tx: &mut sqlx::PgConnection,
    schema: &str,
    accounts: Vec<String>,
) -> Result<(), DirectoryError> {
    let mut notice = Notice {
        schema: schema.to_string(),
        accounts: Some(accounts),
    };
    let mut payload = serde_json::to_string(&notice)?;
    if payload.len() > MAX_PAYLOAD {
        notice.accounts = None;
        payload = serde_json::to_string(&notice)?;
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(tx)
        .await?;
    Ok(())
}

/// A stored tenant, before it is checked again.
#[derive(sqlx::FromRow)]
struct Row {
    account: String,
    file_name: String,
    content: String,
    idp_metadata: Option<Vec<u8>>,
    digest: String,
    /// `import` or `api` (migrations/postgres/0004).
    origin: String,
    /// The domains whose DNS proof held (API tenants).
    verified: Vec<String>,
}

impl Row {
    /// The tenant, through the same parser and `validate` as a file
    /// ([`super::map::load_stored`]).
    fn tenant(self) -> Result<Tenant, Problem> {
        let mut t = map::load_stored(
            &self.account,
            &self.file_name,
            &self.content,
            self.idp_metadata,
        )?;
        if self.origin == TenantOrigin::Api.as_str() {
            t.origin = TenantOrigin::Api;
            t.verified_domains = self.verified;
        } else {
            t.origin = TenantOrigin::Import;
        }
        Ok(t)
    }
}

/// One tenant of a directory, ready to be written.
#[derive(Debug, Clone)]
pub struct ImportTenant {
    account: String,
    file_name: String,
    content: String,
    idp_metadata: Option<Vec<u8>>,
    idp_entity_id: Option<String>,
    allow_idp_initiated: bool,
    include_subdomains: bool,
    domains: Vec<String>,
    digest: String,
}

impl ImportTenant {
    /// Reads the file of `tenant` (from `load_dir`) and its metadata document, and checks
    /// that the text read now is the tenant that was validated, read back the way gateways
    /// will read it. `idp_entity_id` is its IdP's, when known without fetching a URL.
    pub fn read(tenant: &Tenant, idp_entity_id: Option<String>) -> Result<Self, Problem> {
        let source = tenant.file.display().to_string();
        let problem = |message: String| Problem {
            source: source.clone(),
            line: None,
            message,
        };
        let content = std::fs::read_to_string(&tenant.file)
            .map_err(|e| problem(format!("cannot read the file: {e}")))?;
        let sso = tenant.sso.as_ref();
        let idp_metadata = match sso.and_then(|s| s.idp_metadata.as_ref()) {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                problem(format!("cannot read idp_metadata {}: {e}", path.display()))
            })?),
            None => None,
        };
        let file_name = tenant
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| source.clone());
        let again = Row {
            account: tenant.account.clone(),
            file_name: file_name.clone(),
            content: content.clone(),
            idp_metadata: None,
            digest: String::new(),
            origin: TenantOrigin::Import.as_str().into(),
            verified: Vec::new(),
        }
        .tenant()?;
        if again.domains != tenant.domains {
            return Err(problem(
                "the file changed during the import; run it again".into(),
            ));
        }
        let mut digest = Sha256::new();
        for part in [
            file_name.as_bytes(),
            content.as_bytes(),
            idp_metadata.as_deref().unwrap_or_default(),
            idp_entity_id.as_deref().unwrap_or_default().as_bytes(),
        ] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        Ok(Self {
            account: tenant.account.clone(),
            file_name,
            content,
            idp_metadata,
            idp_entity_id,
            allow_idp_initiated: sso.is_some_and(|s| s.allow_idp_initiated),
            include_subdomains: tenant.include_subdomains,
            domains: tenant.domains.clone(),
            digest: crate::secrets::hex(&digest.finalize()),
        })
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Tenants new to the database.
    pub added: usize,
    /// Tenants whose file or metadata changed.
    pub updated: usize,
    /// Tenants no longer in the directory, deleted.
    pub removed: usize,
    /// Tenants identical to the stored ones, not rewritten.
    pub unchanged: usize,
    /// Domains of the directory.
    pub domains: usize,
    /// Domain rows written (those of added and updated tenants).
    pub domains_written: usize,
}

/// Tenants in PostgreSQL.
pub struct PgSource {
    pool: PgPool,
    /// Parsed tenants by account, with the digest they were parsed from: a lookup reuses
    /// one only while the stored digest is the same, so it is never stale.
    parsed: moka::future::Cache<String, (String, Arc<Tenant>)>,
    /// The schema the tables live in (`search_path`), named in notifications.
    schema: String,
}

impl PgSource {
    /// Connects to `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, DirectoryError> {
        Self::connect(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with `options` and applies pending migrations.
    pub async fn connect(options: PgConnectOptions) -> Result<Self, DirectoryError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        MIGRATIONS.run(&pool).await?;
        Self::over(pool).await
    }

    /// A source over `pool`, already migrated (the users' database of `accounts::open`,
    /// which runs the same migrations): the tenants of the management API kept beside the
    /// `domains/` files.
    pub async fn over(pool: PgPool) -> Result<Self, DirectoryError> {
        let schema = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        Ok(Self {
            pool,
            schema,
            parsed: moka::future::Cache::new(PARSED_TENANTS),
        })
    }

    /// The schema the tables live in, named in notifications.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The pool, for the management API's writes into the same tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Subscribes to import notifications now, so none is missed between start-up and
    /// [`Listener::run`].
    pub async fn listen(&self) -> Result<Listener, DirectoryError> {
        let mut inner = PgListener::connect_with(&self.pool).await?;
        inner.ignore_pool_close_event(true);
        inner.listen(CHANNEL).await?;
        Ok(Listener { inner })
    }

    /// Every stored tenant as a map, checked as a whole like a directory (for `check` and
    /// the CLI; the gateway itself never loads the whole map).
    pub async fn load_map(&self) -> Result<Result<TenantMap, Vec<Problem>>, DirectoryError> {
        let rows: Vec<Row> = sqlx::query_as(ALL_TENANTS).fetch_all(&self.pool).await?;
        let mut tenants = Vec::with_capacity(rows.len());
        let mut problems = Vec::new();
        for row in rows {
            match row.tenant() {
                Ok(t) => tenants.push(t),
                Err(p) => problems.push(p),
            }
        }
        Ok(match TenantMap::build(tenants) {
            Ok(map) if problems.is_empty() => Ok(map),
            Ok(_) => Err(problems),
            Err(more) => Err(problems.into_iter().chain(more).collect()),
        })
    }

    /// Makes the stored tenants exactly `tenants` (a validated directory) in one
    /// transaction: rewrites the added and changed ones, deletes those no longer listed,
    /// and notifies the gateways of the changed accounts when it commits. Concurrent
    /// imports are serialised by a table lock; lookups keep reading meanwhile.
    pub async fn import(
        &self,
        tenants: Vec<ImportTenant>,
    ) -> Result<ImportSummary, DirectoryError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        // Only the rows an import wrote: tenants of the management API are not the
        // directory's to remove, and a domain one of them holds makes the import fail.
        let stored: HashMap<String, String> =
            sqlx::query_as("SELECT account, digest FROM tenants WHERE origin = 'import'")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let mut summary = ImportSummary {
            domains: tenants.iter().map(|t| t.domains.len()).sum(),
            ..ImportSummary::default()
        };
        let listed: HashSet<&str> = tenants.iter().map(|t| t.account.as_str()).collect();
        let removed: Vec<String> = stored
            .keys()
            .filter(|a| !listed.contains(a.as_str()))
            .cloned()
            .collect();
        let changed: Vec<&ImportTenant> = tenants
            .iter()
            .filter(|t| stored.get(&t.account) != Some(&t.digest))
            .collect();
        summary.removed = removed.len();
        summary.updated = changed
            .iter()
            .filter(|t| stored.contains_key(&t.account))
            .count();
        summary.added = changed.len() - summary.updated;
        summary.unchanged = tenants.len() - changed.len();
        let changed_accounts: Vec<String> = changed.iter().map(|t| t.account.clone()).collect();
        sqlx::query("DELETE FROM tenants WHERE account = ANY($1)")
            .bind(&removed)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tenant_domains WHERE account = ANY($1)")
            .bind(&changed_accounts)
            .execute(&mut *tx)
            .await?;
        for batch in changed.chunks(TENANT_BATCH) {
            sqlx::query(UPSERT_TENANTS)
                .bind(batch.iter().map(|t| t.account.as_str()).collect::<Vec<_>>())
                .bind(
                    batch
                        .iter()
                        .map(|t| t.file_name.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(batch.iter().map(|t| t.content.as_str()).collect::<Vec<_>>())
                .bind(
                    batch
                        .iter()
                        .map(|t| t.idp_metadata.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    batch
                        .iter()
                        .map(|t| t.idp_entity_id.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    batch
                        .iter()
                        .map(|t| t.allow_idp_initiated)
                        .collect::<Vec<_>>(),
                )
                .bind(
                    batch
                        .iter()
                        .map(|t| t.include_subdomains)
                        .collect::<Vec<_>>(),
                )
                .bind(batch.iter().map(|t| t.digest.as_str()).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
        }
        let rows: Vec<(&str, &str)> = changed
            .iter()
            .flat_map(|t| t.domains.iter().map(|d| (d.as_str(), t.account.as_str())))
            .collect();
        summary.domains_written = rows.len();
        for batch in rows.chunks(DOMAIN_BATCH) {
            sqlx::query(INSERT_DOMAINS)
                .bind(batch.iter().map(|r| r.0).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.1).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
        }
        let accounts: Vec<String> = changed_accounts.into_iter().chain(removed).collect();
        if !accounts.is_empty() {
            notify(&mut tx, &self.schema, accounts).await?;
        }
        tx.commit().await?;
        Ok(summary)
    }

    /// The tenant `account` as stored with `digest`: the parsed copy, else the row read
    /// and parsed now (`None` if an import removed it in between).
    async fn tenant(
        &self,
        account: &str,
        digest: &str,
    ) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        if let Some((parsed_from, tenant)) = self.parsed.get(account).await
            && parsed_from == digest
        {
            return Ok(Some(tenant));
        }
        let row: Option<Row> = sqlx::query_as(BY_ACCOUNT)
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => self.parse(row).await.map(Some),
            None => Ok(None),
        }
    }

    /// Parses a row and keeps the result for later lookups.
    async fn parse(&self, row: Row) -> Result<Arc<Tenant>, DirectoryError> {
        let (account, digest) = (row.account.clone(), row.digest.clone());
        let tenant = Arc::new(row.tenant().map_err(DirectoryError::BadRow)?);
        self.parsed.insert(account, (digest, tenant.clone())).await;
        Ok(tenant)
    }

    /// The tenant of a `(account, digest)` answer.
    async fn found(
        &self,
        hit: Option<(String, String)>,
    ) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        match hit {
            Some((account, digest)) => self.tenant(&account, &digest).await,
            None => Ok(None),
        }
    }

    /// What a notification's payload says changed here (`None`: the tenants of another
    /// schema). A payload that cannot be read, or failing to read the accounts' domains,
    /// makes it [`Change::All`]: forgetting too much only costs queries.
    async fn change_of(&self, payload: &str) -> Option<Change> {
        let accounts = match serde_json::from_str::<Notice>(payload) {
            Ok(notice) if notice.schema != self.schema => return None,
            Ok(Notice {
                accounts: Some(accounts),
                ..
            }) => accounts,
            _ => return Some(Change::All),
        };
        match sqlx::query_scalar::<_, String>(DOMAINS_OF)
            .bind(&accounts)
            .fetch_all(&self.pool)
            .await
        {
            Ok(domains) => Some(Change::Tenants {
                accounts: accounts.into_iter().collect(),
                domains: domains.into_iter().collect(),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the changed tenants' domains; forgetting every cached tenant");
                Some(Change::All)
            }
        }
    }
}

#[async_trait]
impl TenantSource for PgSource {
    async fn by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        let mut candidates = vec![domain];
        let mut rest = domain;
        while let Some((_, parent)) = rest.split_once('.') {
            candidates.push(parent);
            rest = parent;
        }
        let hit = sqlx::query_as(BY_DOMAIN)
            .bind(&candidates)
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        self.found(hit).await
    }

    async fn by_account(&self, account: &str) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        let hit = sqlx::query_as(DIGEST_OF)
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        self.found(hit).await
    }

    async fn idp_initiated(&self, issuer: &str) -> Result<Vec<Arc<Tenant>>, DirectoryError> {
        let rows: Vec<Row> = sqlx::query_as(IDP_INITIATED)
            .bind(issuer)
            .fetch_all(&self.pool)
            .await?;
        let mut tenants = Vec::with_capacity(rows.len());
        for row in rows {
            tenants.push(self.parse(row).await?);
        }
        Ok(tenants)
    }
}

/// A subscription to import notifications.
pub struct Listener {
    inner: PgListener,
}

impl Listener {
    /// Hands every change to `on_change` until it returns false (the gateway is gone).
    /// When the connection drops, notifications sent meanwhile are lost: once it is back
    /// (and subscribed again), the change is [`Change::All`].
    pub async fn run(mut self, source: Arc<PgSource>, on_change: impl Fn(&Change) -> bool) {
        loop {
            let change = match self.inner.try_recv().await {
                Ok(Some(n)) => match source.change_of(n.payload()).await {
                    Some(change) => change,
                    None => continue,
                },
                Ok(None) | Err(_) => {
                    tracing::warn!("lost the PostgreSQL tenant notifications; reconnecting");
                    self.reconnect().await;
                    tracing::warn!(
                        "tenant notifications reconnected; some may have been missed, so every cached tenant is forgotten"
                    );
                    Change::All
                }
            };
            if !on_change(&change) {
                return;
            }
        }
    }

    /// Retries until a statement runs on the listener's connection, which reconnects and
    /// subscribes again.
    async fn reconnect(&mut self) {
        loop {
            match sqlx::query("SELECT 1").execute(&mut self.inner).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "tenant notifications: PostgreSQL still unreachable");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
            }
        }
    }
}

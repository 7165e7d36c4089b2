//! The OAuth clients of the management API, in the users' database (`oauth_clients`,
//! migration 0007): each row is the client as an `[[oauth_clients]]` entry would be
//! written, the secret only as its hash, and it passes `OAuthClient::problems` again when
//! read, like a configuration entry at start-up.
//!
//! The token endpoint reads clients through a short cache ([`CACHE_TTL`], misses included,
//! so a flood of unknown ids costs one query per id and second): a write here forgets its
//! entry at once on this gateway, and every other gateway of the database reads the change
//! when its entry expires. One mechanism for SQLite and PostgreSQL, with nothing to deliver
//! or to lose.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::AccountsError;
use super::sql::{Pool, with_pool};
use crate::config::OAuthClient;

/// The longest a gateway serves a client as it was before a change made elsewhere: the
/// management API promises every instance sees a change within 2 s.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// Cached lookups (hits and misses).
const CACHED_CLIENTS: u64 = 100_000;

macro_rules! columns {
    () => {
        "SELECT client_id, registration, created_at, updated_at FROM oauth_clients"
    };
}
const BY_ID: &str = concat!(columns!(), " WHERE client_id = $1");
const LIST: &str = concat!(
    columns!(),
    " WHERE ($1 IS NULL OR account = $1) ORDER BY client_id"
);
const BACKCHANNEL: &str = concat!(columns!(), " WHERE backchannel ORDER BY client_id");
const INSERT: &str = "INSERT INTO oauth_clients (client_id, account, backchannel, registration, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)";
const UPDATE: &str = "UPDATE oauth_clients SET account = $2, backchannel = $3, registration = $4, \
     updated_at = $5 WHERE client_id = $1";
const DELETE: &str = "DELETE FROM oauth_clients WHERE client_id = $1";

/// A client as stored, with its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    /// The registration (its `client_secret_hash` included).
    pub client: OAuthClient,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    client_id: String,
    registration: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    /// The client, refused unless it reads and passes the registration check.
    fn client(self) -> Result<StoredClient, AccountsError> {
        let bad = |problem: String| AccountsError::BadClient {
            client_id: self.client_id.clone(),
            problem,
        };
        let client: OAuthClient =
            serde_json::from_str(&self.registration).map_err(|e| bad(e.to_string()))?;
        if client.client_id != self.client_id {
            return Err(bad("registration names another client_id".into()));
        }
        let problems = client.problems();
        if !problems.is_empty() {
            return Err(bad(problems.join("; ")));
        }
        Ok(StoredClient {
            client,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The clients of the management API.
#[derive(Clone)]
pub struct ClientStore {
    pool: Pool,
    cache: moka::future::Cache<String, Option<Arc<OAuthClient>>>,
}

impl std::fmt::Debug for ClientStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientStore").finish_non_exhaustive()
    }
}

impl ClientStore {
    /// The clients in `pool` (migrated by [`super::open`]).
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            cache: moka::future::Cache::builder()
                .max_capacity(CACHED_CLIENTS)
                .time_to_live(CACHE_TTL)
                .build(),
        }
    }

    /// The client `client_id` for the OAuth endpoints, through the cache.
    pub async fn cached(&self, client_id: &str) -> Result<Option<Arc<OAuthClient>>, AccountsError> {
        if !OAuthClient::is_client_id(client_id) {
            return Ok(None);
        }
        if let Some(hit) = self.cache.get(client_id).await {
            return Ok(hit);
        }
        let found = self.get(client_id).await?.map(|s| Arc::new(s.client));
        self.cache
            .insert(client_id.to_string(), found.clone())
            .await;
        Ok(found)
    }

    /// The client `client_id` as stored now (the management operations).
    pub async fn get(&self, client_id: &str) -> Result<Option<StoredClient>, AccountsError> {
        if !OAuthClient::is_client_id(client_id) {
            return Ok(None);
        }
        let row: Option<Row> =
            with_pool!(self, p => sqlx::query_as(BY_ID).bind(client_id).fetch_optional(p).await?);
        row.map(Row::client).transpose()
    }

    /// The clients of `account`, or every client, by `client_id`.
    pub async fn list(&self, account: Option<&str>) -> Result<Vec<StoredClient>, AccountsError> {
        let rows: Vec<Row> =
            with_pool!(self, p => sqlx::query_as(LIST).bind(account).fetch_all(p).await?);
        rows.into_iter().map(Row::client).collect()
    }

    /// The clients that registered a back-channel logout URI (rows that no longer pass the
    /// check left out).
    pub async fn with_backchannel(&self) -> Result<Vec<Arc<OAuthClient>>, AccountsError> {
        let rows: Vec<Row> = with_pool!(self, p => sqlx::query_as(BACKCHANNEL).fetch_all(p).await?);
        // One bad row must not keep the other apps from hearing of a logout.
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.client() {
                Ok(s) => Some(Arc::new(s.client)),
                Err(e) => {
                    tracing::error!(error = %e, "a stored OAuth client is left out of back-channel logout");
                    None
                }
            })
            .collect())
    }

    /// Stores the new `client`; [`AccountsError::ClientTaken`] when its id exists.
    pub async fn insert(&self, client: &OAuthClient) -> Result<StoredClient, AccountsError> {
        let now = stored_now();
        match self.write(INSERT, client, now).await {
            Err(AccountsError::Database(e))
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                Err(AccountsError::ClientTaken(client.client_id.clone()))
            }
            Err(e) => Err(e),
            Ok(_) => Ok(StoredClient {
                client: client.clone(),
                created_at: now,
                updated_at: now,
            }),
        }
    }

    /// Replaces the stored client of `client.client_id`; false when there is none.
    pub async fn update(&self, client: &OAuthClient) -> Result<bool, AccountsError> {
        Ok(self.write(UPDATE, client, stored_now()).await? == 1)
    }

    /// Runs `sql` (INSERT or UPDATE) with `client`'s columns; answers the rows written and
    /// forgets the cached lookup.
    async fn write(
        &self,
        sql: &'static str,
        client: &OAuthClient,
        now: DateTime<Utc>,
    ) -> Result<u64, AccountsError> {
        let registration = serde_json::to_string(client).map_err(|e| AccountsError::BadClient {
            client_id: client.client_id.clone(),
            problem: e.to_string(),
        })?;
        let done = with_pool!(self, p => sqlx::query(sql)
            .bind(&client.client_id)
            .bind(client.account.as_deref())
            .bind(client.backchannel_logout_uri.is_some())
            .bind(&registration)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        self.cache.invalidate(&client.client_id).await;
        Ok(done)
    }

    /// Removes the client `client_id`; false when there is none.
    pub async fn delete(&self, client_id: &str) -> Result<bool, AccountsError> {
        let done = with_pool!(self, p => sqlx::query(DELETE).bind(client_id).execute(p).await?.rows_affected());
        self.cache.invalidate(client_id).await;
        Ok(done == 1)
    }
}

/// Now, to the microsecond PostgreSQL keeps, so what a write answers equals a later read.
fn stored_now() -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 6)
}

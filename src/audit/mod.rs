//! The audit log: who changed what and when, with the state before and after, from the
//! API, the CLI and the console. Kept in the users' database ([`Pool`]) so a change
//! and its record live and are backed up together, and every instance sees one log.
//!
//! [`AuditLog::record`] also writes the `target: "audit"` log line the gateway has always
//! written, so log pipelines built on it keep working.
//!
//! Growth is not bounded yet: every event is kept. Events are small (a few hundred bytes,
//! one per change, none per login or read), so a tenant changing a thousand users a day
//! adds well under a megabyte a day; a retention prune is the next step once an operator
//! asks for one.

use chrono::{DateTime, Utc};

use crate::accounts::Pool;
use crate::accounts::sql::with_pool;

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database refused or could not be reached.
    #[error("audit log database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored before/after document is not JSON (written by something else than us).
    #[error("corrupt audit event {id}: {source}")]
    Corrupt {
        /// The event's id.
        id: i64,
        /// Why it does not parse.
        source: serde_json::Error,
    },
}

/// One change. `before` is `None` for a creation, `after` for a deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Id, in recording order; 0 until recorded.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: an API token's name, `user:<email>`, or `cli`.
    pub actor: String,
    /// The tenant concerned; `None` for operator-wide changes (API tokens of the operator).
    pub account: Option<String>,
    /// What, e.g. `user_added` (the names the log lines have always used).
    pub action: String,
    /// What it was done to: an email, a token's name, a group's id.
    pub target: String,
    /// The state before.
    pub before: Option<serde_json::Value>,
    /// The state after.
    pub after: Option<serde_json::Value>,
}

const INSERT: &str = "INSERT INTO audit_events (at, actor, account, action, target, before_json, after_json) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
const SELECT: &str = "SELECT id, at, actor, account, action, target, before_json, after_json \
     FROM audit_events WHERE ($1 IS NULL OR account = $1) AND ($2 IS NULL OR at >= $2) \
     ORDER BY id LIMIT $3";

/// One account's events, newest first, before an id (the console's pages). By id, which
/// orders events as they were recorded, so a page boundary never splits or repeats one.
const SELECT_RECENT: &str = "SELECT id, at, actor, account, action, target, before_json, after_json \
     FROM audit_events WHERE account = $1 AND ($2 IS NULL OR id < $2) \
     ORDER BY id DESC LIMIT $3";

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    account: Option<String>,
    action: String,
    target: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

/// The audit log over the users' database.
#[derive(Clone, Debug)]
pub struct AuditLog {
    pool: Pool,
}

impl AuditLog {
    /// The log in `pool` (migrated by [`crate::accounts::open`]).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Stores `event` and writes its log line; returns it with its id.
    pub async fn record(&self, mut event: AuditEvent) -> Result<AuditEvent, AuditError> {
        let before = event.before.as_ref().map(ToString::to_string);
        let after = event.after.as_ref().map(ToString::to_string);
        let id: i64 = with_pool!(self, p => sqlx::query_scalar(INSERT)
            .bind(event.at)
            .bind(&event.actor)
            .bind(event.account.as_deref())
            .bind(&event.action)
            .bind(&event.target)
            .bind(before.as_deref())
            .bind(after.as_deref())
            .fetch_one(p)
            .await?);
        event.id = id;
        tracing::info!(target: "audit", event = %event.action, actor = %event.actor, account = event.account.as_deref().unwrap_or(""), target = %event.target, audit_id = id);
        Ok(event)
    }

    /// Events of `account` (all tenants' and the operator's with `None`) at or after
    /// `since`, oldest first, at most `limit`.
    pub async fn list(
        &self,
        account: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        let rows: Vec<EventRow> = with_pool!(self, p => sqlx::query_as::<_, EventRow>(SELECT)
            .bind(account)
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        events(rows)
    }

    /// Events of `account` recorded before the event `before` (from the newest without
    /// it), newest first, at most `limit`.
    pub async fn recent(
        &self,
        account: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AuditError> {
        let rows: Vec<EventRow> = with_pool!(self, p => sqlx::query_as::<_, EventRow>(SELECT_RECENT)
            .bind(account)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        events(rows)
    }
}

/// Stored rows as events; a before/after document that is not JSON is an error.
fn events(rows: Vec<EventRow>) -> Result<Vec<AuditEvent>, AuditError> {
    rows.into_iter()
        .map(|r| {
            let json = |text: Option<String>| {
                text.map(|t| serde_json::from_str(&t))
                    .transpose()
                    .map_err(|source| AuditError::Corrupt { id: r.id, source })
            };
            Ok(AuditEvent {
                before: json(r.before_json)?,
                after: json(r.after_json)?,
                id: r.id,
                at: r.at,
                actor: r.actor,
                account: r.account,
                action: r.action,
                target: r.target,
            })
        })
        .collect()
}

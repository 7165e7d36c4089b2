//! API tokens. A token is shown once, at creation; the database keeps only its SHA-256, so
//! a copy of the database (a backup, a replica) grants nothing. Tokens are 256 random bits,
//! so a fast hash is enough: there is nothing to guess that a slow hash would protect.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Actor, AdminError, record, stored_now};
use crate::accounts::Pool;
use crate::accounts::sql::with_pool;
use crate::audit::AuditLog;

/// What every token starts with: recognisable in a leaked file or a secret scanner.
pub const PREFIX: &str = "rg_";

/// What a token may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The management API.
    Admin,
    /// SCIM provisioning only.
    Scim,
}

impl Scope {
    /// The name stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Scim => "scim",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = AdminError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "scim" => Ok(Self::Scim),
            other => Err(AdminError::Invalid(format!(
                "unknown scope {other:?}: use admin or scim"
            ))),
        }
    }
}

/// A token as listed: never its value or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Unique name; the actor in the audit log.
    pub name: String,
    /// The one tenant it reaches; `None`: the operator's, every tenant.
    pub account: Option<String>,
    /// What it may call.
    pub scope: Scope,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful [`Tokens::verify`].
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    fn json(&self) -> serde_json::Value {
        json!({"name": self.name, "account": self.account, "scope": self.scope.as_str()})
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    name: String,
    account: Option<String>,
    scope: String,
    token_hash: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = AdminError;

    fn try_from(r: TokenRow) -> Result<Self, Self::Error> {
        Ok(Self {
            scope: r.scope.parse().map_err(|_| {
                AdminError::Corrupt(format!("token {}: scope {:?}", r.name, r.scope))
            })?,
            name: r.name,
            account: r.account,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    }
}

macro_rules! columns {
    () => {
        "name, account, scope, token_hash, created_at, last_used_at"
    };
}
const SELECT_BY_HASH: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM api_tokens WHERE token_hash = $1"
);
const SELECT_ALL: &str = concat!("SELECT ", columns!(), " FROM api_tokens ORDER BY name");
const DELETE: &str = concat!(
    "DELETE FROM api_tokens WHERE name = $1 RETURNING ",
    columns!()
);

/// The token table.
#[derive(Clone, Debug)]
pub struct Tokens {
    pool: Pool,
    audit: AuditLog,
}

/// Lower-case hex SHA-256 of `token`: what is stored and looked up.
fn digest(token: &str) -> String {
    crate::secrets::hex(&Sha256::digest(token.as_bytes()))
}

impl Tokens {
    /// The tokens in `pool`, recording changes in `audit`.
    pub fn new(pool: Pool, audit: AuditLog) -> Self {
        Self { pool, audit }
    }

    /// Creates a token and returns it with its value, the only time the value exists
    /// outside the caller's hands. A name in use: [`AdminError::Conflict`].
    pub async fn create(
        &self,
        actor: &Actor,
        name: &str,
        account: Option<&str>,
        scope: Scope,
    ) -> Result<(ApiToken, String), AdminError> {
        if name.is_empty() || name.chars().any(char::is_control) || name.len() > 100 {
            return Err(AdminError::Invalid(
                "a token name is 1 to 100 printable characters".into(),
            ));
        }
        let value = format!("{PREFIX}{}", crate::secrets::random_token());
        let now = stored_now();
        let sql = "INSERT INTO api_tokens (name, account, scope, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
        let done: Result<_, sqlx::Error> = with_pool!(self, p => sqlx::query(sql)
            .bind(name)
            .bind(account)
            .bind(scope.as_str())
            .bind(digest(&value))
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()));
        match done {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(AdminError::Conflict(format!(
                    "a token named {name:?} exists already"
                )));
            }
            other => other?,
        }
        let token = ApiToken {
            name: name.to_string(),
            account: account.map(str::to_string),
            scope,
            created_at: now,
            last_used_at: None,
        };
        record(
            &self.audit,
            actor,
            account,
            "token_created",
            name,
            None,
            Some(token.json()),
        )
        .await?;
        Ok((token, value))
    }

    /// The token `value` stands for, and notes its use; `None` for any unknown value.
    /// Looked up by hash (an index probe, no scan), then the hashes are compared in
    /// constant time so the answer's timing says nothing about how close a guess was.
    pub async fn verify(&self, value: &str) -> Result<Option<ApiToken>, AdminError> {
        if !value.starts_with(PREFIX) {
            return Ok(None);
        }
        let hash = digest(value);
        let row: Option<TokenRow> = with_pool!(self, p => sqlx::query_as::<_, TokenRow>(SELECT_BY_HASH)
            .bind(&hash)
            .fetch_optional(p)
            .await?);
        let Some(row) = row.filter(|r| bool::from(r.token_hash.as_bytes().ct_eq(hash.as_bytes())))
        else {
            return Ok(None);
        };
        let now = stored_now();
        let touch = "UPDATE api_tokens SET last_used_at = $1 WHERE name = $2";
        with_pool!(self, p => sqlx::query(touch).bind(now).bind(&row.name).execute(p).await?.rows_affected());
        let mut token = ApiToken::try_from(row)?;
        token.last_used_at = Some(now);
        Ok(Some(token))
    }

    /// Every token, by name.
    pub async fn list(&self) -> Result<Vec<ApiToken>, AdminError> {
        let rows: Vec<TokenRow> = with_pool!(self, p => sqlx::query_as::<_, TokenRow>(SELECT_ALL)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    /// Deletes the token `name`: its next call is refused.
    pub async fn revoke(&self, actor: &Actor, name: &str) -> Result<ApiToken, AdminError> {
        let row: Option<TokenRow> = with_pool!(self, p => sqlx::query_as::<_, TokenRow>(DELETE)
            .bind(name)
            .fetch_optional(p)
            .await?);
        let token = ApiToken::try_from(
            row.ok_or_else(|| AdminError::NotFound(format!("token {name:?}")))?,
        )?;
        record(
            &self.audit,
            actor,
            token.account.as_deref(),
            "token_revoked",
            name,
            Some(token.json()),
            None,
        )
        .await?;
        Ok(token)
    }
}

//! The management operations: THE one set used by the API, the CLI and the console,
//! so every surface applies the same rules and writes the same audit events.
//!
//! Each change takes the [`Actor`] making it and records an [`AuditEvent`] with the state
//! before and after. Cross-account safety lives here, not in the callers: every user
//! operation names the account, and an id of another account is answered exactly like an
//! absent one ([`AdminError::NotFound`]), so a token of one tenant cannot even learn which
//! ids exist elsewhere.
//!
//! Disabling or deleting a user ends their access without further work here: the session
//! check (`web::account::current`) re-reads the user's status through a cache of at most
//! 30 s and ends the session of a user who is not active (a deleted user reads as not
//! active), and every refresh grant re-reads the user (`oauth::grants`).
//!
//! # Layout
//! - [`tokens`]: API tokens (`rg_…`), kept as SHA-256;
//! - [`users`]: the user operations over [`UserStore`];
//! - [`groups`]: SCIM groups, accepted and listed only;
//! - [`tenants`]: the tenants of the management API, their IdP metadata and domains (and
//!   the periodic re-check of those domains' DNS proofs).
//! - [`access`]: who may use an account's admin console, and the recent sign-in rule.
//! - [`clients`]: OAuth / OpenID Connect clients of the management API.

pub mod access;
pub mod clients;
pub mod groups;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::fmt;
use std::sync::Arc;

use chrono::Utc;

use crate::accounts::{self, AccountsError, Pool, SqlUserStore, UserStore};
use crate::audit::{AuditError, AuditEvent, AuditLog};
use crate::discovery::Email;

pub use access::ConsoleAdmin;
pub use groups::{Group, GroupPatch, Groups, Member};
pub use tenants::{DomainStatus, IdpReport, MetadataReport, Saved, TenantAdmin, TenantAdminParts};
pub use tokens::{ApiToken, Scope, Tokens};
pub use users::{UserPatch, Users};

/// Errors of the management operations. [`AdminError::kind`] is what the web edge maps
/// to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request is not acceptable as given (400 `invalid`).
    #[error("{0}")]
    Invalid(String),
    /// A user change the account's rules refuse (400 `invalid`): a foreign domain, a CSV
    /// that cannot be read.
    #[error("{0}")]
    InvalidUser(#[source] AccountsError),
    /// The actor may not do this (403 `forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// The signed-in person is not an active administrator of the account whose console
    /// they asked for (403): the log's reason says which of those it is.
    #[error("{0}")]
    NotAdmin(String),
    /// A sensitive change by an administrator whose sign-in is older than
    /// [`access::RECENT_SIGN_IN_MINUTES`] (403): they must sign in again first.
    #[error(
        "signed in {minutes} minutes ago; this change needs a sign-in of the last {} minutes",
        access::RECENT_SIGN_IN_MINUTES
    )]
    StaleSignIn {
        /// How long ago they signed in.
        minutes: i64,
    },
    /// No such thing in this account (404 `not_found`); also for another account's.
    #[error("not found: {0}")]
    NotFound(String),
    /// The change collides with what exists (409 `conflict`).
    #[error("{0}")]
    Conflict(String),
    /// A user change that collides with another user (409 `conflict`).
    #[error("{0}")]
    UserConflict(#[source] AccountsError),
    /// The user store failed (503).
    #[error("user store: {0}")]
    Accounts(#[source] AccountsError),
    /// The audit log failed; the change it was to record may have been made (503).
    #[error("{0}")]
    Audit(#[from] AuditError),
    /// A tenant that does not pass the tenant file check (400 `invalid`), every problem
    /// in `check`'s words.
    #[error("the tenant has {} problem(s)", .0.len())]
    InvalidTenant(Vec<String>),
    /// An account or domains another tenant holds (409 `conflict`), each listed, never
    /// naming that tenant.
    #[error("{}", .0.join("; "))]
    Taken(Vec<String>),
    /// A tenant of the operator's files (or `tenant import`): read-only here (409
    /// `managed_in_file`); names the file.
    #[error("the tenant is managed in {0}; change it there")]
    ManagedInFile(String),
    /// An OAuth client registration with problems (400 `invalid`), each listed in the
    /// words `check` uses for `[[oauth_clients]]`.
    #[error("the client has {} problem(s)", .0.len())]
    InvalidClient(Vec<String>),
    /// An OAuth client of the configuration's `[[oauth_clients]]`: read-only here (409
    /// `managed_in_file`).
    #[error(
        "client {0:?} is managed in the configuration file ([[oauth_clients]]); change it there"
    )]
    ClientInFile(String),
    /// The tenant source could not answer (503).
    #[error(transparent)]
    Directory(#[from] crate::discovery::DirectoryError),
    /// A stored token or group row this version cannot read (503).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The token or group tables failed (503).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The session store, which holds one-time links, failed (503).
    #[error("{0}")]
    Store(#[source] crate::session::StoreError),
}

/// The classes of [`AdminError`], one per HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 `invalid`.
    Invalid,
    /// 403 `forbidden`.
    Forbidden,
    /// 404 `not_found`.
    NotFound,
    /// 409 `conflict`.
    Conflict,
    /// 409 `managed_in_file`.
    ManagedInFile,
    /// 503: the database, not the request.
    Unavailable,
}

impl AdminError {
    /// The class the web edge answers with.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_)
            | Self::InvalidUser(_)
            | Self::InvalidTenant(_)
            | Self::InvalidClient(_) => ErrorKind::Invalid,
            Self::ManagedInFile(_) | Self::ClientInFile(_) => ErrorKind::ManagedInFile,
            Self::Forbidden(_) | Self::NotAdmin(_) | Self::StaleSignIn { .. } => {
                ErrorKind::Forbidden
            }
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Conflict(_) | Self::UserConflict(_) | Self::Taken(_) => ErrorKind::Conflict,
            Self::Accounts(_)
            | Self::Audit(_)
            | Self::Corrupt(_)
            | Self::Database(_)
            | Self::Store(_)
            | Self::Directory(_) => ErrorKind::Unavailable,
        }
    }

    /// The problems an answer lists: each of a tenant's, else the one message of a
    /// refused request.
    pub fn problems(&self) -> Vec<String> {
        match self {
            Self::InvalidTenant(list) | Self::InvalidClient(list) | Self::Taken(list) => {
                list.clone()
            }
            e => vec![e.to_string()],
        }
    }
}

impl From<AccountsError> for AdminError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Exists { .. }
            | AccountsError::SubjectInUse { .. }
            | AccountsError::ExternalIdInUse { .. } => Self::UserConflict(e),
            AccountsError::ForeignDomain { .. }
            | AccountsError::WeakPassword
            | AccountsError::Import(_) => Self::InvalidUser(e),
            AccountsError::NotFound(what) => Self::NotFound(what),
            e => Self::Accounts(e),
        }
    }
}

/// Who makes a change, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The operator at the server's command line.
    Cli,
    /// An API token, by name.
    Token(String),
    /// A signed-in administrator (the console).
    User(Email),
    /// The gateway itself, on its own schedule (the re-check of DNS proofs).
    Gateway,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli => f.write_str("cli"),
            Self::Token(name) => f.write_str(name),
            Self::User(email) => write!(f, "user:{email}"),
            Self::Gateway => f.write_str("gateway"),
        }
    }
}

/// The management operations over one database.
#[derive(Clone)]
pub struct Admin {
    /// Users of every tenant.
    pub users: Users,
    /// API tokens.
    pub tokens: Tokens,
    /// SCIM groups.
    pub groups: Groups,
    /// The audit log the operations write.
    pub audit: AuditLog,
}

impl Admin {
    /// The operations over `store` (its users and, in the same database, tokens and log).
    pub fn new(store: SqlUserStore) -> Self {
        let pool = store.pool();
        let users: Arc<dyn UserStore> = Arc::new(store);
        Self::over(users, pool)
    }

    /// The operations over `users` and the database `pool` that holds them.
    pub fn over(users: Arc<dyn UserStore>, pool: Pool) -> Self {
        let audit = AuditLog::new(pool.clone());
        Self {
            users: Users::new(users, audit.clone()),
            tokens: Tokens::new(pool.clone(), audit.clone()),
            groups: Groups::new(pool, audit.clone()),
            audit,
        }
    }

    /// The same operations, mailing the people they concern (see [`Users::with_mail`]).
    pub fn with_mail(
        mut self,
        outreach: crate::mail::Outreach,
        links: crate::session::Links,
    ) -> Self {
        self.users = self.users.with_mail(outreach, links);
        self
    }

    /// Opens (and migrates) the database of `database_url`: what start-up and the CLI call.
    pub async fn open(database_url: &str) -> Result<Self, AdminError> {
        Ok(Self::new(accounts::open(database_url).await?))
    }
}

/// Now, to the microsecond PostgreSQL keeps, so what an operation returns equals what a
/// later read gives.
fn stored_now() -> chrono::DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 6)
}

/// Records one change by `actor`.
async fn record(
    audit: &AuditLog,
    actor: &Actor,
    account: Option<&str>,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), AdminError> {
    audit
        .record(AuditEvent {
            id: 0,
            at: stored_now(),
            actor: actor.to_string(),
            account: account.map(str::to_string),
            action: action.to_string(),
            target: target.to_string(),
            before,
            after,
        })
        .await?;
    Ok(())
}

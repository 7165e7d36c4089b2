//! Users of every tenant: who may log in, how, and in which state.
//!
//! # Layout
//! - this file: the [`User`] model, the [`UserStore`] trait and [`AccountsError`];
//! - [`sql`]: [`SqlUserStore`], the trait on SQLite (the embedded default) and PostgreSQL;
//! - [`password`]: Argon2id hashing off the async runtime, with a dummy hash for constant work;
//! - [`jit`]: what a verified SAML identity means for the user table (SPEC security rule 9);
//! - [`import`]: CSV import of pre-provisioned users;
//! - [`clients`]: the OAuth clients of the management API, in the same database.

pub mod clients;
pub mod import;
pub mod jit;
pub mod password;
pub mod provision;
pub mod sql;
pub mod tenants;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::discovery::Email;
use crate::i18n::Lang;

pub use import::{ImportSummary, import_csv};
pub use jit::{Decision, Outcome, Refusal, decide, resolve};
pub use password::Passwords;
pub use provision::{MIN_PASSWORD_CHARS, add_by_hand, rename};
pub use sql::{Pool, SqlUserStore, open};

/// Errors of the accounts module. Messages are for operators (CLI and logs); the web edge
/// maps them to stable codes without showing internals.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// A user with this email (compared case-insensitively) already exists in the account.
    #[error("a user with email {email} already exists in account {account}")]
    Exists {
        /// Tenant slug.
        account: String,
        /// The address that collided.
        email: String,
    },
    /// The IdP subject is already bound to another user of the account.
    #[error("this IdP subject is already bound to another user of account {account}")]
    SubjectInUse {
        /// Tenant slug.
        account: String,
    },
    /// The provisioning id is already another user's in the account.
    #[error("external id {external_id:?} is already another user's in account {account}")]
    ExternalIdInUse {
        /// Tenant slug.
        account: String,
        /// The id that collided.
        external_id: String,
    },
    /// No such user.
    #[error("no such user: {0}")]
    NotFound(String),
    /// The database URL is not one we can open.
    #[error(
        "unsupported database_url {0:?}: use sqlite://path/to/file.db or postgres://user@host/db"
    )]
    BadUrl(String),
    /// The SQLite directory could not be created.
    #[error(
        "cannot create the database directory {path}: {source}; check data_dir and its permissions"
    )]
    DataDir {
        /// Directory that could not be created.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Schema migrations failed.
    #[error(
        "database migration failed: {0}; is the database shared with an incompatible realmgate version?"
    )]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Concurrent logins kept changing the same user; the person may simply retry.
    #[error("{0}")]
    Contended(String),
    /// A stored row holds a value this version cannot read.
    #[error("corrupt user row: {0}")]
    Corrupt(String),
    /// The account or a domain of a tenant being written is another tenant's (the message
    /// never names that tenant).
    #[error("{0}")]
    TenantTaken(String),
    /// A stored tenant no longer passes the tenant file check.
    #[error("stored tenant: {0}")]
    BadTenant(crate::config::Problem),
    /// A client id another client (of the database) already has.
    #[error("client_id {0:?} is taken")]
    ClientTaken(String),
    /// A stored OAuth client no longer passes the registration check.
    #[error("stored OAuth client {client_id:?}: {problem}")]
    BadClient {
        /// The client.
        client_id: String,
        /// What is wrong with its row.
        problem: String,
    },
    /// The change notice to the other gateways could not be queued.
    #[error("tenant change notice: {0}")]
    Announce(#[source] crate::discovery::DirectoryError),
    /// Hashing failed (never carries the password).
    #[error("password hashing failed: {0}")]
    Password(String),
    /// A user added by hand with an address outside the tenant's domains.
    #[error("{domain} is not one of account {account}'s domains ({domains})")]
    ForeignDomain {
        /// Tenant slug.
        account: String,
        /// The address's domain.
        domain: String,
        /// The tenant's domains, comma-separated.
        domains: String,
    },
    /// A password shorter than [`MIN_PASSWORD_CHARS`].
    #[error("use a password of at least {} characters", MIN_PASSWORD_CHARS)]
    WeakPassword,
    /// A CSV file that cannot be imported at all (as opposed to single bad rows).
    #[error("cannot import: {0}")]
    Import(String),
}

/// Whether a user may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// May log in.
    Active,
    /// Created just in time; waits for an administrator's approval (the Waiting Room).
    Waiting,
    /// Refused at every login.
    Disabled,
}

/// How a user came to exist; kept for audits ("who created this account?").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// `realmgate user add`.
    Cli,
    /// `realmgate user import`.
    Import,
    /// Just-in-time at an SSO login.
    Jit,
    /// The management API (`POST /api/v1/tenants/{account}/users`).
    Api,
    /// SCIM provisioning (`POST /scim/v2/{account}/Users`).
    Scim,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The name stored in the database and shown by the CLI.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = AccountsError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(AccountsError::Corrupt(format!(
                        concat!("unknown ", stringify!($ty), " {:?}"), other
                    ))),
                }
            }
        }
    };
}

text_enum!(Status { Active => "active", Waiting => "waiting", Disabled => "disabled" });
text_enum!(Origin { Cli => "cli", Import => "import", Jit => "jit", Api => "api", Scim => "scim" });

/// A user of one tenant (account).
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Tenant slug.
    pub account: String,
    /// Address as first given (domain normalised by [`Email::parse`]).
    pub email: Email,
    /// Display name; may be empty.
    pub name: String,
    /// Whether the user may log in.
    pub status: Status,
    /// Argon2id PHC string; `None` for SSO users, who have no local password.
    pub password_hash: Option<String>,
    /// May use `/{account}/no-sso` and approve users.
    pub admin: bool,
    /// How the user was created.
    pub origin: Origin,
    /// IdP NameID bound at the first SSO login; later logins must present the same one.
    pub subject: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// The provisioning client's (SCIM `externalId`) id for the user; unique per account.
    pub external_id: Option<String>,
    /// The parts of the name a provisioning client gave (SCIM `name`).
    pub name_parts: NameParts,
    /// The person's email addresses as the provisioning client gave them (SCIM `emails`).
    /// Only `email` logs in and is mailed: these are the client's record, read back to it.
    pub emails: Vec<UserEmail>,
    /// The language of the user's last sign-in or request, for the mail sent to them;
    /// `None` until one is seen.
    pub lang: Option<Lang>,
}

/// The parts of a person's name (SCIM `name`, RFC 7643 §4.1.1), each kept as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameParts {
    /// First name.
    pub given: Option<String>,
    /// Last name.
    pub family: Option<String>,
    /// The whole name as displayed.
    pub formatted: Option<String>,
}

impl NameParts {
    /// Whether no part is set (SCIM: `name` is unassigned).
    pub fn is_empty(&self) -> bool {
        self.given.is_none() && self.family.is_none() && self.formatted.is_none()
    }
}

/// One of a person's email addresses (SCIM `emails`, RFC 7643 §4.1.2), as given; also the
/// SCIM core's JSON of one (`value` missing parses as empty, which the core refuses).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserEmail {
    /// The address, as text: a client's record, not checked as a login address.
    #[serde(default)]
    pub value: String,
    /// `work`, `home`, `other`, or the client's own word.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the client marked it preferred; absent when it said nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

impl UserEmail {
    /// The login address as the primary work email: what a user made outside provisioning
    /// starts with, so the SCIM view of every user names their address.
    pub fn primary_work(email: &Email) -> Self {
        Self {
            value: email.as_str().to_string(),
            kind: Some("work".into()),
            primary: Some(true),
        }
    }
}

/// Debug without the password hash: hashes are secrets too (offline guessing).
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("status", &self.status)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<set>"),
            )
            .field("admin", &self.admin)
            .field("origin", &self.origin)
            .field("subject", &self.subject)
            .field("created_at", &self.created_at)
            .field("last_login_at", &self.last_login_at)
            .field("external_id", &self.external_id)
            .field("name_parts", &self.name_parts)
            .field("emails", &self.emails)
            .field("lang", &self.lang)
            .finish()
    }
}

/// What [`UserStore::add`] needs.
#[derive(Clone)]
pub struct NewUser {
    /// Tenant slug.
    pub account: String,
    /// Address.
    pub email: Email,
    /// Display name; may be empty.
    pub name: String,
    /// Initial status.
    pub status: Status,
    /// Argon2id PHC string, from [`Passwords::hash`].
    pub password_hash: Option<String>,
    /// Administrator of the account.
    pub admin: bool,
    /// How the user is being created.
    pub origin: Origin,
    /// IdP subject, when created from an SSO login.
    pub subject: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Parts of the name (SCIM `name`).
    pub name_parts: NameParts,
    /// Email addresses (SCIM `emails`).
    pub emails: Vec<UserEmail>,
}

impl NewUser {
    /// An active user without password or subject: the usual pre-provisioned SSO user,
    /// whose one email is the login address as primary work email.
    pub fn new(account: &str, email: Email, origin: Origin, now: DateTime<Utc>) -> Self {
        Self {
            account: account.to_string(),
            emails: vec![UserEmail::primary_work(&email)],
            name_parts: NameParts::default(),
            email,
            name: String::new(),
            status: Status::Active,
            password_hash: None,
            admin: false,
            origin,
            subject: None,
            created_at: now,
        }
    }
}

/// Which users [`UserStore::page`] returns: all filters optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only users in this status.
    pub status: Option<Status>,
    /// Only the user with this email (case-insensitive).
    pub email: Option<Email>,
    /// Only the user with this provisioning id.
    pub external_id: Option<String>,
    /// Only administrators (`true`) or only the others (`false`).
    pub admin: Option<bool>,
    /// Only users whose email or name contains this text, in any letter case (the
    /// console's search box). Letter case of names is folded by the database: SQLite folds
    /// ASCII letters only.
    pub search: Option<String>,
    /// At most this many users.
    pub limit: u32,
    /// Skipping this many first (by email): SCIM's `startIndex` and the API's `offset`.
    pub offset: u64,
    /// Where the page starts, for lists walked page by page (the console).
    pub cursor: Option<Cursor>,
}

/// A keyset page's edge: the users just after, or just before, a login address (its
/// [`email_key`]), still in email order. A deep page then costs what the first does,
/// where an `offset` reads and drops every user before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The page after this address (a "Next" link).
    After(String),
    /// The page before this address (a "Previous" link).
    Before(String),
}

/// One page of users and how many match in all (SCIM's `totalResults`, the API's `total`).
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The users of this page, by email.
    pub users: Vec<User>,
    /// All users matching the filters, across pages.
    pub total: u64,
}

/// The key used for case-insensitive email matching. Computed here, not by SQL `lower()`,
/// so SQLite (ASCII-only `lower`) and PostgreSQL agree on every address.
pub fn email_key(email: &Email) -> String {
    email.as_str().to_lowercase()
}

/// Storage of users. Object safe: the application holds an `Arc<dyn UserStore>`.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user; [`AccountsError::Exists`] when the account already has the email in
    /// any letter case, [`AccountsError::SubjectInUse`] when the subject is taken.
    async fn add(&self, user: NewUser) -> Result<User, AccountsError>;

    /// The user of `account` with this email, compared case-insensitively.
    async fn by_email(&self, account: &str, email: &Email) -> Result<Option<User>, AccountsError>;

    /// The user with this id.
    async fn by_id(&self, id: i64) -> Result<Option<User>, AccountsError>;

    /// The user of `account` bound to this IdP subject.
    async fn by_subject(&self, account: &str, subject: &str)
    -> Result<Option<User>, AccountsError>;

    /// Users, optionally of one account and/or in one status, by account then email.
    async fn list(
        &self,
        account: Option<&str>,
        status: Option<Status>,
    ) -> Result<Vec<User>, AccountsError>;

    /// Approves, disables or re-enables a user; [`AccountsError::NotFound`] when absent.
    async fn set_status(
        &self,
        account: &str,
        email: &Email,
        status: Status,
    ) -> Result<User, AccountsError>;

    /// Updates display name and admin flag (CSV import).
    async fn set_profile(&self, id: i64, name: &str, admin: bool) -> Result<(), AccountsError>;

    /// One page of `account`'s users matching `query`, with the total count.
    async fn page(&self, account: &str, query: &UserQuery) -> Result<UserPage, AccountsError>;

    /// Changes the login address (a SCIM rename); [`AccountsError::Exists`] when another
    /// user of the account has it. The bound IdP subject stays: the person is the same.
    async fn set_email(&self, id: i64, email: &Email) -> Result<(), AccountsError>;

    /// Replaces the parts of the name and the email addresses (a SCIM write).
    async fn set_details(
        &self,
        id: i64,
        name_parts: &NameParts,
        emails: &[UserEmail],
    ) -> Result<(), AccountsError>;

    /// Sets or (with `None`) clears the provisioning id; [`AccountsError::ExternalIdInUse`]
    /// when another user of the account has it.
    async fn set_external_id(
        &self,
        id: i64,
        external_id: Option<&str>,
    ) -> Result<(), AccountsError>;

    /// Removes the user; false when there was none. Sessions end at their next check
    /// (the user no longer reads as active) and refresh tokens are refused the same way.
    async fn delete(&self, id: i64) -> Result<bool, AccountsError>;

    /// Binds the IdP subject when the user has none yet; false when one was already bound
    /// (possibly by a concurrent login): the caller re-reads and decides again.
    async fn bind_subject(&self, id: i64, subject: &str) -> Result<bool, AccountsError>;

    /// Sets or (with `None`) removes the local password.
    async fn set_password_hash(&self, id: i64, hash: Option<&str>) -> Result<(), AccountsError>;

    /// Remembers the language the user last signed in or asked in.
    async fn set_lang(&self, id: i64, lang: Lang) -> Result<(), AccountsError>;

    /// Notes a successful login.
    async fn record_login(&self, id: i64, now: DateTime<Utc>) -> Result<(), AccountsError>;

    /// Whether the database answers; used by `/readyz`.
    async fn ping(&self) -> Result<(), AccountsError>;
}

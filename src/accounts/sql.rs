//! [`UserStore`] on SQLite (embedded default) and PostgreSQL (shared by instances).
//!
//! One struct over an enum of pools rather than `sqlx::Any`: both drivers decode
//! `DateTime<Utc>` natively, and the SQL text is shared because every statement uses `$n`
//! placeholders, which both databases accept. The `with_pool!` macro expands one body
//! for each pool type, so no statement is written twice.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::{
    AccountsError, Cursor, NameParts, NewUser, Status, User, UserEmail, UserPage, UserQuery,
    UserStore, email_key,
};
use crate::discovery::Email;
use crate::i18n::Lang;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a request waits for a pooled SQLite connection, and for SQLite's write lock,
/// before failing (503, not a hang).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The same for PostgreSQL, shorter: while the server is down, sqlx keeps retrying the
/// refused connection until this runs out, so it is how long every login and `/readyz`
/// hangs during an outage. One second, like the Redis store's call timeout, still leaves
/// room to open a connection to a healthy server and to queue behind a busy pool.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// The columns of [`UserRow`], in a macro so `concat!` can build `&'static str` SQL.
macro_rules! columns {
    () => {
        "id, account, email, name, status, password_hash, admin, origin, subject, created_at, last_login_at, external_id, given_name, family_name, formatted_name, emails, lang"
    };
}

const SELECT_BY_ID: &str = concat!("SELECT ", columns!(), " FROM users WHERE id = $1");
const SELECT_BY_EMAIL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM users WHERE account = $1 AND email_lower = $2"
);
const SELECT_BY_SUBJECT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM users WHERE account = $1 AND subject = $2"
);
const SELECT_LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM users WHERE ($1 IS NULL OR account = $1) AND ($2 IS NULL OR status = $2)",
    " ORDER BY account, email_lower"
);
const INSERT: &str = concat!(
    "INSERT INTO users (account, email, email_lower, name, status, password_hash, admin,",
    " origin, subject, created_at, given_name, family_name, formatted_name, emails)",
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ",
    columns!()
);
const UPDATE_STATUS: &str = concat!(
    "UPDATE users SET status = $1 WHERE account = $2 AND email_lower = $3 RETURNING ",
    columns!()
);
/// The `WHERE` clause of [`UserQuery`]: the account (`$1`) and then only the filters
/// the query sets, in [`UserQuery`]'s order, each its next placeholder. Built per filter
/// set rather than as `($n IS NULL OR col = $n)`, which keeps both planners from using
/// the `(account, status, email_lower)` index for a status (so every page and count walked
/// the whole account). The search's `LIKE` pattern is escaped by [`like_pattern`].
/// Returns the clause and the number of its last placeholder. Only fixed text and
/// placeholder numbers go into it (every value is bound), hence its `AssertSqlSafe`.
///
/// The search folds the name's letter case with `lower(name)` on PostgreSQL; SQLite's
/// `LIKE` already ignores the case of ASCII letters, the only ones its `lower` folds, so
/// there `name LIKE` matches the same rows without a `lower` call per row of the scan.
fn page_filter(query: &UserQuery, search: bool, sqlite: bool) -> (String, usize) {
    let mut sql = String::from(" FROM users WHERE account = $1");
    let mut n = 1;
    let mut next = || {
        n += 1;
        n
    };
    if query.status.is_some() {
        sql.push_str(&format!(" AND status = ${}", next()));
    }
    if query.email.is_some() {
        sql.push_str(&format!(" AND email_lower = ${}", next()));
    }
    if query.external_id.is_some() {
        sql.push_str(&format!(" AND external_id = ${}", next()));
    }
    if query.admin.is_some() {
        sql.push_str(&format!(" AND admin = ${}", next()));
    }
    if search {
        let n = next();
        let name = if sqlite { "name" } else { "lower(name)" };
        sql.push_str(&format!(
            " AND (email_lower LIKE ${n} ESCAPE '!' OR {name} LIKE ${n} ESCAPE '!')"
        ));
    }
    (sql, n)
}

const UPDATE_EXTERNAL_ID: &str = "UPDATE users SET external_id = $1 WHERE id = $2";
const DELETE: &str = "DELETE FROM users WHERE id = $1";
const UPDATE_EMAIL: &str = "UPDATE users SET email = $1, email_lower = $2 WHERE id = $3";
const UPDATE_DETAILS: &str = "UPDATE users SET given_name = $1, family_name = $2, \
    formatted_name = $3, emails = $4 WHERE id = $5";
const UPDATE_PROFILE: &str = "UPDATE users SET name = $1, admin = $2 WHERE id = $3";
const BIND_SUBJECT: &str = "UPDATE users SET subject = $1 WHERE id = $2 AND subject IS NULL";
const UPDATE_PASSWORD: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";
const UPDATE_LOGIN: &str = "UPDATE users SET last_login_at = $1 WHERE id = $2";
const UPDATE_LANG: &str = "UPDATE users SET lang = $1 WHERE id = $2";

/// The LIKE pattern matching text that contains `needle` (lower-cased), with LIKE's
/// wildcards in it escaped: a search for `a_b` finds `a_b`, not `axb`.
fn like_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A row as stored; converted to [`User`] after checking the enum columns.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    account: String,
    email: String,
    name: String,
    status: String,
    password_hash: Option<String>,
    admin: bool,
    origin: String,
    subject: Option<String>,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    external_id: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    formatted_name: Option<String>,
    emails: String,
    lang: Option<String>,
}

/// The `emails` column: a JSON array of [`UserEmail`].
fn emails_json(emails: &[UserEmail]) -> String {
    serde_json::to_string(emails).unwrap_or_else(|_| "[]".into())
}

impl TryFrom<UserRow> for User {
    type Error = AccountsError;

    fn try_from(r: UserRow) -> Result<Self, Self::Error> {
        let emails = serde_json::from_str(&r.emails)
            .map_err(|e| AccountsError::Corrupt(format!("user {}: emails: {e}", r.id)))?;
        Ok(User {
            id: r.id,
            email: Email::parse(&r.email)
                .map_err(|e| AccountsError::Corrupt(format!("user {}: email: {e}", r.id)))?,
            account: r.account,
            name: r.name,
            status: r.status.parse()?,
            password_hash: r.password_hash,
            admin: r.admin,
            origin: r.origin.parse()?,
            subject: r.subject,
            created_at: r.created_at,
            last_login_at: r.last_login_at,
            external_id: r.external_id,
            name_parts: NameParts {
                given: r.given_name,
                family: r.family_name,
                formatted: r.formatted_name,
            },
            emails,
            lang: r.lang.as_deref().and_then(Lang::from_tag),
        })
    }
}

/// The users' database, shared with the stores kept beside the users (audit log, API
/// tokens, SCIM groups): one database to back up, one set of migrations.
#[derive(Clone, Debug)]
pub enum Pool {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// Shared by instances.
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to whichever pool `$store.pool` (a [`Pool`]) is: the body
/// is compiled once per database type, written once.
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::accounts::Pool::Sqlite($p) => $body,
            $crate::accounts::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Users in SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SqlUserStore {
    pool: Pool,
}

/// Opens the database named by `database_url` (`sqlite://…` or `postgres://…`) and applies
/// pending migrations. For SQLite, the file and its directory are created when missing.
pub async fn open(database_url: &str) -> Result<SqlUserStore, AccountsError> {
    if database_url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(database_url)?;
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
        SqlUserStore::sqlite(options, in_memory).await
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        SqlUserStore::postgres(PgConnectOptions::from_str(database_url)?).await
    } else {
        Err(AccountsError::BadUrl(database_url.to_string()))
    }
}

impl SqlUserStore {
    /// SQLite with `options`. An in-memory database lives only as long as its connection,
    /// so it gets a single connection that is never recycled.
    pub async fn sqlite(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<Self, AccountsError> {
        let mut options = options
            .create_if_missing(true)
            .busy_timeout(ACQUIRE_TIMEOUT);
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                create_dir(dir)?;
            }
            // WAL lets readers (forward-auth) proceed while a login writes.
            options = options.journal_mode(SqliteJournalMode::Wal);
            SqlitePoolOptions::new().max_connections(8)
        };
        let pool = pool
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
        })
    }

    /// PostgreSQL with `options` (set `search_path` there to use another schema).
    pub async fn postgres(options: PgConnectOptions) -> Result<Self, AccountsError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(Self {
            pool: Pool::Postgres(pool),
        })
    }

    /// The database under the users, for the stores kept beside them.
    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// Closes every pooled connection (graceful shutdown, tests dropping their schema).
    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }

    /// One user by `(account, value)`: the email key or the subject, per `sql`.
    async fn fetch_by(
        &self,
        sql: &'static str,
        account: &str,
        value: &str,
    ) -> Result<Option<User>, AccountsError> {
        let row: Option<UserRow> = with_pool!(self, p => {
            sqlx::query_as::<_, UserRow>(sql)
                .bind(account)
                .bind(value)
                .fetch_optional(p)
                .await?
        });
        row.map(User::try_from).transpose()
    }

    /// Runs an `UPDATE … SET x = $1 WHERE id = $2`, returning the rows changed.
    async fn execute(
        &self,
        sql: &'static str,
        id: i64,
        value: Option<&str>,
    ) -> Result<u64, AccountsError> {
        Ok(with_pool!(self, p => sqlx::query(sql)
            .bind(value)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected()))
    }
}

fn create_dir(dir: &Path) -> Result<(), AccountsError> {
    std::fs::create_dir_all(dir).map_err(|source| AccountsError::DataDir {
        path: dir.display().to_string(),
        source,
    })
}

/// Maps a unique-constraint violation to the domain error it means.
fn conflict(e: sqlx::Error, user: &NewUser) -> AccountsError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let about_subject = db.constraint().is_some_and(|c| c.contains("subject"))
            || db.message().contains("subject");
        return if about_subject {
            AccountsError::SubjectInUse {
                account: user.account.clone(),
            }
        } else {
            AccountsError::Exists {
                account: user.account.clone(),
                email: user.email.to_string(),
            }
        };
    }
    AccountsError::Database(e)
}

#[async_trait]
impl UserStore for SqlUserStore {
    async fn add(&self, user: NewUser) -> Result<User, AccountsError> {
        let key = email_key(&user.email);
        let emails = emails_json(&user.emails);
        let result: Result<UserRow, sqlx::Error> = with_pool!(self, p => {
            sqlx::query_as::<_, UserRow>(INSERT)
                .bind(&user.account)
                .bind(user.email.as_str())
                .bind(&key)
                .bind(&user.name)
                .bind(user.status.as_str())
                .bind(user.password_hash.as_deref())
                .bind(user.admin)
                .bind(user.origin.as_str())
                .bind(user.subject.as_deref())
                .bind(user.created_at)
                .bind(user.name_parts.given.as_deref())
                .bind(user.name_parts.family.as_deref())
                .bind(user.name_parts.formatted.as_deref())
                .bind(&emails)
                .fetch_one(p)
                .await
        });
        result.map_err(|e| conflict(e, &user))?.try_into()
    }

    async fn by_email(&self, account: &str, email: &Email) -> Result<Option<User>, AccountsError> {
        let key = email_key(email);
        self.fetch_by(SELECT_BY_EMAIL, account, &key).await
    }

    async fn by_id(&self, id: i64) -> Result<Option<User>, AccountsError> {
        let row: Option<UserRow> = with_pool!(self, p => {
            sqlx::query_as::<_, UserRow>(SELECT_BY_ID).bind(id).fetch_optional(p).await?
        });
        row.map(User::try_from).transpose()
    }

    async fn by_subject(
        &self,
        account: &str,
        subject: &str,
    ) -> Result<Option<User>, AccountsError> {
        self.fetch_by(SELECT_BY_SUBJECT, account, subject).await
    }

    async fn list(
        &self,
        account: Option<&str>,
        status: Option<Status>,
    ) -> Result<Vec<User>, AccountsError> {
        let status = status.map(Status::as_str);
        let rows: Vec<UserRow> = with_pool!(self, p => {
            sqlx::query_as::<_, UserRow>(SELECT_LIST)
                .bind(account)
                .bind(status)
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(User::try_from).collect()
    }

    async fn set_status(
        &self,
        account: &str,
        email: &Email,
        status: Status,
    ) -> Result<User, AccountsError> {
        let key = email_key(email);
        let row: Option<UserRow> = with_pool!(self, p => {
            sqlx::query_as::<_, UserRow>(UPDATE_STATUS)
                .bind(status.as_str())
                .bind(account)
                .bind(&key)
                .fetch_optional(p)
                .await?
        });
        row.ok_or_else(|| AccountsError::NotFound(format!("{email} in account {account}")))?
            .try_into()
    }

    async fn set_profile(&self, id: i64, name: &str, admin: bool) -> Result<(), AccountsError> {
        let done = with_pool!(self, p => sqlx::query(UPDATE_PROFILE)
            .bind(name)
            .bind(admin)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        if done == 0 {
            return Err(AccountsError::NotFound(format!("user id {id}")));
        }
        Ok(())
    }

    async fn page(&self, account: &str, query: &UserQuery) -> Result<UserPage, AccountsError> {
        let status = query.status.map(Status::as_str);
        let email = query.email.as_ref().map(email_key);
        let external_id = query.external_id.as_deref();
        let search = query
            .search
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        let sqlite = matches!(self.pool, Pool::Sqlite(_));
        let (filter, placeholders) = page_filter(query, search.is_some(), sqlite);
        // The cursor narrows the page's rows, not the count; walking back reads the rows
        // before it nearest first, then turns them round.
        let (edge, order, key) = match &query.cursor {
            None => (String::new(), "", None),
            Some(Cursor::After(k)) => (
                format!(" AND email_lower > ${}", placeholders + 1),
                "",
                Some(k),
            ),
            Some(Cursor::Before(k)) => (
                format!(" AND email_lower < ${}", placeholders + 1),
                " DESC",
                Some(k),
            ),
        };
        let last = placeholders + usize::from(key.is_some());
        let select = format!(
            "SELECT {}{filter}{edge} ORDER BY email_lower{order} LIMIT ${} OFFSET ${}",
            columns!(),
            last + 1,
            last + 2
        );
        let count = format!("SELECT COUNT(*){filter}");
        let limit = i64::from(query.limit);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        // Binds the account and the filters present, in `page_filter`'s order.
        macro_rules! bind_filters {
            ($q:expr) => {{
                let mut q = $q.bind(account);
                if let Some(s) = status {
                    q = q.bind(s);
                }
                if let Some(e) = email.as_deref() {
                    q = q.bind(e);
                }
                if let Some(x) = external_id {
                    q = q.bind(x);
                }
                if let Some(a) = query.admin {
                    q = q.bind(a);
                }
                if let Some(s) = search.as_deref() {
                    q = q.bind(s);
                }
                q
            }};
        }
        let (mut rows, total): (Vec<UserRow>, i64) = with_pool!(self, p => {
            let mut select = bind_filters!(sqlx::query_as::<_, UserRow>(AssertSqlSafe(select.as_str())));
            if let Some(k) = key {
                select = select.bind(k.as_str());
            }
            let rows = select.bind(limit).bind(offset).fetch_all(p).await?;
            // A page by offset short of the limit that is not past the end is the last one:
            // the total is known without counting (a search's count is a second scan). A
            // cursor's page says nothing of the rows on its other side.
            let short = key.is_none()
                && rows.len() < query.limit as usize
                && (!rows.is_empty() || offset == 0);
            let total = if short {
                offset.saturating_add(rows.len() as i64)
            } else {
                bind_filters!(sqlx::query_scalar(AssertSqlSafe(count.as_str())))
                    .fetch_one(p)
                    .await?
            };
            (rows, total)
        });
        if matches!(query.cursor, Some(Cursor::Before(_))) {
            rows.reverse();
        }
        Ok(UserPage {
            users: rows
                .into_iter()
                .map(User::try_from)
                .collect::<Result<_, _>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn set_email(&self, id: i64, email: &Email) -> Result<(), AccountsError> {
        let done: Result<u64, sqlx::Error> = with_pool!(self, p => sqlx::query(UPDATE_EMAIL)
            .bind(email.as_str())
            .bind(email_key(email))
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()));
        match done {
            Ok(0) => Err(AccountsError::NotFound(format!("user id {id}"))),
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                let account = self.by_id(id).await?.map(|u| u.account).unwrap_or_default();
                Err(AccountsError::Exists {
                    account,
                    email: email.to_string(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn set_details(
        &self,
        id: i64,
        name_parts: &NameParts,
        emails: &[UserEmail],
    ) -> Result<(), AccountsError> {
        let emails = emails_json(emails);
        let done = with_pool!(self, p => sqlx::query(UPDATE_DETAILS)
            .bind(name_parts.given.as_deref())
            .bind(name_parts.family.as_deref())
            .bind(name_parts.formatted.as_deref())
            .bind(&emails)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        if done == 0 {
            return Err(AccountsError::NotFound(format!("user id {id}")));
        }
        Ok(())
    }

    async fn set_external_id(
        &self,
        id: i64,
        external_id: Option<&str>,
    ) -> Result<(), AccountsError> {
        match self.execute(UPDATE_EXTERNAL_ID, id, external_id).await {
            Ok(0) => Err(AccountsError::NotFound(format!("user id {id}"))),
            Ok(_) => Ok(()),
            Err(AccountsError::Database(sqlx::Error::Database(db))) if db.is_unique_violation() => {
                let account = self.by_id(id).await?.map(|u| u.account).unwrap_or_default();
                Err(AccountsError::ExternalIdInUse {
                    account,
                    external_id: external_id.unwrap_or_default().to_string(),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, id: i64) -> Result<bool, AccountsError> {
        let done =
            with_pool!(self, p => sqlx::query(DELETE).bind(id).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    async fn bind_subject(&self, id: i64, subject: &str) -> Result<bool, AccountsError> {
        match self.execute(BIND_SUBJECT, id, Some(subject)).await {
            Ok(n) => Ok(n == 1),
            Err(AccountsError::Database(sqlx::Error::Database(db))) if db.is_unique_violation() => {
                let account = self.by_id(id).await?.map(|u| u.account).unwrap_or_default();
                Err(AccountsError::SubjectInUse { account })
            }
            Err(e) => Err(e),
        }
    }

    async fn set_password_hash(&self, id: i64, hash: Option<&str>) -> Result<(), AccountsError> {
        if self.execute(UPDATE_PASSWORD, id, hash).await? == 0 {
            return Err(AccountsError::NotFound(format!("user id {id}")));
        }
        Ok(())
    }

    async fn record_login(&self, id: i64, now: DateTime<Utc>) -> Result<(), AccountsError> {
        with_pool!(self, p => sqlx::query(UPDATE_LOGIN).bind(now).bind(id).execute(p).await?.rows_affected());
        Ok(())
    }

    async fn set_lang(&self, id: i64, lang: Lang) -> Result<(), AccountsError> {
        self.execute(UPDATE_LANG, id, Some(lang.tag())).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), AccountsError> {
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await?.rows_affected());
        Ok(())
    }
}

//! One contract suite for [`UserStore`], run against SQLite (a fresh temporary file per
//! test) and the real PostgreSQL at `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), each PostgreSQL test in its own fresh schema
//! so parallel runs never collide. The JIT rule and the CSV import run through the same
//! suite, since they are only as correct as the store under them.
//!
//! When PostgreSQL is unreachable its half prints `skipped: postgresql unreachable` and
//! passes, except under `CI`, where it fails.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::Rng;
use realmgate::accounts::{
    AccountsError, NameParts, NewUser, Origin, Outcome, Passwords, Refusal, SqlUserStore, Status,
    User, UserEmail, UserStore, import_csv, rename, resolve,
};
use realmgate::discovery::tenant::{TenantFile, validate};
use realmgate::discovery::{Email, Tenant};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// A store under test and what to clean up afterwards.
struct Fixture {
    store: Arc<SqlUserStore>,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The temporary directory holding the SQLite file, removed on drop.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// The PostgreSQL URL and the schema to drop.
    Postgres(String, String),
}

impl Fixture {
    async fn finish(self) {
        self.store.close().await;
        if let Cleanup::Postgres(url, schema) = self.cleanup {
            let mut conn = PgConnection::connect(&url)
                .await
                .expect("reconnect to drop schema");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA \"{schema}\" CASCADE"
            )))
            .execute(&mut conn)
            .await
            .expect("drop test schema");
        }
    }
}

async fn sqlite() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temp dir");
    // A nested, missing directory: `open` must create it, as it does for `data_dir`.
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("data/realmgate.db").display()
    );
    let store = realmgate::accounts::open(&url).await.expect("open sqlite");
    Some(Fixture {
        store: Arc::new(store),
        cleanup: Cleanup::Sqlite(dir),
    })
}

/// A fresh, empty schema in the PostgreSQL at `TEST_POSTGRES_URL`: its URL and name.
async fn postgres_schema() -> Option<(String, String)> {
    let url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mut conn = match PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => return unavailable("postgresql", &e),
    };
    let schema = format!("realmgate_test_{:016x}", rand::rng().random::<u64>());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    Some((url, schema))
}

async fn postgres() -> Option<Fixture> {
    let (url, schema) = postgres_schema().await?;
    let options = PgConnectOptions::from_str(&url)
        .expect("postgres url")
        .options([("search_path", schema.as_str())]);
    let store = SqlUserStore::postgres(options)
        .await
        .expect("open postgres");
    Some(Fixture {
        store: Arc::new(store),
        cleanup: Cleanup::Postgres(url, schema),
    })
}

/// The service availability rule shared by the contract suites.
fn unavailable<T>(service: &str, error: &dyn std::fmt::Display) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{service} unreachable under CI: {error}");
    }
    eprintln!("skipped: {service} unreachable ({error})");
    None
}

/// Runs each contract check as its own test against each database.
macro_rules! contract {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    if let Some(f) = super::sqlite().await {
                        super::$check(Arc::clone(&f.store) as Arc<dyn super::UserStore>).await;
                        f.finish().await;
                    }
                }
            )+
            use std::sync::Arc;
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    if let Some(f) = super::postgres().await {
                        super::$check(Arc::clone(&f.store) as Arc<dyn super::UserStore>).await;
                        f.finish().await;
                    }
                }
            )+
            use std::sync::Arc;
        }
    };
}

contract!(
    add_and_case_insensitive_duplicates,
    list_filters,
    approve_and_disable,
    bind_subject_only_once,
    profile_password_and_login,
    jit_deny,
    jit_waiting_room,
    jit_create,
    jit_preprovisioned_and_subject_mismatch,
    jit_password_accounts,
    jit_refusals,
    jit_concurrent_first_logins,
    csv_import,
    ping_answers,
    every_origin_is_stored,
    set_email_renames_within_the_account,
    details_are_kept_as_given,
    pages_by_cursor,
);

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("valid timestamp")
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("test email")
}

async fn add(store: &dyn UserStore, account: &str, address: &str, status: Status) -> User {
    let mut new = NewUser::new(account, email(address), Origin::Cli, t(0));
    new.status = status;
    store.add(new).await.expect("add user")
}

fn tenant_with(jit: &str) -> Tenant {
    let text = format!(
        "account = \"contoso\"\ndomains = [\"contoso.com\"]\n\
         [sso]\nidp_metadata = \"contoso.idp.xml\"\njit = \"{jit}\"\n"
    );
    let file: TenantFile = toml::from_str(&text).expect("tenant file");
    validate(file, Path::new("domains/contoso.toml")).expect("valid tenant")
}

/// One SSO login through [`resolve`], without an asserted display name.
async fn sso(
    store: &dyn UserStore,
    tenant: &Tenant,
    address: &str,
    subject: &str,
    at: i64,
) -> Outcome {
    resolve(store, tenant, &email(address), subject, None, t(at))
        .await
        .expect("resolve")
}

async fn add_and_case_insensitive_duplicates(store: Arc<dyn UserStore>) {
    let alice = add(
        &*store,
        "contoso",
        "Alice.Smith@Contoso.com",
        Status::Active,
    )
    .await;
    assert_eq!(
        alice.email.as_str(),
        "Alice.Smith@contoso.com",
        "case kept as typed"
    );
    assert_eq!(
        (alice.account.as_str(), alice.status, alice.origin),
        ("contoso", Status::Active, Origin::Cli)
    );
    assert_eq!(
        (alice.subject.as_deref(), alice.admin, alice.created_at),
        (None, false, t(0))
    );
    assert!(alice.password_hash.is_none() && alice.last_login_at.is_none());

    let dup = NewUser::new(
        "contoso",
        email("alice.smith@CONTOSO.COM"),
        Origin::Cli,
        t(1),
    );
    assert!(matches!(
        store.add(dup).await,
        Err(AccountsError::Exists { account, .. }) if account == "contoso"
    ));
    let dup = NewUser::new(
        "contoso",
        email("ALICE.SMITH@contoso.com"),
        Origin::Cli,
        t(1),
    );
    assert!(matches!(
        store.add(dup).await,
        Err(AccountsError::Exists { .. })
    ));

    let elsewhere = add(
        &*store,
        "fabrikam",
        "alice.smith@contoso.com",
        Status::Active,
    )
    .await;
    assert_ne!(elsewhere.id, alice.id, "uniqueness is per account");

    let found = store
        .by_email("contoso", &email("ALICE.smith@contoso.COM"))
        .await
        .unwrap()
        .expect("found in any case");
    assert_eq!(found, alice);
    assert_eq!(store.by_id(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.by_id(alice.id + 1000).await.unwrap(), None);
    assert_eq!(
        store
            .by_email("contoso", &email("bob@contoso.com"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .by_email("other", &email("alice.smith@contoso.com"))
            .await
            .unwrap(),
        None
    );
}

async fn list_filters(store: Arc<dyn UserStore>) {
    add(&*store, "fabrikam", "zoe@fabrikam.com", Status::Waiting).await;
    add(&*store, "contoso", "bob@contoso.com", Status::Waiting).await;
    add(&*store, "contoso", "Alice@contoso.com", Status::Active).await;
    add(&*store, "contoso", "carol@contoso.com", Status::Disabled).await;

    let names = |users: Vec<User>| -> Vec<String> {
        users
            .into_iter()
            .map(|u| format!("{}/{}", u.account, u.email))
            .collect()
    };
    assert_eq!(
        names(store.list(None, None).await.unwrap()),
        [
            "contoso/Alice@contoso.com",
            "contoso/bob@contoso.com",
            "contoso/carol@contoso.com",
            "fabrikam/zoe@fabrikam.com"
        ]
    );
    assert_eq!(
        names(store.list(Some("contoso"), None).await.unwrap()),
        [
            "contoso/Alice@contoso.com",
            "contoso/bob@contoso.com",
            "contoso/carol@contoso.com"
        ]
    );
    assert_eq!(
        names(store.list(None, Some(Status::Waiting)).await.unwrap()),
        ["contoso/bob@contoso.com", "fabrikam/zoe@fabrikam.com"]
    );
    assert_eq!(
        names(
            store
                .list(Some("contoso"), Some(Status::Disabled))
                .await
                .unwrap()
        ),
        ["contoso/carol@contoso.com"]
    );
    assert!(store.list(Some("nobody"), None).await.unwrap().is_empty());
}

/// Keyset pages: after and before an address, in email order both ways, with the filters
/// applied and the total that of the whole filtered list.
async fn pages_by_cursor(store: Arc<dyn UserStore>) {
    use realmgate::accounts::{Cursor, UserQuery};
    for i in 0..7 {
        let status = if i % 2 == 0 {
            Status::Active
        } else {
            Status::Disabled
        };
        add(&*store, "contoso", &format!("U{i}@contoso.com"), status).await;
    }
    add(&*store, "fabrikam", "u3b@fabrikam.com", Status::Active).await;
    let page = |cursor: Option<Cursor>, status: Option<Status>| {
        let store = store.clone();
        async move {
            let found = store
                .page(
                    "contoso",
                    &UserQuery {
                        status,
                        limit: 2,
                        cursor,
                        ..UserQuery::default()
                    },
                )
                .await
                .unwrap();
            let emails: Vec<String> = found.users.iter().map(|u| u.email.to_string()).collect();
            (emails, found.total)
        }
    };
    let after = |k: &str| Some(Cursor::After(k.into()));
    let before = |k: &str| Some(Cursor::Before(k.into()));
    assert_eq!(
        page(None, None).await,
        (vec!["U0@contoso.com".into(), "U1@contoso.com".into()], 7)
    );
    // The key is the lower-cased address, the stored letter case is kept.
    assert_eq!(
        page(after("u1@contoso.com"), None).await,
        (vec!["U2@contoso.com".into(), "U3@contoso.com".into()], 7)
    );
    assert_eq!(
        page(before("u5@contoso.com"), None).await,
        (vec!["U3@contoso.com".into(), "U4@contoso.com".into()], 7),
        "the two just before, still in email order"
    );
    assert_eq!(
        page(before("u1@contoso.com"), None).await,
        (vec!["U0@contoso.com".into()], 7)
    );
    assert_eq!(page(after("u6@contoso.com"), None).await, (vec![], 7));
    // Another account's users are never on the page, whatever the edge.
    assert_eq!(
        page(after("u3@contoso.com"), None).await.0[0],
        "U4@contoso.com"
    );
    assert_eq!(
        page(after("u0@contoso.com"), Some(Status::Active)).await,
        (vec!["U2@contoso.com".into(), "U4@contoso.com".into()], 4)
    );
    assert_eq!(
        page(before("u6@contoso.com"), Some(Status::Disabled)).await,
        (vec!["U3@contoso.com".into(), "U5@contoso.com".into()], 3)
    );
    // A LIKE wildcard in an edge is only text: it is bound, and compared, not matched.
    assert_eq!(page(after("%"), None).await.1, 7);
}

async fn approve_and_disable(store: Arc<dyn UserStore>) {
    add(&*store, "contoso", "bob@contoso.com", Status::Waiting).await;
    let approved = store
        .set_status("contoso", &email("BOB@contoso.com"), Status::Active)
        .await
        .unwrap();
    assert_eq!(approved.status, Status::Active);
    let disabled = store
        .set_status("contoso", &email("bob@contoso.com"), Status::Disabled)
        .await
        .unwrap();
    assert_eq!(disabled.status, Status::Disabled);
    assert_eq!(
        store.by_id(disabled.id).await.unwrap().unwrap().status,
        Status::Disabled
    );
    assert!(matches!(
        store
            .set_status("contoso", &email("nobody@contoso.com"), Status::Active)
            .await,
        Err(AccountsError::NotFound(_))
    ));
    assert!(matches!(
        store
            .set_status("fabrikam", &email("bob@contoso.com"), Status::Active)
            .await,
        Err(AccountsError::NotFound(_))
    ));
}

async fn bind_subject_only_once(store: Arc<dyn UserStore>) {
    let alice = add(&*store, "contoso", "alice@contoso.com", Status::Active).await;
    let bob = add(&*store, "contoso", "bob@contoso.com", Status::Active).await;
    assert!(store.bind_subject(alice.id, "subject-a").await.unwrap());
    assert!(
        !store.bind_subject(alice.id, "subject-b").await.unwrap(),
        "bound only once"
    );
    assert!(!store.bind_subject(alice.id, "subject-a").await.unwrap());
    assert_eq!(
        store
            .by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .subject
            .as_deref(),
        Some("subject-a")
    );
    assert_eq!(
        store
            .by_subject("contoso", "subject-a")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
    assert_eq!(
        store.by_subject("fabrikam", "subject-a").await.unwrap(),
        None
    );
    assert!(matches!(
        store.bind_subject(bob.id, "subject-a").await,
        Err(AccountsError::SubjectInUse { .. })
    ));

    // Racing first logins: exactly one binding wins.
    let carol = add(&*store, "contoso", "carol@contoso.com", Status::Active).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .bind_subject(carol.id, &format!("c-{i}"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

async fn profile_password_and_login(store: Arc<dyn UserStore>) {
    let alice = add(&*store, "contoso", "alice@contoso.com", Status::Active).await;
    store
        .set_profile(alice.id, "Alice Smith", true)
        .await
        .unwrap();
    store
        .set_password_hash(alice.id, Some("$argon2id$v=19$m=19456,t=2,p=1$x$y"))
        .await
        .unwrap();
    store.record_login(alice.id, t(50)).await.unwrap();
    let got = store.by_id(alice.id).await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.admin), ("Alice Smith", true));
    assert_eq!(
        got.password_hash.as_deref(),
        Some("$argon2id$v=19$m=19456,t=2,p=1$x$y")
    );
    assert_eq!(got.last_login_at, Some(t(50)));
    assert!(
        !format!("{got:?}").contains("argon2"),
        "Debug hides the hash"
    );
    store.set_password_hash(alice.id, None).await.unwrap();
    assert_eq!(
        store.by_id(alice.id).await.unwrap().unwrap().password_hash,
        None
    );
    assert!(matches!(
        store.set_profile(alice.id + 999, "x", false).await,
        Err(AccountsError::NotFound(_))
    ));
    assert!(matches!(
        store.set_password_hash(alice.id + 999, None).await,
        Err(AccountsError::NotFound(_))
    ));
}

async fn jit_deny(store: Arc<dyn UserStore>) {
    let tenant = tenant_with("deny");
    let outcome = sso(&*store, &tenant, "new@contoso.com", "s-new", 0).await;
    assert_eq!(outcome, Outcome::Refused(Refusal::NotProvisioned));
    assert!(
        store.list(None, None).await.unwrap().is_empty(),
        "nothing created"
    );
}

async fn jit_waiting_room(store: Arc<dyn UserStore>) {
    let tenant = tenant_with("waiting_room");
    let who = email("New.Person@contoso.com");
    let Outcome::Waiting(user) =
        resolve(&*store, &tenant, &who, "s-new", Some(" New Person "), t(0))
            .await
            .unwrap()
    else {
        panic!("expected the waiting room");
    };
    assert_eq!(
        (user.status, user.origin, user.subject.as_deref()),
        (Status::Waiting, Origin::Jit, Some("s-new"))
    );
    assert_eq!(
        (user.name.as_str(), user.last_login_at),
        ("New Person", None)
    );

    let again = resolve(&*store, &tenant, &who, "s-new", None, t(10))
        .await
        .unwrap();
    assert!(
        matches!(again, Outcome::Waiting(u) if u.id == user.id),
        "still waiting, not duplicated"
    );
    assert_eq!(store.list(None, None).await.unwrap().len(), 1);

    store
        .set_status("contoso", &who, Status::Active)
        .await
        .unwrap();
    let Outcome::Admitted(admitted) = resolve(&*store, &tenant, &who, "s-new", None, t(20))
        .await
        .unwrap()
    else {
        panic!("expected admission after approval");
    };
    assert_eq!(
        (admitted.id, admitted.last_login_at),
        (user.id, Some(t(20)))
    );
    assert_eq!(
        store.by_id(user.id).await.unwrap().unwrap().last_login_at,
        Some(t(20))
    );
}

async fn jit_create(store: Arc<dyn UserStore>) {
    let tenant = tenant_with("create");
    let Outcome::Admitted(user) = sso(&*store, &tenant, "new@contoso.com", "s-new", 0).await else {
        panic!("expected admission");
    };
    assert_eq!(
        (user.status, user.origin, user.subject.as_deref()),
        (Status::Active, Origin::Jit, Some("s-new"))
    );
    assert_eq!(user.last_login_at, Some(t(0)));
    let other = sso(&*store, &tenant, "new@contoso.com", "s-other", 1).await;
    assert_eq!(other, Outcome::Refused(Refusal::SubjectMismatch));
}

async fn jit_preprovisioned_and_subject_mismatch(store: Arc<dyn UserStore>) {
    let tenant = tenant_with("deny");
    let alice = add(&*store, "contoso", "Alice@contoso.com", Status::Active).await;
    let Outcome::Admitted(first) = sso(&*store, &tenant, "alice@CONTOSO.com", "s-alice", 0).await
    else {
        panic!("pre-provisioned user is matched at first SSO login");
    };
    assert_eq!(
        (first.id, first.subject.as_deref()),
        (alice.id, Some("s-alice"))
    );
    assert_eq!(
        store
            .by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .subject
            .as_deref(),
        Some("s-alice")
    );

    let later = sso(&*store, &tenant, "alice@contoso.com", "s-alice", 1).await;
    assert!(matches!(later, Outcome::Admitted(u) if u.id == alice.id));

    let stolen = sso(&*store, &tenant, "alice@contoso.com", "s-mallory", 2).await;
    assert_eq!(stolen, Outcome::Refused(Refusal::SubjectMismatch));
    assert_eq!(
        store
            .by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .subject
            .as_deref(),
        Some("s-alice")
    );

    // The IdP renamed the person: the subject is Alice's, the email is new.
    let renamed = sso(
        &*store,
        &tenant_with("create"),
        "alice2@contoso.com",
        "s-alice",
        3,
    )
    .await;
    assert_eq!(renamed, Outcome::Refused(Refusal::SubjectInUse));
}

async fn jit_password_accounts(store: Arc<dyn UserStore>) {
    let tenant = tenant_with("create");
    let mut bob = NewUser::new("contoso", email("bob@contoso.com"), Origin::Cli, t(0));
    bob.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$x$y".into());
    let bob = store.add(bob).await.unwrap();
    let outcome = sso(&*store, &tenant, "bob@contoso.com", "s-bob", 1).await;
    assert_eq!(
        outcome,
        Outcome::Refused(Refusal::PasswordAccount),
        "never linked silently"
    );
    assert_eq!(store.by_id(bob.id).await.unwrap().unwrap().subject, None);

    // The operator links explicitly by removing the password.
    store.set_password_hash(bob.id, None).await.unwrap();
    let outcome = sso(&*store, &tenant, "bob@contoso.com", "s-bob", 2).await;
    assert!(matches!(outcome, Outcome::Admitted(u) if u.id == bob.id));

    // Admins keep their fail-safe password and are linked.
    let mut admin = NewUser::new("contoso", email("admin@contoso.com"), Origin::Cli, t(0));
    admin.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$x$y".into());
    admin.admin = true;
    let admin = store.add(admin).await.unwrap();
    let outcome = sso(&*store, &tenant, "admin@contoso.com", "s-admin", 3).await;
    assert!(
        matches!(&outcome, Outcome::Admitted(u) if u.id == admin.id && u.password_hash.is_some())
    );
}

async fn jit_refusals(store: Arc<dyn UserStore>) {
    let tenant = tenant_with("create");
    add(&*store, "contoso", "carol@contoso.com", Status::Disabled).await;
    let outcome = sso(&*store, &tenant, "carol@contoso.com", "s-carol", 0).await;
    assert_eq!(outcome, Outcome::Refused(Refusal::Disabled));
    let outcome = sso(&*store, &tenant, "eve@evil.example", "s-eve", 0).await;
    assert_eq!(outcome, Outcome::Refused(Refusal::ForeignDomain));
    let outcome = sso(&*store, &tenant, "dan@contoso.com", "", 0).await;
    assert_eq!(outcome, Outcome::Refused(Refusal::NoSubject));
    let mut password_tenant = tenant.clone();
    password_tenant.sso = None;
    let outcome = sso(&*store, &password_tenant, "dan@contoso.com", "s", 0).await;
    assert_eq!(outcome, Outcome::Refused(Refusal::NotSso));
    assert_eq!(
        store.list(None, None).await.unwrap().len(),
        1,
        "refusals create nothing"
    );
}

async fn jit_concurrent_first_logins(store: Arc<dyn UserStore>) {
    let tenant = Arc::new(tenant_with("create"));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, tenant) = (Arc::clone(&store), Arc::clone(&tenant));
            tokio::spawn(
                async move { sso(&*store, &tenant, "rush@contoso.com", "s-rush", 0).await },
            )
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Outcome::Admitted(u) => ids.push(u.id),
            other => panic!("every concurrent first login is admitted: {other:?}"),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one user for all of them");
    assert_eq!(store.list(None, None).await.unwrap().len(), 1);
}

const CSV: &str = "\
Email,Name,Admin
alice@contoso.com,Alice,true
bob@contoso.com,Bob,
not-an-email,Nobody,false
carol@contoso.com,Carol,maybe
dave@unknown.example,Dave,false

erin@contoso.com
frank@fabrikam.com,Frank,no
";

fn owner(e: &Email) -> Option<String> {
    match e.domain() {
        "contoso.com" => Some("contoso".into()),
        "fabrikam.com" => Some("fabrikam".into()),
        _ => None,
    }
}

/// A user that must exist.
async fn find(store: &dyn UserStore, account: &str, address: &str) -> User {
    store
        .by_email(account, &email(address))
        .await
        .expect("by_email")
        .unwrap_or_else(|| panic!("{address} in {account}"))
}

/// The import reported exactly these errors, each starting with the given text.
fn assert_errors(errors: &[String], prefixes: &[&str]) {
    assert_eq!(errors.len(), prefixes.len(), "{errors:?}");
    for (error, prefix) in errors.iter().zip(prefixes) {
        assert!(
            error.starts_with(prefix),
            "{error:?} should start with {prefix:?}"
        );
    }
}

async fn csv_import(store: Arc<dyn UserStore>) {
    let summary = import_csv(&*store, CSV, &owner, None, t(0)).await.unwrap();
    assert_eq!(
        (summary.created, summary.updated, summary.unchanged),
        (4, 0, 0)
    );
    assert_errors(
        &summary.errors,
        &[
            "line 4: invalid email \"not-an-email\"",
            "line 5: admin must be",
            "line 6: no tenant owns the domain unknown.example",
        ],
    );

    let alice = find(&*store, "contoso", "alice@contoso.com").await;
    assert_eq!(
        (alice.name.as_str(), alice.admin, alice.status, alice.origin),
        ("Alice", true, Status::Active, Origin::Import)
    );
    assert!(alice.password_hash.is_none() && alice.subject.is_none());
    let erin = find(&*store, "contoso", "erin@contoso.com").await;
    assert_eq!((erin.name.as_str(), erin.admin), ("", false));
    assert!(
        store
            .by_email("fabrikam", &email("frank@fabrikam.com"))
            .await
            .unwrap()
            .is_some()
    );

    // Idempotent: the same file again changes nothing.
    let again = import_csv(&*store, CSV, &owner, None, t(1)).await.unwrap();
    assert_eq!(
        (
            again.created,
            again.updated,
            again.unchanged,
            again.errors.len()
        ),
        (0, 0, 4, 3)
    );

    // Updates touch name and admin only; a disabled user stays disabled.
    store
        .set_status("contoso", &email("bob@contoso.com"), Status::Disabled)
        .await
        .unwrap();
    let changed = "account,email,name,admin\n\
                   contoso,BOB@contoso.com,Robert,false\n\
                   ,alice@contoso.com,,false\n\
                   fabrikam,zed@contoso.com,Zed,\n";
    let summary = import_csv(&*store, changed, &owner, None, t(2))
        .await
        .unwrap();
    assert_eq!(
        (summary.created, summary.updated, summary.unchanged),
        (0, 2, 0),
        "{:?}",
        summary.errors
    );
    assert_errors(
        &summary.errors,
        &["line 4: the domain contoso.com belongs to account \"contoso\""],
    );
    let bob = find(&*store, "contoso", "bob@contoso.com").await;
    assert_eq!(
        (bob.name.as_str(), bob.status, bob.email.as_str()),
        ("Robert", Status::Disabled, "bob@contoso.com")
    );
    let alice = find(&*store, "contoso", "alice@contoso.com").await;
    assert_eq!(
        (alice.name.as_str(), alice.admin),
        ("Alice", false),
        "empty name cell keeps the name"
    );

    for bad in [
        "name,admin\nx,true\n",
        "email,nmae\na@contoso.com,x\n",
        "email,email\na@contoso.com,b@contoso.com\n",
    ] {
        assert!(
            matches!(import_csv(&*store, bad, &owner, None, t(3)).await, Err(AccountsError::Import(m)) if m.starts_with("line 1:")),
            "{bad:?}"
        );
    }
}

async fn ping_answers(store: Arc<dyn UserStore>) {
    store.ping().await.unwrap();
}

/// Passwords do not depend on the database; one test covers the module.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_hash_verify_dummy_and_rehash() {
    let passwords = Passwords::new().unwrap();
    let hash = passwords
        .hash("correct horse battery staple")
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_ne!(
        hash,
        passwords
            .hash("correct horse battery staple")
            .await
            .unwrap(),
        "salted"
    );
    assert!(
        passwords
            .verify("correct horse battery staple", Some(&hash))
            .await
            .unwrap()
    );
    assert!(
        !passwords
            .verify("Correct horse battery staple", Some(&hash))
            .await
            .unwrap()
    );
    assert!(!passwords.verify("", Some(&hash)).await.unwrap());
    assert!(
        !passwords
            .verify("anything", Some("not a phc string"))
            .await
            .unwrap()
    );

    // The dummy hash: no user, or no password, costs as much as a real check. The fastest
    // of a few runs is compared, so other tests sharing the CPU do not make this flaky.
    let mut real = std::time::Duration::MAX;
    let mut dummy = std::time::Duration::MAX;
    for _ in 0..7 {
        let started = Instant::now();
        assert!(!passwords.verify("wrong", Some(&hash)).await.unwrap());
        real = real.min(started.elapsed());
        let started = Instant::now();
        assert!(!passwords.verify("wrong", None).await.unwrap());
        dummy = dummy.min(started.elapsed());
    }
    assert!(
        dummy * 2 > real && real * 2 > dummy,
        "real {real:?} vs dummy {dummy:?}"
    );

    assert!(!passwords.needs_rehash(&hash));
    let weak = Passwords::with_params(8 * 1024, 1, 1).unwrap();
    let weak_hash = weak.hash("pw").await.unwrap();
    assert!(passwords.needs_rehash(&weak_hash));
    assert!(
        passwords.verify("pw", Some(&weak_hash)).await.unwrap(),
        "old hashes still verify"
    );
    assert!(
        passwords.needs_rehash("$2b$12$abcdefghijklmnopqrstuu"),
        "bcrypt and friends are upgraded"
    );
    assert!(passwords.needs_rehash("garbage"));

    // Many concurrent checks all complete (bounded by the semaphore, not failing).
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (p, h) = (passwords.clone(), hash.clone());
            tokio::spawn(async move {
                p.verify("correct horse battery staple", Some(&h))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
}

#[tokio::test]
async fn open_refuses_unknown_urls() {
    assert!(matches!(
        realmgate::accounts::open("mysql://x").await,
        Err(AccountsError::BadUrl(_))
    ));
    let memory = realmgate::accounts::open("sqlite::memory:").await.unwrap();
    memory.ping().await.unwrap();
    add(&memory, "contoso", "a@contoso.com", Status::Active).await;
    assert_eq!(
        memory.list(None, None).await.unwrap().len(),
        1,
        "one in-memory database for the pool"
    );
}

/// Every origin a user can have is stored and read back as itself (migration 0005 let the
/// `api` and `scim` origins into the column's CHECK), and ids of deleted users are not
/// handed out again.
async fn every_origin_is_stored(store: Arc<dyn UserStore>) {
    let mut last = 0;
    for (i, origin) in [
        Origin::Cli,
        Origin::Import,
        Origin::Jit,
        Origin::Api,
        Origin::Scim,
    ]
    .into_iter()
    .enumerate()
    {
        let new = NewUser::new("contoso", email(&format!("o{i}@contoso.com")), origin, t(0));
        let user = store.add(new).await.unwrap();
        assert_eq!(user.origin, origin);
        assert_eq!(store.by_id(user.id).await.unwrap().unwrap().origin, origin);
        assert!(user.id > last);
        last = user.id;
    }
    assert!(store.delete(last).await.unwrap());
    let again = NewUser::new("contoso", email("again@contoso.com"), Origin::Scim, t(0));
    assert!(store.add(again).await.unwrap().id > last);
}

/// A rename changes the address and its case-insensitive key, keeps the bound subject,
/// and refuses an address another user of the account has (in any case); another
/// account's user of that address is no obstacle.
async fn set_email_renames_within_the_account(store: Arc<dyn UserStore>) {
    let ann = add(store.as_ref(), "contoso", "ann@contoso.com", Status::Active).await;
    add(store.as_ref(), "contoso", "bob@contoso.com", Status::Active).await;
    add(
        store.as_ref(),
        "fabrikam",
        "lee@contoso.com",
        Status::Active,
    )
    .await;
    assert!(store.bind_subject(ann.id, "s-ann").await.unwrap());
    store
        .set_email(ann.id, &email("Lee@contoso.com"))
        .await
        .unwrap();
    let found = store
        .by_email("contoso", &email("lee@CONTOSO.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.email.as_str()),
        (ann.id, "Lee@contoso.com")
    );
    assert_eq!(found.subject.as_deref(), Some("s-ann"));
    assert!(
        store
            .by_email("contoso", &email("ann@contoso.com"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.set_email(ann.id, &email("BOB@contoso.com")).await,
        Err(AccountsError::Exists { .. })
    ));
    assert!(matches!(
        store.set_email(i64::MAX, &email("x@contoso.com")).await,
        Err(AccountsError::NotFound(_))
    ));
}

/// The name parts and emails of a user (migration 0006) are stored and read back exactly
/// as given, `primary` false apart from absent; a user made without them has the login
/// address as primary work email; a rename carries the entry naming the old address over
/// to the new one and leaves the others; an absent user is `NotFound`.
async fn details_are_kept_as_given(store: Arc<dyn UserStore>) {
    let plain = add(store.as_ref(), "contoso", "ann@contoso.com", Status::Active).await;
    assert_eq!(plain.emails, [UserEmail::primary_work(&plain.email)]);
    assert!(plain.name_parts.is_empty());

    let parts = NameParts {
        given: Some("Ann".into()),
        family: None,
        formatted: Some("Ann Lee".into()),
    };
    let emails = vec![
        UserEmail {
            value: "ANN@contoso.com".into(),
            kind: Some("work".into()),
            primary: Some(true),
        },
        UserEmail {
            value: "ann@home.example".into(),
            kind: None,
            primary: Some(false),
        },
        UserEmail {
            value: "a.lee@other.example".into(),
            kind: Some("other".into()),
            primary: None,
        },
    ];
    store.set_details(plain.id, &parts, &emails).await.unwrap();
    let read = store.by_id(plain.id).await.unwrap().unwrap();
    assert_eq!((&read.name_parts, &read.emails), (&parts, &emails));
    let listed = store.list(Some("contoso"), None).await.unwrap();
    assert_eq!(listed[0].emails, emails, "every read has them");

    let mut new = NewUser::new("contoso", email("bob@contoso.com"), Origin::Scim, t(0));
    new.name_parts = parts.clone();
    new.emails = Vec::new();
    let bob = store.add(new).await.unwrap();
    assert!(bob.emails.is_empty(), "a client may keep no email");
    assert_eq!(bob.name_parts, parts);

    rename(
        store.as_ref(),
        &tenant_with("deny"),
        plain.id,
        &email("ann.lee@contoso.com"),
    )
    .await
    .unwrap();
    let renamed = store.by_id(plain.id).await.unwrap().unwrap();
    assert_eq!(renamed.emails[0].value, "ann.lee@contoso.com");
    assert_eq!(renamed.emails[1..], emails[1..]);
    assert_eq!(renamed.name_parts, parts);

    let err = store
        .set_details(i64::MAX, &parts, &emails)
        .await
        .unwrap_err();
    assert!(matches!(err, AccountsError::NotFound(_)), "{err}");
}

/// The users of an older database, as migrations 0001 to 0005 left them: one with a
/// display name, one without.
const OLD_USERS: &str = "INSERT INTO users (account, email, email_lower, name, status, origin, \
    created_at) VALUES ('contoso', 'Ann@contoso.com', 'ann@contoso.com', 'Ann Lee', 'active', \
    'scim', $1), ('contoso', 'bob@contoso.com', 'bob@contoso.com', '', 'active', 'cli', $1)";

/// The migrations of `dir` before 0006, to build an older database.
async fn before_0006(dir: &str) -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate::Migrator::new(Path::new(dir))
        .await
        .expect("migrations");
    let older: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 6)
        .cloned()
        .collect();
    migrator.migrations = older.into();
    migrator
}

/// What migration 0006 must give the users already there: the SCIM view they had, their
/// login address as primary work email and their display name as the formatted name.
async fn assert_0006_kept_the_view(store: &SqlUserStore) {
    let ann = store
        .by_email("contoso", &email("ann@contoso.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.emails, [UserEmail::primary_work(&ann.email)]);
    assert_eq!(ann.emails[0].value, "Ann@contoso.com");
    assert_eq!(ann.name_parts.formatted.as_deref(), Some("Ann Lee"));
    assert_eq!(
        (&ann.name_parts.given, &ann.name_parts.family),
        (&None, &None)
    );
    let bob = store
        .by_email("contoso", &email("bob@contoso.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.emails, [UserEmail::primary_work(&bob.email)]);
    assert!(
        bob.name_parts.is_empty(),
        "no display name, no formatted name"
    );
}

#[tokio::test]
async fn migration_0006_keeps_the_view_of_existing_users_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    before_0006(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .await
        .run(&pool)
        .await
        .unwrap();
    sqlx::query(OLD_USERS)
        .bind(t(0))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = realmgate::accounts::open(&url).await.expect("upgrade");
    assert_0006_kept_the_view(&store).await;
    store.close().await;
}

#[tokio::test]
async fn migration_0006_keeps_the_view_of_existing_users_postgres() {
    let Some(fixture) = postgres_schema().await else {
        return;
    };
    let (url, schema) = fixture;
    let options = PgConnectOptions::from_str(&url)
        .expect("postgres url")
        .options([("search_path", schema.as_str())]);
    let pool = sqlx::PgPool::connect_with(options.clone()).await.unwrap();
    before_0006(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .await
        .run(&pool)
        .await
        .unwrap();
    sqlx::query(OLD_USERS)
        .bind(t(0))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = SqlUserStore::postgres(options).await.expect("upgrade");
    assert_0006_kept_the_view(&store).await;
    Fixture {
        store: Arc::new(store),
        cleanup: Cleanup::Postgres(url, schema),
    }
    .finish()
    .await;
}

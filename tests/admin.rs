//! The management operations (`realmgate::admin`) and the audit log over real SQLite (a
//! fresh file per test) and the real PostgreSQL at `TEST_POSTGRES_URL` (a fresh schema per
//! test; skipped when unreachable, except under `CI`). What the API, the CLI and the
//! console rely on: tokens kept only as hashes, every change audited, and no operation
//! reaching a user of another account.

mod common;

use std::path::Path;

use realmgate::accounts::{NewUser, Origin, Status, UserQuery};
use realmgate::admin::{
    Actor, Admin, AdminError, ErrorKind, GroupPatch, Member, Scope, UserPatch, tokens::PREFIX,
};
use realmgate::discovery::tenant::{TenantFile, validate};
use realmgate::discovery::{Email, Tenant};
use sha2::{Digest, Sha256};

/// A database under test: its URL (to look at the rows directly) and what to clean up.
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<common::PgSchema>,
}

impl Db {
    async fn sqlite() -> Option<Db> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rg.db").display());
        Some(Db {
            url,
            _dir: Some(dir),
            schema: None,
        })
    }

    async fn postgres() -> Option<Db> {
        let schema = common::pg_schema().await?;
        Some(Db {
            url: schema.url.clone(),
            _dir: None,
            schema: Some(schema),
        })
    }

    /// Every stored token hash, read past the operations.
    async fn stored_hashes(&self) -> Vec<String> {
        let sql = "SELECT token_hash FROM api_tokens ORDER BY name";
        if self.url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
        }
    }

    async fn finish(self) {
        if let Some(schema) = self.schema {
            schema.drop().await;
        }
    }
}

macro_rules! on_both {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    if let Some(db) = super::Db::sqlite().await {
                        super::$check(&db).await;
                        db.finish().await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    if let Some(db) = super::Db::postgres().await {
                        super::$check(&db).await;
                        db.finish().await;
                    }
                }
            )+
        }
    };
}

on_both!(
    tokens_are_shown_once_and_kept_as_hashes,
    user_operations_refuse_other_accounts,
    user_operations_are_audited,
    list_pages_and_filters,
    import_of_one_account_writes_no_other,
    groups_are_kept_per_account,
    an_account_keeps_an_active_admin,
);

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn tenant(account: &str) -> Tenant {
    let text = format!("account = \"{account}\"\ndomains = [\"{account}.com\"]\n");
    let file: TenantFile = toml::from_str(&text).unwrap();
    validate(file, Path::new("domains/t.toml")).unwrap()
}

async fn create(admin: &Admin, account: &str, address: &str) -> realmgate::accounts::User {
    let new = NewUser::new(account, email(address), Origin::Cli, chrono::Utc::now());
    admin
        .users
        .create(&Actor::Cli, &tenant(account), new, None)
        .await
        .unwrap()
}

fn kind<T: std::fmt::Debug>(r: Result<T, AdminError>) -> ErrorKind {
    r.expect_err("refused").kind()
}

async fn tokens_are_shown_once_and_kept_as_hashes(db: &Db) {
    let admin = Admin::open(&db.url).await.unwrap();
    let actor = Actor::Cli;
    let (op, op_value) = admin
        .tokens
        .create(&actor, "ops", None, Scope::Admin)
        .await
        .unwrap();
    let (_, scim_value) = admin
        .tokens
        .create(&actor, "entra", Some("contoso"), Scope::Scim)
        .await
        .unwrap();
    assert!(op_value.starts_with(PREFIX), "{op_value}");
    assert_eq!(op.account, None);
    assert_ne!(op_value, scim_value);

    let hex = |v: &str| realmgate::secrets::hex(&Sha256::digest(v.as_bytes()));
    // Sorted by name: entra, ops.
    assert_eq!(db.stored_hashes().await, [hex(&scim_value), hex(&op_value)]);

    let found = admin.tokens.verify(&scim_value).await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), found.account.as_deref(), found.scope),
        ("entra", Some("contoso"), Scope::Scim)
    );
    let listed = admin.tokens.list().await.unwrap();
    let entra = listed.iter().find(|t| t.name == "entra").unwrap();
    assert!(entra.last_used_at.is_some(), "verify notes the use");
    // Near misses and the hash itself are no token.
    let mut wrong = scim_value.clone();
    wrong.pop();
    for guess in [
        wrong,
        hex(&scim_value),
        scim_value.trim_start_matches(PREFIX).to_string(),
    ] {
        assert_eq!(admin.tokens.verify(&guess).await.unwrap(), None, "{guess}");
    }

    assert_eq!(
        kind(admin.tokens.create(&actor, "ops", None, Scope::Admin).await),
        ErrorKind::Conflict
    );
    assert_eq!(kind("root".parse::<Scope>()), ErrorKind::Invalid);

    admin.tokens.revoke(&actor, "entra").await.unwrap();
    assert_eq!(admin.tokens.verify(&scim_value).await.unwrap(), None);
    assert_eq!(
        kind(admin.tokens.revoke(&actor, "entra").await),
        ErrorKind::NotFound
    );
    let events = admin.audit.list(None, None, 100).await.unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("token_created", "ops", "cli"),
            ("token_created", "entra", "cli"),
            ("token_revoked", "entra", "cli"),
        ]
    );
    assert_eq!(events[1].account.as_deref(), Some("contoso"));
    assert!(
        events
            .iter()
            .all(|e| !format!("{e:?}").contains(&scim_value)),
        "the audit log never holds a token"
    );
}

async fn user_operations_refuse_other_accounts(db: &Db) {
    let admin = Admin::open(&db.url).await.unwrap();
    let actor = Actor::Token("fabrikam-api".into());
    let ann = create(&admin, "contoso", "ann@contoso.com").await;
    let mut waiting = NewUser::new(
        "contoso",
        email("wes@contoso.com"),
        Origin::Jit,
        ann.created_at,
    );
    waiting.status = Status::Waiting;
    let wes = admin.users.store().add(waiting).await.unwrap();

    let disable = UserPatch {
        status: Some(Status::Disabled),
        ..UserPatch::default()
    };
    assert_eq!(
        kind(admin.users.get("fabrikam", ann.id).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            admin
                .users
                .patch(&actor, "fabrikam", ann.id, &disable)
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(admin.users.delete(&actor, "fabrikam", ann.id).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(admin.users.approve(&actor, "fabrikam", wes.id).await),
        ErrorKind::NotFound
    );
    // Absent ids answer the same.
    assert_eq!(
        kind(admin.users.get("contoso", 999_999).await),
        ErrorKind::NotFound
    );
    let page = admin
        .users
        .list(
            "fabrikam",
            &UserQuery {
                limit: 10,
                ..UserQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 0);

    // Nothing changed, nothing recorded for the refused calls.
    assert_eq!(admin.users.get("contoso", ann.id).await.unwrap(), ann);
    assert_eq!(
        admin.users.get("contoso", wes.id).await.unwrap().status,
        Status::Waiting
    );
    let events = admin.audit.list(None, None, 100).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");

    // A user of one tenant cannot be created through another tenant or its domains.
    let foreign = NewUser::new(
        "contoso",
        email("eve@fabrikam.com"),
        Origin::Cli,
        ann.created_at,
    );
    assert_eq!(
        kind(
            admin
                .users
                .create(&actor, &tenant("contoso"), foreign.clone(), None)
                .await
        ),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(
            admin
                .users
                .create(&actor, &tenant("fabrikam"), foreign, None)
                .await
        ),
        ErrorKind::Invalid
    );
}

async fn user_operations_are_audited(db: &Db) {
    let admin = Admin::open(&db.url).await.unwrap();
    let actor = Actor::User(email("boss@contoso.com"));
    let ann = create(&admin, "contoso", "ann@contoso.com").await;
    assert_eq!(
        kind(
            admin
                .users
                .create(
                    &actor,
                    &tenant("contoso"),
                    NewUser::new(
                        "contoso",
                        email("ANN@contoso.com"),
                        Origin::Cli,
                        ann.created_at
                    ),
                    None
                )
                .await
        ),
        ErrorKind::Conflict
    );

    let patch = UserPatch {
        status: Some(Status::Disabled),
        admin: Some(true),
        name: Some("Ann".into()),
        external_id: Some(Some("e-1".into())),
        ..UserPatch::default()
    };
    let after = admin
        .users
        .patch(&actor, "contoso", ann.id, &patch)
        .await
        .unwrap();
    assert_eq!(
        (
            after.status,
            after.admin,
            after.name.as_str(),
            after.external_id.as_deref()
        ),
        (Status::Disabled, true, "Ann", Some("e-1"))
    );
    let waiting = UserPatch {
        status: Some(Status::Waiting),
        ..UserPatch::default()
    };
    assert_eq!(
        kind(admin.users.patch(&actor, "contoso", ann.id, &waiting).await),
        ErrorKind::Invalid
    );
    // A disabled user is not approved back in by the Waiting Room's button.
    assert_eq!(
        kind(admin.users.approve(&actor, "contoso", ann.id).await),
        ErrorKind::Conflict
    );
    // The provisioning id is one user's per account.
    let bob = create(&admin, "contoso", "bob@contoso.com").await;
    let same = UserPatch {
        external_id: Some(Some("e-1".into())),
        ..UserPatch::default()
    };
    assert_eq!(
        kind(admin.users.patch(&actor, "contoso", bob.id, &same).await),
        ErrorKind::Conflict
    );

    let mut new = NewUser::new(
        "contoso",
        email("wes@contoso.com"),
        Origin::Jit,
        ann.created_at,
    );
    new.status = Status::Waiting;
    let wes = admin.users.store().add(new).await.unwrap();
    assert_eq!(
        admin
            .users
            .approve(&actor, "contoso", wes.id)
            .await
            .unwrap()
            .status,
        Status::Active
    );

    admin.users.delete(&actor, "contoso", ann.id).await.unwrap();
    assert_eq!(
        kind(admin.users.get("contoso", ann.id).await),
        ErrorKind::NotFound
    );
    // What the session check and the refresh grant read: no active user any more.
    assert_eq!(admin.users.store().by_id(ann.id).await.unwrap(), None);

    let events = admin.audit.list(Some("contoso"), None, 100).await.unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user_added",
            "user_disabled",
            "user_added",
            "user_approved",
            "user_deleted"
        ]
    );
    let disabled = &events[1];
    assert_eq!(disabled.actor, "user:boss@contoso.com");
    assert_eq!(disabled.target, "ann@contoso.com");
    assert_eq!(disabled.before.as_ref().unwrap()["status"], "active");
    assert_eq!(disabled.after.as_ref().unwrap()["status"], "disabled");
    assert_eq!(disabled.after.as_ref().unwrap()["external_id"], "e-1");
    assert_eq!(events[0].before, None);
    assert_eq!(events[4].after, None);
    assert_eq!(events[4].before.as_ref().unwrap()["name"], "Ann");

    // `since` and `limit`.
    let later = admin
        .audit
        .list(Some("contoso"), Some(events[3].at), 100)
        .await
        .unwrap();
    assert!(
        later.iter().all(|e| e.at >= events[3].at) && later.len() >= 2,
        "{later:?}"
    );
    assert_eq!(
        admin
            .audit
            .list(Some("contoso"), None, 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        admin
            .audit
            .list(Some("fabrikam"), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn list_pages_and_filters(db: &Db) {
    let admin = Admin::open(&db.url).await.unwrap();
    for who in ["cy", "al", "bo"] {
        create(&admin, "contoso", &format!("{who}@contoso.com")).await;
    }
    create(&admin, "fabrikam", "al@fabrikam.com").await;
    let bo = admin
        .users
        .by_email("contoso", &email("bo@contoso.com"))
        .await
        .unwrap();
    let disable = UserPatch {
        status: Some(Status::Disabled),
        ..UserPatch::default()
    };
    admin
        .users
        .patch(&Actor::Cli, "contoso", bo.id, &disable)
        .await
        .unwrap();

    let page = |limit, offset| UserQuery {
        limit,
        offset,
        ..UserQuery::default()
    };
    let emails = |p: &realmgate::accounts::UserPage| -> Vec<String> {
        p.users.iter().map(|u| u.email.to_string()).collect()
    };
    let first = admin.users.list("contoso", &page(2, 0)).await.unwrap();
    assert_eq!(
        (emails(&first), first.total),
        (vec!["al@contoso.com".into(), "bo@contoso.com".into()], 3)
    );
    let second = admin.users.list("contoso", &page(2, 2)).await.unwrap();
    assert_eq!(
        (emails(&second), second.total),
        (vec!["cy@contoso.com".to_string()], 3)
    );

    let disabled = UserQuery {
        status: Some(Status::Disabled),
        ..page(10, 0)
    };
    let found = admin.users.list("contoso", &disabled).await.unwrap();
    assert_eq!(
        (emails(&found), found.total),
        (vec!["bo@contoso.com".to_string()], 1)
    );
    let by_email = UserQuery {
        email: Some(email("AL@contoso.com")),
        ..page(10, 0)
    };
    let found = admin.users.list("contoso", &by_email).await.unwrap();
    assert_eq!(
        (emails(&found), found.total),
        (vec!["al@contoso.com".to_string()], 1)
    );

    // The console's search: part of the email or the name, any letter case, LIKE's
    // wildcards taken literally; and the admin filter.
    admin
        .users
        .patch(
            &Actor::Cli,
            "contoso",
            bo.id,
            &UserPatch {
                name: Some("Bo 100% Diddley".into()),
                admin: Some(true),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    let search = |text: &str| UserQuery {
        search: Some(text.into()),
        ..page(10, 0)
    };
    for (text, want) in [
        ("CY@", vec!["cy@contoso.com"]),
        ("diddley", vec!["bo@contoso.com"]),
        ("100%", vec!["bo@contoso.com"]),
        ("%", vec!["bo@contoso.com"]),
        ("_", vec![]),
        (
            "@contoso",
            vec!["al@contoso.com", "bo@contoso.com", "cy@contoso.com"],
        ),
    ] {
        let found = admin.users.list("contoso", &search(text)).await.unwrap();
        assert_eq!(emails(&found), want, "{text:?}");
        assert_eq!(found.total, want.len() as u64, "{text:?}");
    }
    let admins = UserQuery {
        admin: Some(true),
        ..page(10, 0)
    };
    let found = admin.users.list("contoso", &admins).await.unwrap();
    assert_eq!(emails(&found), ["bo@contoso.com"]);
}

async fn an_account_keeps_an_active_admin(db: &Db) {
    let admin = Admin::open(&db.url).await.unwrap();
    let ann = create(&admin, "contoso", "ann@contoso.com").await;
    let grant = UserPatch {
        admin: Some(true),
        ..UserPatch::default()
    };
    let ann = admin
        .users
        .patch(&Actor::Cli, "contoso", ann.id, &grant)
        .await
        .unwrap();
    let revoke = UserPatch {
        admin: Some(false),
        ..UserPatch::default()
    };
    let disable = UserPatch {
        status: Some(Status::Disabled),
        ..UserPatch::default()
    };
    let token = Actor::Token("hr".into());
    let herself = Actor::User(email("ANN@contoso.com"));
    for actor in [&token, &herself] {
        for patch in [&revoke, &disable] {
            assert!(
                matches!(
                    kind(admin.users.patch(actor, "contoso", ann.id, patch).await),
                    ErrorKind::Conflict | ErrorKind::Forbidden
                ),
                "{actor}"
            );
        }
        assert!(admin.users.delete(actor, "contoso", ann.id).await.is_err());
    }
    assert_eq!(admin.users.get("contoso", ann.id).await.unwrap(), ann);

    // With another active admin, a token may; the admin herself still may not.
    let bob = create(&admin, "contoso", "bob@contoso.com").await;
    admin
        .users
        .patch(&Actor::Cli, "contoso", bob.id, &grant)
        .await
        .unwrap();
    assert_eq!(
        kind(
            admin
                .users
                .patch(&herself, "contoso", ann.id, &revoke)
                .await
        ),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(admin.users.delete(&herself, "contoso", ann.id).await),
        ErrorKind::Forbidden
    );
    let ann = admin
        .users
        .patch(&token, "contoso", ann.id, &revoke)
        .await
        .unwrap();
    assert!(!ann.admin);
    // Bob is the last one now; a disabled admin does not count as one.
    assert_eq!(
        kind(admin.users.patch(&token, "contoso", bob.id, &disable).await),
        ErrorKind::Conflict
    );
    // The operator's command line is how an account is repaired: it is not held back.
    admin
        .users
        .patch(&Actor::Cli, "contoso", bob.id, &disable)
        .await
        .unwrap();
    // A change that keeps the rights (a new name) is never refused.
    let rename = UserPatch {
        name: Some("Bob".into()),
        ..UserPatch::default()
    };
    admin
        .users
        .patch(&token, "contoso", bob.id, &rename)
        .await
        .unwrap();
}

async fn import_of_one_account_writes_no_other(db: &Db) {
    let admin = Admin::open(&db.url).await.unwrap();
    let owner = |e: &Email| match e.domain() {
        "contoso.com" => Some("contoso".to_string()),
        "fabrikam.com" => Some("fabrikam".to_string()),
        _ => None,
    };
    let csv = "email,name,account\nann@contoso.com,Ann,\neve@fabrikam.com,Eve,\nmal@nowhere.example,Mal,fabrikam\n";
    let summary = admin
        .users
        .import(
            &Actor::Token("contoso-api".into()),
            "upload",
            csv,
            &owner,
            Some("contoso"),
        )
        .await
        .unwrap();
    assert_eq!(summary.created, 1, "{summary:?}");
    assert_eq!(
        summary.errors,
        [
            "line 3: eve@fabrikam.com is not of account contoso",
            "line 4: mal@nowhere.example is not of account contoso",
        ]
    );
    let fabrikam = admin
        .users
        .list(
            "fabrikam",
            &UserQuery {
                limit: 10,
                ..UserQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(fabrikam.total, 0);
    let events = admin.audit.list(Some("contoso"), None, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].action.as_str(), events[0].actor.as_str()),
        ("users_imported", "contoso-api")
    );
    assert_eq!(events[0].after.as_ref().unwrap()["errors"], 2);
}

async fn groups_are_kept_per_account(db: &Db) {
    let admin = Admin::open(&db.url).await.unwrap();
    let actor = Actor::Token("entra".into());
    let member = |v: &str| Member {
        value: v.into(),
        display: None,
    };
    let sales = admin
        .groups
        .create(&actor, "contoso", "Sales", Some("g-1"), vec![member("1")])
        .await
        .unwrap();
    admin
        .groups
        .create(&actor, "contoso", "Ops", None, vec![])
        .await
        .unwrap();
    assert_eq!(
        kind(
            admin
                .groups
                .create(&actor, "contoso", " ", None, vec![])
                .await
        ),
        ErrorKind::Invalid
    );
    assert_eq!(admin.groups.get("contoso", &sales.id).await.unwrap(), sales);

    let patch = GroupPatch {
        display_name: Some("Sales EU".into()),
        add: vec![member("2"), member("1")],
        remove: vec!["1".into()],
        ..GroupPatch::default()
    };
    let after = admin
        .groups
        .patch(&actor, "contoso", &sales.id, &patch)
        .await
        .unwrap();
    assert_eq!(after.display_name, "Sales EU");
    assert_eq!(after.members, [member("2")]);
    assert_eq!(admin.groups.get("contoso", &sales.id).await.unwrap(), after);

    let (all, total) = admin.groups.list("contoso", None, 1, 0).await.unwrap();
    assert_eq!((all.len(), total), (1, 2));
    assert_eq!(all[0].display_name, "Ops");
    let (named, total) = admin
        .groups
        .list("contoso", Some("Sales EU"), 10, 0)
        .await
        .unwrap();
    assert_eq!((named[0].id.as_str(), total), (sales.id.as_str(), 1));

    // Another account sees nothing and changes nothing.
    assert_eq!(
        admin.groups.list("fabrikam", None, 10, 0).await.unwrap().1,
        0
    );
    assert_eq!(
        kind(admin.groups.get("fabrikam", &sales.id).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            admin
                .groups
                .patch(&actor, "fabrikam", &sales.id, &patch)
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(admin.groups.delete(&actor, "fabrikam", &sales.id).await),
        ErrorKind::NotFound
    );

    admin
        .groups
        .delete(&actor, "contoso", &sales.id)
        .await
        .unwrap();
    assert_eq!(
        kind(admin.groups.get("contoso", &sales.id).await),
        ErrorKind::NotFound
    );
    let actions: Vec<_> = admin
        .audit
        .list(Some("contoso"), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "group_added",
            "group_added",
            "group_changed",
            "group_deleted"
        ]
    );
}

//! Server time of the account admin console's pages with 10,000 users in the account.
//!
//! Seeds `fabrikam` (a password account, SQLite, as the embedded default) with N users
//! through the management operation the console and the API use (so each also has its
//! audit event): one in 20 waiting in the Waiting Room, one in 50 disabled. An admin is
//! signed in (the session a sign-in opens), and each page is then fetched sequentially
//! over loopback HTTP/1.1 keep-alive from the gateway served in this process, one request
//! at a time (no queueing): the time from sending the request to the last byte of the
//! answer is the server's time plus one loopback round trip, an upper bound of it.
//!
//! `cargo run --release --example console_bench -- [users] [samples]` (defaults 10000,
//! 300). Each page line is `name  p50_ms  p95_ms  max_ms  bytes`, parsed by
//! bench/console.sh.

use std::time::{Duration, Instant};

use chrono::Utc;
use realmgate::accounts::{Cursor, NewUser, Origin, Status, UserQuery};
use realmgate::admin::Actor;
use realmgate::app;
use realmgate::config::Config;
use realmgate::discovery::Email;
use realmgate::session::SessionUser;

/// The pages measured: (name, path under the gateway).
const PAGES: &[(&str, &str)] = &[
    ("home", "/fabrikam/admin"),
    ("users_first_page", "/fabrikam/admin/users"),
    ("users_search", "/fabrikam/admin/users?q=person-42"),
    (
        "users_status_waiting",
        "/fabrikam/admin/users?status=waiting",
    ),
    (
        "users_status_disabled",
        "/fabrikam/admin/users?status=disabled",
    ),
    // Page 150 of 200, as its "Next page" link names it.
    (
        "users_deep_page",
        "/fabrikam/admin/users?after=person-07449%40fabrikam.com",
    ),
    ("domains", "/fabrikam/admin/domains"),
    ("audit", "/fabrikam/admin/audit"),
    ("traces", "/fabrikam/admin/traces"),
];

/// A store query of the Users page: (name, status, search, the address the page starts
/// after).
type UsersQuery = (
    &'static str,
    Option<Status>,
    Option<&'static str>,
    Option<&'static str>,
);

/// The Users page's store queries, timed alone so the
/// page's time splits into the database's and the rest (rendering, HTTP): each is the
/// Waiting Room's page and the list's page, as the handler asks for them.
const USERS_QUERIES: &[UsersQuery] = &[
    ("sql_users_first_page", None, None, None),
    ("sql_users_search", None, Some("person-42"), None),
    (
        "sql_users_status_waiting",
        Some(Status::Waiting),
        None,
        None,
    ),
    (
        "sql_users_status_disabled",
        Some(Status::Disabled),
        None,
        None,
    ),
    (
        "sql_users_deep_page",
        None,
        None,
        Some("person-07449@fabrikam.com"),
    ),
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let users: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let samples: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);

    let dirs = tempfile::tempdir().unwrap();
    let domains = dirs.path().join("domains");
    std::fs::create_dir_all(&domains).unwrap();
    std::fs::write(
        domains.join("fabrikam.toml"),
        "account = \"fabrikam\"\nname = \"Fabrikam\"\ndomains = [\"fabrikam.com\"]\n",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::load(None, Vec::new()).unwrap();
    config.listen = addr;
    config.public_url = format!("http://{addr}").parse().unwrap();
    config.domains_dir = domains;
    config.data_dir = dirs.path().join("data");
    let state = app::build(config).await.unwrap();

    let tenant = state
        .discovery
        .directory
        .by_account("fabrikam")
        .await
        .unwrap()
        .unwrap();
    let seeding = Instant::now();
    let mut admin = None;
    for i in 0..users {
        let email = Email::parse(&format!("person-{i:05}@fabrikam.com")).unwrap();
        let mut new = NewUser::new("fabrikam", email, Origin::Cli, Utc::now());
        new.name = format!("Person {i}");
        new.admin = i == 0;
        let user = state
            .admin
            .users
            .create(&Actor::Cli, &tenant, new, None)
            .await
            .unwrap();
        let status = match i {
            i if i % 20 == 7 => Some(Status::Waiting),
            i if i % 50 == 9 => Some(Status::Disabled),
            _ => None,
        };
        if let Some(status) = status {
            state
                .users
                .set_status("fabrikam", &user.email, status)
                .await
                .unwrap();
        }
        if i == 0 {
            admin = Some(user);
        }
    }
    let admin = admin.expect("at least one user");
    println!(
        "seeded {users} users in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    for (name, status, search, after) in USERS_QUERIES {
        let waiting = UserQuery {
            status: Some(Status::Waiting),
            limit: 50,
            ..UserQuery::default()
        };
        let list = UserQuery {
            status: *status,
            search: search.map(str::to_string),
            limit: 51,
            cursor: after.map(|a| Cursor::After(a.to_string())),
            ..UserQuery::default()
        };
        let mut times = Vec::with_capacity(samples);
        let mut rows = 0;
        for n in 0..samples + samples / 10 {
            let start = Instant::now();
            let a = state.admin.users.list("fabrikam", &waiting).await.unwrap();
            let b = state.admin.users.list("fabrikam", &list).await.unwrap();
            let spent = start.elapsed();
            rows = a.users.len() + b.users.len();
            if n >= samples / 10 {
                times.push(spent);
            }
        }
        times.sort();
        // The last column is the rows read, where the pages' lines have bytes.
        println!(
            "{name:<24} {:>8.3} {:>8.3} {:>8.3} {rows:>8}",
            percentile(&times, 0.50),
            percentile(&times, 0.95),
            percentile(&times, 1.0),
        );
    }
    let session = state
        .sessions
        .create(
            &SessionUser {
                user_id: admin.id,
                account: admin.account.clone(),
                email: admin.email.to_string(),
                name: admin.name.clone(),
                amr: "pwd".into(),
                acr: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();

    let served = state.clone();
    tokio::spawn(async move {
        let listeners = app::Listeners {
            public: listener,
            tls: None,
            metrics: None,
        };
        app::run(listeners, served, std::future::pending())
            .await
            .unwrap()
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = format!("realmgate_session={}", session.id);
    for (name, path) in PAGES {
        let url = format!("http://{addr}{path}");
        let mut times = Vec::with_capacity(samples);
        let mut bytes = 0;
        for n in 0..samples + samples / 10 {
            let start = Instant::now();
            let res = client
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body = res.bytes().await.unwrap();
            let spent = start.elapsed();
            assert!(status.is_success(), "{path}: {status}");
            bytes = body.len();
            // The first tenth warms the caches (session, user status, statements).
            if n >= samples / 10 {
                times.push(spent);
            }
        }
        times.sort();
        println!(
            "{name:<24} {:>8.3} {:>8.3} {:>8.3} {bytes:>8}",
            percentile(&times, 0.50),
            percentile(&times, 0.95),
            percentile(&times, 1.0),
        );
    }
}

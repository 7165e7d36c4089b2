//! One contract suite for every session [`Store`], run against [`MemoryStore`] and the real
//! Redis at `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`), each Redis run under its
//! own random key prefix.
//!
//! When Redis is unreachable the Redis half prints `skipped: redis unreachable` and passes,
//! except under `CI`, where it fails: CI must really exercise the shared store.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use realmgate::session::{
    MemoryStore, RateLimitError, RateLimitPolicy, RateLimiter, RedisStore, RetryAfter, SessionUser,
    Sessions, Store, StoreError,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Short TTL used to watch entries expire, and how long to sleep past it.
const SHORT_TTL: Duration = Duration::from_millis(300);
const PAST_SHORT_TTL: Duration = Duration::from_millis(700);

fn memory() -> Option<Arc<dyn Store>> {
    Some(Arc::new(MemoryStore::new(8 * 1024 * 1024)))
}

async fn redis() -> Option<Arc<dyn Store>> {
    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
    let prefix = format!("realmgate-test:{:016x}:", rand::rng().random::<u64>());
    match RedisStore::connect(&url, &prefix).await {
        Ok(store) => Some(Arc::new(store)),
        Err(e) => unavailable("redis", &e),
    }
}

/// The service availability rule shared by the contract suites.
fn unavailable<T>(service: &str, error: &dyn std::fmt::Display) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{service} unreachable under CI: {error}");
    }
    eprintln!("skipped: {service} unreachable ({error})");
    None
}

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("valid timestamp")
}

/// Runs each contract check as its own test against each store.
macro_rules! contract {
    ($($check:ident),+ $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    if let Some(store) = super::memory() {
                        super::$check(store).await;
                    }
                }
            )+
        }
        mod redis_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    if let Some(store) = super::redis().await {
                        super::$check(store).await;
                    }
                }
            )+
        }
    };
}

contract!(
    put_get_and_expiry,
    take_is_one_time,
    put_if_absent_has_one_winner,
    incr_counts_every_increment,
    incr_ttl_starts_at_first_increment,
    rate_limiter_window_and_backoff,
    sessions_lifecycle,
    sessions_get_new_ids,
    ping_answers,
    extreme_ttls,
    capped_list_keeps_the_newest,
    capped_list_loses_no_concurrent_push,
);

async fn put_get_and_expiry(store: Arc<dyn Store>) {
    assert_eq!(store.get("absent").await.unwrap(), None);
    store.put("k", b"one".to_vec(), SHORT_TTL).await.unwrap();
    assert_eq!(store.get("k").await.unwrap().as_deref(), Some(&b"one"[..]));
    store
        .put("k", b"two".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(store.get("k").await.unwrap().as_deref(), Some(&b"two"[..]));
    store.delete("k").await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), None);
    store.delete("k").await.unwrap();

    store.put("short", b"x".to_vec(), SHORT_TTL).await.unwrap();
    store
        .put("long", b"y".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(PAST_SHORT_TTL).await;
    assert_eq!(
        store.get("short").await.unwrap(),
        None,
        "expired entry must vanish"
    );
    assert_eq!(store.get("long").await.unwrap().as_deref(), Some(&b"y"[..]));
    store.delete("long").await.unwrap();
}

async fn take_is_one_time(store: Arc<dyn Store>) {
    assert_eq!(store.take("pending").await.unwrap(), None);
    store
        .put("pending", b"request".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.take("pending").await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        if let Some(v) = task.await.unwrap() {
            got.push(v);
        }
    }
    assert_eq!(
        got,
        vec![b"request".to_vec()],
        "exactly one taker gets the value"
    );
    assert_eq!(store.get("pending").await.unwrap(), None);

    store
        .put("expiring", b"v".to_vec(), SHORT_TTL)
        .await
        .unwrap();
    tokio::time::sleep(PAST_SHORT_TTL).await;
    assert_eq!(
        store.take("expiring").await.unwrap(),
        None,
        "expired values cannot be taken"
    );
}

async fn put_if_absent_has_one_winner(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..100u32)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let won = store
                    .put_if_absent("replay:abc", i.to_string().into_bytes(), SHORT_TTL)
                    .await
                    .unwrap();
                (i, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, won) = task.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 100 racers wins: {winners:?}"
    );
    let stored = store.get("replay:abc").await.unwrap().unwrap();
    assert_eq!(
        stored,
        winners[0].to_string().into_bytes(),
        "the winner's value is kept"
    );

    tokio::time::sleep(PAST_SHORT_TTL).await;
    assert!(
        store
            .put_if_absent("replay:abc", b"again".to_vec(), SHORT_TTL)
            .await
            .unwrap(),
        "an expired key is absent again"
    );
    assert!(
        !store
            .put_if_absent("replay:abc", b"x".to_vec(), SHORT_TTL)
            .await
            .unwrap()
    );
}

async fn incr_counts_every_increment(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..5 {
                    seen.push(
                        store
                            .incr("counter", Duration::from_secs(60))
                            .await
                            .unwrap(),
                    );
                }
                seen
            })
        })
        .collect();
    let mut all = HashSet::new();
    for task in tasks {
        for n in task.await.unwrap() {
            assert!(all.insert(n), "value {n} returned twice");
        }
    }
    assert_eq!(all, (1..=500).collect::<HashSet<u64>>());
    assert_eq!(
        store.get("counter").await.unwrap().as_deref(),
        Some(&b"500"[..])
    );

    store
        .put("text", b"not a number".to_vec(), SHORT_TTL)
        .await
        .unwrap();
    assert!(matches!(
        store.incr("text", SHORT_TTL).await,
        Err(StoreError::Backend(_))
    ));
}

async fn incr_ttl_starts_at_first_increment(store: Arc<dyn Store>) {
    let ttl = Duration::from_millis(600);
    assert_eq!(store.incr("window", ttl).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(store.incr("window", ttl).await.unwrap(), 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    // 800 ms after the first increment: a sliding TTL would still hold 2.
    assert_eq!(
        store.incr("window", ttl).await.unwrap(),
        1,
        "the window must not slide"
    );
}

async fn rate_limiter_window_and_backoff(store: Arc<dyn Store>) {
    let limiter = RateLimiter::new(
        store,
        RateLimitPolicy {
            limit: 3,
            window: Duration::from_secs(60),
            lockout_after: 3,
            failure_window: Duration::from_secs(60),
            base_lockout: Duration::from_secs(10),
            max_lockout: Duration::from_secs(40),
        },
    );
    // Fixed window: three attempts, then a wait until the window ends.
    let start = t(0) - TimeDelta::seconds(t(0).timestamp() % 60);
    for _ in 0..3 {
        limiter.check("ip", "203.0.113.7", start).await.unwrap();
    }
    match limiter
        .check("ip", "203.0.113.7", start + TimeDelta::seconds(15))
        .await
    {
        Err(RateLimitError::Limited(r)) => assert_eq!(r, RetryAfter(Duration::from_secs(45))),
        other => panic!("expected a limit, got {other:?}"),
    }
    limiter
        .check("ip", "203.0.113.8", start)
        .await
        .expect("other keys are independent");
    limiter
        .check("other-scope", "203.0.113.7", start)
        .await
        .expect("scopes are independent");
    limiter
        .check("ip", "203.0.113.7", start + TimeDelta::seconds(60))
        .await
        .expect("a new window starts afresh");

    // Back-off: lockouts from the third failure, doubling up to the cap.
    let key = "contoso/alice@contoso.com";
    let now = t(1000);
    assert_eq!(limiter.failure("login", key, now).await.unwrap(), None);
    assert_eq!(limiter.failure("login", key, now).await.unwrap(), None);
    limiter
        .check("login", key, now)
        .await
        .expect("two failures do not lock");
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(
            limiter
                .failure("login", key, now)
                .await
                .unwrap()
                .map(|r| r.0.as_secs()),
        );
    }
    assert_eq!(got, vec![Some(10), Some(20), Some(40), Some(40)]);
    match limiter
        .check("login", key, now + TimeDelta::seconds(1))
        .await
    {
        Err(RateLimitError::Limited(r)) => assert_eq!(r.seconds(), 39),
        other => panic!("expected a lockout, got {other:?}"),
    }
    limiter
        .check("login", key, now + TimeDelta::seconds(41))
        .await
        .expect("the lockout ends");
    limiter.success("login", key).await.unwrap();
    assert_eq!(
        limiter.failure("login", key, now).await.unwrap(),
        None,
        "success forgets failures"
    );
}

fn alice() -> SessionUser {
    SessionUser {
        user_id: 42,
        account: "contoso".into(),
        email: "alice@contoso.com".into(),
        name: "Alice".into(),
    }
}

async fn sessions_lifecycle(store: Arc<dyn Store>) {
    let sessions = Sessions::new(store, Duration::from_secs(100), Duration::from_secs(250));
    let s = sessions.create(&alice(), t(0)).await.unwrap();
    assert_eq!(s.id.len(), 43, "256 bits in base64url");
    assert_eq!((s.user_id, s.created_at, s.last_seen), (42, t(0), t(0)));

    let loaded = sessions
        .load(&s.id, t(5))
        .await
        .unwrap()
        .expect("live session");
    assert_eq!(
        (loaded.email.as_str(), loaded.id.as_str()),
        ("alice@contoso.com", s.id.as_str())
    );
    assert_eq!(
        loaded.last_seen,
        t(0),
        "no write within the refresh granularity"
    );

    // Activity slides the idle window...
    let loaded = sessions
        .load(&s.id, t(90))
        .await
        .unwrap()
        .expect("within idle timeout");
    assert_eq!(loaded.last_seen, t(90));
    assert!(sessions.load(&s.id, t(180)).await.unwrap().is_some());
    // ...but not past the absolute lifetime.
    assert!(
        sessions.load(&s.id, t(260)).await.unwrap().is_none(),
        "absolute timeout"
    );
    assert!(
        sessions.load(&s.id, t(181)).await.unwrap().is_none(),
        "an expired session is deleted, not just hidden"
    );

    let idle = sessions.create(&alice(), t(0)).await.unwrap();
    assert!(
        sessions.load(&idle.id, t(100)).await.unwrap().is_none(),
        "idle timeout"
    );

    let gone = sessions.create(&alice(), t(0)).await.unwrap();
    sessions.destroy(&gone.id).await.unwrap();
    assert!(
        sessions.load(&gone.id, t(1)).await.unwrap().is_none(),
        "destroyed"
    );
    sessions.destroy(&gone.id).await.unwrap();

    assert!(sessions.load("not-an-id", t(1)).await.unwrap().is_none());
    let mut forged = gone.id.clone();
    forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
    assert!(sessions.load(&forged, t(1)).await.unwrap().is_none());
}

async fn sessions_get_new_ids(store: Arc<dyn Store>) {
    let sessions = Sessions::new(store, Duration::from_secs(100), Duration::from_secs(200));
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let s = sessions.create(&alice(), t(0)).await.unwrap();
        assert!(ids.insert(s.id.clone()), "every login gets a new id");
        assert!(sessions.load(&s.id, t(1)).await.unwrap().is_some());
    }
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

/// An unreachable Redis fails fast with `Unreachable` instead of hanging.
#[tokio::test]
async fn unreachable_redis_fails_fast() {
    let started = std::time::Instant::now();
    let result = RedisStore::connect("redis://127.0.0.1:1", "x:").await;
    assert!(
        matches!(result, Err(StoreError::Unreachable { .. })),
        "{:?}",
        result.err()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn open_picks_the_store() {
    let store = realmgate::session::open("memory").await.unwrap();
    store.ping().await.unwrap();
    assert!(matches!(
        realmgate::session::open("memcached://x").await,
        Err(StoreError::BadUrl(_))
    ));
}

/// A Redis that accepts connections but never answers (a hung server, a black-holed
/// network) fails fast too.
#[tokio::test]
async fn silent_redis_fails_fast() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let result = RedisStore::connect(&format!("redis://{addr}"), "x:").await;
    assert!(
        matches!(result, Err(StoreError::Unreachable { .. })),
        "{:?}",
        result.err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A TCP proxy to Redis that can stop forwarding, to cut the store off mid-flight.
async fn pausable_proxy(upstream: String) -> (String, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicBool::new(true));
    let gate = Arc::clone(&open);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pipe(client_read, server_write, Arc::clone(&gate)));
            tokio::spawn(pipe(server_read, client_write, Arc::clone(&gate)));
        }
    });
    (format!("redis://{addr}"), open)
}

/// Copies bytes while `gate` is open; holds them back (without closing) while it is shut.
async fn pipe(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    gate: Arc<AtomicBool>,
) {
    let wait_open = || async {
        while !gate.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let mut buf = [0u8; 4096];
    loop {
        wait_open().await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Data read just before a pause is held back too.
        wait_open().await;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Once connected, a Redis that stops answering turns each call into a quick
/// `Unavailable`, and the store recovers by itself when Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_fast_and_recovers() {
    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
    let upstream = match url::Url::parse(&url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or("127.0.0.1"),
            u.port().unwrap_or(6379)
        ),
        Err(e) => panic!("TEST_REDIS_URL: {e}"),
    };
    if tokio::net::TcpStream::connect(&upstream).await.is_err() {
        let _: Option<()> = unavailable("redis", &"no TCP connection");
        return;
    }
    let (proxy_url, open) = pausable_proxy(upstream).await;
    let prefix = format!("realmgate-test:{:016x}:", rand::rng().random::<u64>());
    let store = RedisStore::connect(&proxy_url, &prefix).await.unwrap();
    store
        .put("k", b"v".to_vec(), Duration::from_secs(30))
        .await
        .unwrap();

    open.store(false, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let result = store.get("k").await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    open.store(true, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match store.get("k").await {
            Ok(v) => {
                assert_eq!(v.as_deref(), Some(&b"v"[..]));
                break;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not yet recovered: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the store did not recover: {e}"),
        }
    }
}

/// Extreme TTLs are clamped rather than refused or overflowing.
async fn extreme_ttls(store: Arc<dyn Store>) {
    store
        .put("forever", b"v".to_vec(), Duration::MAX)
        .await
        .unwrap();
    assert_eq!(
        store.get("forever").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert!(
        store
            .put_if_absent("forever2", b"v".to_vec(), Duration::MAX)
            .await
            .unwrap()
    );
    assert_eq!(store.incr("forever3", Duration::MAX).await.unwrap(), 1);
    store
        .put("zero", b"v".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.get("zero").await.unwrap(), None);
    for key in ["forever", "forever2", "forever3"] {
        store.delete(key).await.unwrap();
    }
}

/// A capped list: newest first, never longer than its bound, gone with its TTL (which each
/// push renews), and a key holding something else is an error, not a silent overwrite.
async fn capped_list_keeps_the_newest(store: Arc<dyn Store>) {
    assert!(store.list("log").await.unwrap().is_empty());
    for v in ["a", "b", "c"] {
        store
            .push_capped("log", v.as_bytes().to_vec(), 2, SHORT_TTL)
            .await
            .unwrap();
    }
    assert_eq!(
        store.list("log").await.unwrap(),
        [b"c".to_vec(), b"b".to_vec()]
    );
    // A bound of 0 still keeps the value just pushed (never "keep everything").
    store
        .push_capped("log", b"d".to_vec(), 0, SHORT_TTL)
        .await
        .unwrap();
    assert_eq!(store.list("log").await.unwrap(), [b"d".to_vec()]);
    // Empty and binary values survive the round trip.
    store
        .push_capped("bin", vec![], 3, SHORT_TTL)
        .await
        .unwrap();
    store
        .push_capped("bin", vec![0, 0, 0, 9, 255], 3, SHORT_TTL)
        .await
        .unwrap();
    assert_eq!(
        store.list("bin").await.unwrap(),
        [vec![0, 0, 0, 9, 255], vec![]]
    );
    tokio::time::sleep(PAST_SHORT_TTL).await;
    assert!(store.list("log").await.unwrap().is_empty());

    store
        .put("text", b"not a list".to_vec(), SHORT_TTL)
        .await
        .unwrap();
    assert!(matches!(
        store.push_capped("text", b"x".to_vec(), 5, SHORT_TTL).await,
        Err(StoreError::Backend(_))
    ));
    assert_eq!(
        store.get("text").await.unwrap().as_deref(),
        Some(&b"not a list"[..])
    );
}

/// Many instances append at once: every push lands (below the bound), none twice.
async fn capped_list_loses_no_concurrent_push(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..40)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..5 {
                    store
                        .push_capped(
                            "shared-log",
                            format!("{t}-{i}").into_bytes(),
                            1000,
                            Duration::from_secs(60),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let all: HashSet<Vec<u8>> = store
        .list("shared-log")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(all.len(), 200);
    // Beyond the bound, the oldest go.
    for i in 0..10 {
        store
            .push_capped(
                "shared-log",
                format!("new-{i}").into_bytes(),
                150,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    let kept = store.list("shared-log").await.unwrap();
    assert_eq!(kept.len(), 150);
    assert_eq!(kept[0], b"new-9");
    assert_eq!(kept[9], b"new-0");
}

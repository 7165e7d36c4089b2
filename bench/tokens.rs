//! Token endpoint and access-token throughput, measured in one run so the figures compare:
//!
//! - `es256_sign`: signing one access token (the gateway's ES256 key, its real claims);
//! - `es256_verify`: what a resource server does per request: `jsonwebtoken::decode` with
//!   the key taken from the gateway's JWKS, checking signature, `exp` and `aud`;
//! - `code_exchange`: `OAuth::token` with the `authorization_code` grant in-process: take
//!   the one-time code from the store, check client, redirect URI and PKCE S256, look the
//!   user up in SQLite, mint the refresh family and sign the access token. Codes are minted
//!   beforehand (outside the timing) through `begin` + `issue_code`, as `/oauth2/resume`
//!   does;
//! - `http_token_c{N}`: the same exchange over HTTP, `POST /oauth2/token` on a gateway
//!   served in this process (loopback, HTTP/1.1 keep-alive) by N concurrent clients;
//! - `http_oidc_code_c{N}`: the OpenID Connect exchange over HTTP: a confidential client
//!   (`client_secret_basic`), `scope=openid`, so an ID token is signed too;
//! - `http_client_credentials_c{N}`: a service client's `client_credentials` over HTTP;
//! - `http_client_credentials_api_c{N}`: the same for a service client of the management
//!   API, found in the users' database (through its one-second cache).
//!
//! `cargo run --release --example tokens_bench -- [seconds per measurement] [concurrency]`
//! (defaults: 3 s, 16). `sign`/`verify`/`code_exchange` run on one thread; the HTTP figure
//! uses the multi-threaded runtime (client and server share the machine's cores). Each line
//! is `name  ops/s  ops/s`, parsed by bench/tokens.sh.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use realmgate::accounts::{NewUser, Origin};
use realmgate::admin::Actor;
use realmgate::admin::clients::ClientFields;
use realmgate::app;
use realmgate::config::{Config, OAuthClient};
use realmgate::discovery::Email;
use realmgate::oauth::id_token::SignIn;
use realmgate::oauth::{AuthRequest, Grant, Subject, sha256_base64url};

const CLIENT: &str = "com.example.app";
const REDIRECT: &str = "com.example.app:/cb";
const WEB: &str = "web-app";
const SERVICE: &str = "mfp-shared";
/// A service client created through the management operations (the users' database).
const API_SERVICE: &str = "mfp-api";
const SECRET: &str = "bench-client-secret-0123456789-0123456789-01";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1qcWHRdQ5Mg35hkYXFJiU3Kz8w4Qx9fEnRb2tWQ1a";

fn report(name: &str, ops: u64, elapsed: Duration) -> f64 {
    let rate = ops as f64 / elapsed.as_secs_f64();
    println!("{name:<24} {rate:>12.1} ops/s");
    rate
}

/// Runs `op` for `secs` after a short warm-up; prints ops/s.
fn measure(name: &str, secs: f64, mut op: impl FnMut()) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        op();
    }
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed().as_secs_f64() < secs {
        op();
        n += 1;
    }
    report(name, n, start.elapsed())
}

/// One fresh authorization code for `subject`, as `/oauth2/resume` issues it: for the
/// native client, or with `openid` for the confidential web client (an ID token too).
async fn mint_code(
    state: &realmgate::web::state::AppState,
    subject: &Subject,
    openid: bool,
) -> String {
    let binding = realmgate::secrets::random_token();
    let request = AuthRequest {
        client_id: if openid { WEB } else { CLIENT }.into(),
        redirect_uri: REDIRECT.into(),
        // The confidential client goes without PKCE, as it may.
        code_challenge: (!openid).then(|| sha256_base64url(VERIFIER)),
        state: None,
        login_hint: None,
        binding: sha256_base64url(&binding),
        openid,
        nonce: openid.then(|| "n".to_string()),
        auth_after: None,
    };
    let id = state.oauth.begin(&request).await.unwrap();
    state
        .oauth
        .issue_code(&id, Some(&binding), subject.clone(), sign_in())
        .await
        .unwrap()
        .1
}

fn exchange(code: String) -> Grant {
    Grant::AuthorizationCode {
        code,
        redirect_uri: REDIRECT.into(),
        code_verifier: Some(VERIFIER.into()),
    }
}

/// The sign-in a code comes from, as `/oauth2/resume` reads it from the session.
fn sign_in() -> SignIn {
    SignIn {
        sid: "bench-session".into(),
        auth_time: Utc::now().timestamp(),
        amr: "pwd".into(),
        acr: None,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);

    // A gateway like the tests': temporary dirs, one password tenant, one native client.
    let dirs = tempfile::tempdir().unwrap();
    let domains = dirs.path().join("domains");
    std::fs::create_dir_all(&domains).unwrap();
    std::fs::write(
        domains.join("fabrikam.toml"),
        "account = \"fabrikam\"\ndomains = [\"fabrikam.com\"]\n",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::load(None, Vec::new()).unwrap();
    config.listen = addr;
    config.public_url = format!("http://{addr}").parse().unwrap();
    config.domains_dir = domains;
    config.data_dir = dirs.path().join("data");
    let hash = realmgate::oauth::client_auth::secret_hash(SECRET);
    config.oauth_clients = vec![
        OAuthClient {
            client_id: CLIENT.into(),
            redirect_uris: vec![REDIRECT.into()],
            ..Default::default()
        },
        OAuthClient {
            client_id: WEB.into(),
            redirect_uris: vec![REDIRECT.into()],
            client_secret_hash: Some(hash.clone()),
            ..Default::default()
        },
        OAuthClient {
            client_id: SERVICE.into(),
            client_secret_hash: Some(hash),
            grant_types: vec!["client_credentials".into()],
            account: Some("fabrikam".into()),
            ..Default::default()
        },
    ];
    let state = app::build(config).await.unwrap();
    let client = state.oauth.clients.get(CLIENT).await.unwrap();
    let email = Email::parse("carol@fabrikam.com").unwrap();
    let user = state
        .users
        .add(NewUser::new("fabrikam", email, Origin::Cli, Utc::now()))
        .await
        .unwrap();
    let subject = Subject {
        user_id: user.id,
        email: "carol@fabrikam.com".into(),
        account: "fabrikam".into(),
    };

    println!(
        "== {} cores, {secs}s per measurement, HTTP concurrency {concurrency} ==",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Sign and verify (one thread, synchronous: no runtime involved).
    let oauth = state.oauth.clone();
    let issuer = oauth.issuer.clone();
    measure("es256_sign", secs, || {
        std::hint::black_box(
            oauth
                .keys
                .access_token(&issuer, &subject, CLIENT, Utc::now())
                .unwrap(),
        );
    });
    let token = oauth
        .keys
        .access_token(&issuer, &subject, CLIENT, Utc::now())
        .unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(oauth.keys.jwks()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[CLIENT]);
    validation.set_issuer(&[&issuer]);
    measure("es256_verify", secs, || {
        std::hint::black_box(
            jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap(),
        );
    });

    // In-process code exchange: codes minted ahead, one exchange per timed operation.
    let batch = 2000;
    let (mut n, mut spent) = (0u64, Duration::ZERO);
    while spent.as_secs_f64() < secs {
        let mut codes = Vec::with_capacity(batch);
        for _ in 0..batch {
            codes.push(mint_code(&state, &subject, false).await);
        }
        let start = Instant::now();
        for code in codes {
            std::hint::black_box(
                oauth
                    .token(&client, exchange(code), Utc::now())
                    .await
                    .unwrap(),
            );
            n += 1;
        }
        spent += start.elapsed();
    }
    report("code_exchange", n, spent);

    // Over HTTP: the gateway served here, N clients exchanging pre-minted codes.
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
    let url = format!("http://{addr}/oauth2/token");
    let total = ((secs * 3000.0) as usize).max(concurrency * 50);
    // The native app's exchange (PKCE, no ID token), as before.
    let mut codes = Vec::with_capacity(total);
    for _ in 0..total {
        codes.push(mint_code(&state, &subject, false).await);
    }
    http_run(
        &format!("http_token_c{concurrency}"),
        &url,
        secs,
        concurrency,
        codes,
        |req, code| {
            req.form(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
        },
    )
    .await;
    // OpenID Connect: the confidential web client (client_secret_basic), scope=openid, so
    // each answer also signs an ID token.
    let mut codes = Vec::with_capacity(total);
    for _ in 0..total {
        codes.push(mint_code(&state, &subject, true).await);
    }
    http_run(
        &format!("http_oidc_code_c{concurrency}"),
        &url,
        secs,
        concurrency,
        codes,
        |req, code| {
            req.basic_auth(WEB, Some(SECRET)).form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
            ])
        },
    )
    .await;
    // A service client: client_credentials (secret check, tenant allow-list, one signature).
    let tickets = vec![String::new(); total * 4];
    http_run(
        &format!("http_client_credentials_c{concurrency}"),
        &url,
        secs,
        concurrency,
        tickets,
        |req, _| {
            req.basic_auth(SERVICE, Some(SECRET))
                .form(&[("grant_type", "client_credentials")])
        },
    )
    .await;
    // The same for a service client of the management API: looked up in SQLite through
    // the one-second cache instead of the configuration (each item is its secret).
    let fields = ClientFields {
        client_id: Some(API_SERVICE.into()),
        grant_types: vec!["client_credentials".into()],
        account: Some("fabrikam".into()),
        secret: true,
        ..Default::default()
    };
    let (_, secret) = state
        .client_admin
        .create(&Actor::Cli, None, fields)
        .await
        .unwrap();
    http_run(
        &format!("http_client_credentials_api_c{concurrency}"),
        &url,
        secs,
        concurrency,
        vec![secret.unwrap(); total * 4],
        |req, secret| {
            req.basic_auth(API_SERVICE, Some(secret))
                .form(&[("grant_type", "client_credentials")])
        },
    )
    .await;
}

/// `concurrency` clients POST to `url` for `secs`, each request built by `build` from one
/// item of `items` (a pre-minted code, as codes are one-time); prints ops/s.
async fn http_run(
    name: &str,
    url: &str,
    secs: f64,
    concurrency: usize,
    items: Vec<String>,
    build: fn(reqwest::RequestBuilder, &str) -> reqwest::RequestBuilder,
) {
    let queue = Arc::new(std::sync::Mutex::new(items));
    let ok = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (queue, ok, url) = (queue.clone(), ok.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while Instant::now() < deadline {
                let Some(item) = queue.lock().unwrap().pop() else {
                    break;
                };
                let res = build(client.post(&url), &item).send().await.unwrap();
                assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
                res.bytes().await.unwrap();
                ok.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    report(name, ok.load(Ordering::Relaxed), start.elapsed());
}

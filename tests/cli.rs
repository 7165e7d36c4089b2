//! The `realmgate` command line as an operator runs it: the binary, in a directory of its
//! own, with `REALMGATE_*` settings.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A working directory with `domains/` and `data/` (`domains/` only when asked).
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(with_domains: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        if with_domains {
            std::fs::create_dir_all(dir.path().join("domains")).unwrap();
        }
        Self { dir }
    }

    fn domains(&self) -> PathBuf {
        self.dir.path().join("domains")
    }

    fn tenant(&self, name: &str, text: &str) {
        std::fs::write(self.domains().join(name), text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_realmgate"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env("REALMGATE_DOMAINS_DIR", self.domains())
            .env("REALMGATE_DATA_DIR", self.dir.path().join("data"));
        cmd
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FABRIKAM: &str = "account = \"fabrikam\"\ndomains = [\"fabrikam.com\"]\n";

#[test]
fn user_commands_write_audit_events() {
    let site = Site::new(true);
    site.tenant("fabrikam.toml", FABRIKAM);
    let email = ["--account", "fabrikam", "--email", "ann@fabrikam.com"];
    for (command, event) in [
        ("add", "user_added"),
        ("approve", "user_approved"),
        ("disable", "user_disabled"),
    ] {
        let out = site.run(&[&["user", command][..], &email[..]].concat(), "");
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
        let log = text(&out.stderr);
        assert!(
            log.contains(event) && log.contains("ann@fabrikam.com"),
            "{command} wrote no {event} audit line: {log}"
        );
    }
    let csv = site.dir.path().join("users.csv");
    std::fs::write(&csv, "email,name,admin\nbob@fabrikam.com,Bob,false\n").unwrap();
    let out = site.run(&["user", "import", csv.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("users_imported"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn user_add_keeps_its_policy() {
    let site = Site::new(true);
    site.tenant("fabrikam.toml", FABRIKAM);
    let out = site.run(
        &[
            "user",
            "add",
            "--account",
            "fabrikam",
            "--email",
            "eve@contoso.com",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("contoso.com is not one of account fabrikam's domains"),
        "{}",
        text(&out.stderr)
    );
    let out = site.run(
        &[
            "user",
            "add",
            "--account",
            "fabrikam",
            "--email",
            "eve@fabrikam.com",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at least 8 characters"),
        "{}",
        text(&out.stderr)
    );
}

/// A syntax error in one file, a broken certificate in another and an unreachable
/// metadata URL in a third: one `check` names all three.
#[test]
fn check_reports_every_problem_at_once() {
    let site = Site::new(true);
    site.tenant("broken.toml", "account = \"broken\"\ndomains = [\n");
    site.tenant(
        "badcert.toml",
        "account = \"badcert\"\ndomains = [\"badcert.example\"]\n\n[sso]\nissuer = \"https://idp.badcert.example\"\nsso_url = \"https://idp.badcert.example/sso\"\ncertificate = [\"not a certificate\"]\n",
    );
    // Port 1 on the loopback: refused at once, no network needed.
    site.tenant(
        "remote.toml",
        "account = \"remote\"\ndomains = [\"remote.example\"]\n\n[sso]\nidp_metadata_url = \"https://127.0.0.1:1/metadata\"\n",
    );
    let out = site.run(&["check"], "");
    let report = text(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("broken.toml"), "{report}");
    assert!(report.contains("badcert.toml"), "{report}");
    assert!(
        report.contains("remote.toml")
            && report.contains("account remote")
            && report.contains("https://127.0.0.1:1/metadata"),
        "{report}"
    );
    assert!(report.contains("3 problem(s) found"), "{report}");
}

/// `check` holds an OpenID Connect tenant to the same words: its settings, its provider
/// fetched (configuration and keys), its private_key_jwt key read.
#[test]
fn check_validates_oidc_tenants() {
    let site = Site::new(true);
    let oidc = |account: &str, client: &str| {
        format!(
            "account = \"{account}\"\ndomains = [\"{account}.example\"]\n\n[sso]\nprotocol = \"oidc\"\nissuer = \"https://127.0.0.1:1\"\nclient_id = \"realmgate\"\n{client}"
        )
    };
    site.tenant("nocred.toml", &oidc("nocred", ""));
    site.tenant("down.toml", &oidc("down", "client_secret = \"s\"\n"));
    std::fs::write(site.domains().join("bad.key"), "not a key").unwrap();
    site.tenant("badkey.toml", &oidc("badkey", "client_key = \"bad.key\"\n"));
    let out = site.run(&["check"], "");
    let report = text(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains("nocred.toml")
            && report.contains("exactly one of client_secret or client_key"),
        "{report}"
    );
    assert!(
        report.contains("down.toml")
            && report.contains("OpenID Connect provider")
            && report.contains("https://127.0.0.1:1/.well-known/openid-configuration"),
        "{report}"
    );
    assert!(
        report.contains("badkey.toml") && report.contains("not a PEM private key"),
        "{report}"
    );
    assert!(report.contains("4 problem(s) found"), "{report}");
}

/// A first `serve` where no `domains/` exists yet: it starts, says where tenants go, and
/// serves the first tenant file once the directory is created.
#[tokio::test]
async fn serve_without_a_tenant_directory_starts_and_follows_it() {
    let site = Site::new(false);
    let port = common::free_port();
    let log_path = site.dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = site
        .command(&["serve"])
        .env("REALMGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "REALMGATE_METRICS_LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Kill(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            Instant::now() < deadline,
            "serve did not start: {}",
            std::fs::read_to_string(&log_path).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logged.contains("no tenant directory") && logged.contains("domains"),
        "{logged}"
    );
    std::fs::create_dir_all(site.domains()).unwrap();
    common::write_atomic(&site.domains().join("fabrikam.toml"), FABRIKAM);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer: serde_json::Value = http
            .post(format!("{url}/api/v1/discover"))
            .json(&serde_json::json!({"email": "ann@fabrikam.com"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["account"] == "fabrikam" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new tenant directory was never loaded: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// TLS is an option of the one serving path: the public listener over HTTPS keeps
/// `/metrics` off it, and the metrics listener still answers.
#[tokio::test]
async fn serve_over_tls_keeps_metrics_apart() {
    let site = Site::new(true);
    site.tenant("fabrikam.toml", FABRIKAM);
    let tls = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (
        site.dir.path().join("tls.pem"),
        site.dir.path().join("tls.key"),
    );
    std::fs::write(&cert, tls.cert.pem()).unwrap();
    std::fs::write(&key, tls.signing_key.serialize_pem()).unwrap();
    let (port, metrics_port) = (common::free_port(), common::free_port());
    let child = site
        .command(&["serve"])
        .env("REALMGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("REALMGATE_PUBLIC_URL", format!("https://127.0.0.1:{port}"))
        .env(
            "REALMGATE_METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("REALMGATE_TLS_CERT", &cert)
        .env("REALMGATE_TLS_KEY", &key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Kill(child);
    let https = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !https
        .get(format!("{url}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "serve over TLS did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let public = https.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("realmgate_http_requests_total")
    );
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `token create` prints the token once, on standard output; `list` shows names and never a
/// value; the database holds only the SHA-256; `revoke` removes it; each change is audited.
#[test]
fn token_commands_show_the_token_once_and_store_its_hash() {
    let site = Site::new(true);
    let out = site.run(
        &[
            "token",
            "create",
            "--name",
            "entra",
            "--account",
            "contoso",
            "--scope",
            "scim",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.starts_with("rg_") && token.len() > 40, "{token:?}");
    assert!(
        text(&out.stderr).contains("token_created"),
        "{}",
        text(&out.stderr)
    );
    let bad = site.run(&["token", "create", "--name", "x", "--scope", "root"], "");
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("use admin or scim"),
        "{}",
        text(&bad.stderr)
    );

    let list = site.run(&["token", "list"], "");
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listed = text(&list.stdout);
    assert!(
        listed.contains("entra") && listed.contains("contoso") && listed.contains("scim"),
        "{listed}"
    );
    assert!(listed.contains("1 token(s)"), "{listed}");
    assert!(
        !listed.contains(&token) && !text(&list.stderr).contains(&token),
        "list shows the token"
    );

    // The database files hold the hash, never the token.
    let stored: Vec<u8> = ["realmgate.db", "realmgate.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(site.dir.path().join("data").join(f)).ok())
        .flatten()
        .collect();
    let stored = String::from_utf8_lossy(&stored);
    use sha2::Digest;
    let hash = realmgate::secrets::hex(&sha2::Sha256::digest(token.as_bytes()));
    assert!(stored.contains(&hash), "the hash is stored");
    assert!(!stored.contains(&token), "the token itself is stored");

    let out = site.run(&["token", "revoke", "entra"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("token_revoked"),
        "{}",
        text(&out.stderr)
    );
    let list = site.run(&["token", "list"], "");
    assert!(
        text(&list.stdout).contains("0 token(s)"),
        "{}",
        text(&list.stdout)
    );
    let again = site.run(&["token", "revoke", "entra"], "");
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("not found"),
        "{}",
        text(&again.stderr)
    );
}

/// `check` and `user add` see the management API's tenants (in the users' database) beside
/// the files, through the directory the gateway serves them with; a file that later claims
/// an API tenant's domain is a problem `check` names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_user_add_see_the_tenants_of_the_api() {
    use realmgate::admin::Scope;
    let app = common::spawn_app_with(
        |dir| std::fs::write(dir.join("fabrikam.toml"), FABRIKAM).unwrap(),
        |_| {},
    )
    .await;
    let op = common::api::token(&app, "ops", None, Scope::Admin).await;
    let res = common::api::call(
        &app,
        reqwest::Method::POST,
        "/api/v1/tenants",
        Some(&op),
        Some(serde_json::json!({"account": "acme", "name": "Acme", "domains": ["acme.example"]})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_realmgate"))
            .args(args)
            .env_remove("RUST_LOG")
            .env("REALMGATE_DOMAINS_DIR", &app.domains)
            .env("REALMGATE_DATA_DIR", &app.data)
            .output()
            .unwrap()
    };
    let out = cli(&["check"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("ok: configuration, 2 tenant(s), 2 domain(s)"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&[
        "user",
        "add",
        "--account",
        "acme",
        "--email",
        "ann@acme.example",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("added ann@acme.example to acme"),
        "{}",
        text(&out.stdout)
    );
    let ann = realmgate::discovery::Email::parse("ann@acme.example").unwrap();
    assert!(
        app.state
            .users
            .by_email("acme", &ann)
            .await
            .unwrap()
            .is_some()
    );
    // A CSV import finds the API tenant of each row's domain, beside the file tenants.
    let csv = app.data.join("users.csv");
    std::fs::write(
        &csv,
        "email,name\nbea@acme.example,Bea\ncarl@fabrikam.com,Carl\n",
    )
    .unwrap();
    let out = cli(&["user", "import", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("2 created"),
        "{}",
        text(&out.stdout)
    );
    let bea = realmgate::discovery::Email::parse("bea@acme.example").unwrap();
    assert!(
        app.state
            .users
            .by_email("acme", &bea)
            .await
            .unwrap()
            .is_some()
    );
    // The API tenant's domain rule holds from the CLI too.
    let out = cli(&[
        "user",
        "add",
        "--account",
        "acme",
        "--email",
        "x@fabrikam.com",
    ]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    // A file written later with the API tenant's domain: `check` names the conflict.
    std::fs::write(
        app.domains.join("rival.toml"),
        "account = \"rival\"\ndomains = [\"acme.example\"]\n",
    )
    .unwrap();
    let out = cli(&["check"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("domain \"acme.example\" is also claimed by")
            && stdout.contains("rival.toml"),
        "{stdout}"
    );
}

//! IdP metadata known-answer tests: real documents from python3-saml and crewjam/saml, and
//! an Entra-style federation metadata document written by `generate.py`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::saml::*;
use realmgate::discovery::Protocol;
use realmgate::saml::{FetchError, SamlError};
use realmgate::saml::{IdpMetadata, IdpRegistry};

fn parse(path: std::path::PathBuf) -> Result<IdpMetadata, SamlError> {
    IdpMetadata::parse(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn py(name: &str) -> std::path::PathBuf {
    vectors().join("python3-saml/metadata").join(name)
}

fn cj(name: &str) -> std::path::PathBuf {
    vectors().join("crewjam-saml").join(name)
}

#[test]
fn python3_saml_idp_metadata() {
    if !require_vectors() {
        return;
    }
    let m = parse(py("idp_metadata.xml")).expect("parse");
    assert_eq!(m.entity_id, "https://app.onelogin.com/saml/metadata/383123");
    assert_eq!(m.certs.len(), 1);
    assert!(m.sso_redirect.is_some());

    let m = parse(py("idp_metadata2.xml")).expect("parse");
    assert_eq!(m.entity_id, "urn:example:idp");

    // Two signing certificates (rollover): both kept.
    assert_eq!(
        parse(py("idp_metadata_multi_certs.xml"))
            .expect("parse")
            .certs
            .len(),
        2
    );
    assert_eq!(
        parse(py("idp_metadata_multi_signing_certs.xml"))
            .expect("parse")
            .certs
            .len(),
        2
    );
    // Encryption-only KeyDescriptors are not signing keys.
    assert_eq!(
        parse(py("idp_metadata_different_sign_and_encrypt_cert.xml"))
            .expect("parse")
            .certs
            .len(),
        1
    );
    // The same certificate for both uses is kept once.
    assert_eq!(
        parse(py("idp_metadata_same_sign_and_encrypt_cert.xml"))
            .expect("parse")
            .certs
            .len(),
        1
    );
    // An aggregate holding an IdP and SPs yields the IdP.
    let m = parse(py("testshib-providers.xml")).expect("parse");
    assert_eq!(m.entity_id, "https://idp.testshib.org/idp/shibboleth");
    assert!(m.sso_redirect.is_some() && m.sso_post.is_some());
}

#[test]
fn ambiguous_or_sp_only_or_broken_metadata_is_refused() {
    if !require_vectors() {
        return;
    }
    // Two IdPs: ambiguous unless the entity is named.
    assert!(matches!(
        parse(py("idp_multiple_descriptors.xml")),
        Err(SamlError::Metadata(_))
    ));
    let bytes = std::fs::read(py("idp_multiple_descriptors.xml")).expect("file");
    // Naming the entity resolves the ambiguity; this file's certificate is a truncated
    // placeholder, so the parse then stops at the certificate, not at the choice of IdP.
    match IdpMetadata::parse_entity(&bytes, Some("https://bar.example.com/access/saml/idp.xml")) {
        Err(SamlError::Metadata(msg)) => assert!(msg.contains("X.509"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    // SP metadata is not IdP metadata.
    for f in [
        "entities_metadata.xml",
        "metadata_settings1.xml",
        "signed_metadata_settings1.xml",
    ] {
        assert!(matches!(parse(py(f)), Err(SamlError::Metadata(_))), "{f}");
    }
    assert!(matches!(
        parse(py("noentity_metadata_settings1.xml")),
        Err(SamlError::Metadata(_))
    ));
    assert!(matches!(
        parse(py("unparsed_metadata.xml")),
        Err(SamlError::Malformed(_))
    ));
}

#[test]
fn crewjam_idp_metadata_shapes() {
    if !require_vectors() {
        return;
    }
    let okta = parse(cj(
        "TestSPCanHandleOktaSignedResponseEncryptedAssertion_IDPMetadata",
    ))
    .expect("okta");
    assert_eq!(okta.entity_id, "http://www.okta.com/exkppsa1qwuFV4D7z0h7");
    assert_eq!(okta.certs.len(), 1);
    assert!(okta.sso_redirect.is_some() && okta.sso_post.is_some());

    let google = parse(cj("TestSPCanHandlePlaintextResponse_IDPMetadata")).expect("google");
    assert_eq!(
        google.entity_id,
        "https://accounts.google.com/o/saml2?idpid=C02dfl1r1"
    );
    assert!(google.sso_redirect.is_none() && google.sso_post.is_some());
    assert_eq!(google.valid_until, Some(at("2021-01-03T16:17:49Z")));

    let samltest = parse(cj("TestGetArtifactBindingLocation_IDPMetadata")).expect("samltest");
    assert_eq!(samltest.certs.len(), 2);

    for f in [
        "SP_IDPMetadata",
        "TestSPCanHandleOneloginResponse_IDPMetadata",
        "TestSPRealWorldAssertionSignedNotResponse_idp_metadata",
        "TestServiceProviderCanHandleSignedAssertionsResponse_IDPMetadata",
    ] {
        let m = parse(cj(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!m.certs.is_empty(), "{f}");
    }
}

#[test]
fn entra_federation_metadata() {
    let m = parse(testdata().join("entra-federationmetadata.xml")).expect("entra");
    assert_eq!(
        m.entity_id,
        "https://sts.windows.net/00000000-1111-2222-3333-444444444444/"
    );
    // RoleDescriptor keys are ignored; the IDPSSODescriptor's two signing certs are kept.
    assert_eq!(m.certs.len(), 2);
    assert_eq!(
        m.sso_redirect.as_ref().map(|u| u.as_str()),
        Some("https://login.microsoftonline.com/00000000-1111-2222-3333-444444444444/saml2")
    );
    assert!(m.sso_post.is_some());
    assert!(m.certs.iter().all(|c| c.not_after.is_some()));
}

#[test]
fn registry_reports_expiring_certificates() {
    if !require_vectors() {
        return;
    }
    // python3-saml's OneLogin certificate expired long ago.
    let m = parse(py("idp_metadata.xml")).expect("parse");
    let reg = IdpRegistry::new(HashMap::from([("onelogin".to_string(), Arc::new(m))]));
    let soon = reg.expiring_certs(at("2026-01-01T00:00:00Z"), Duration::from_secs(30 * 86400));
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0].0, "onelogin");
    reg.record_metrics(at("2026-01-01T00:00:00Z"));
}

#[test]
fn registry_build_reads_files_and_inline_and_names_bad_files() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::copy(
        testdata().join("idp-metadata.xml"),
        d.join("contoso.idp.xml"),
    )
    .expect("copy");
    let pem = std::fs::read_to_string(testdata().join("idp-cert.pem")).expect("pem");
    let write = |name: &str, text: String| std::fs::write(d.join(name), text).expect("write");
    write(
        "contoso.toml",
        "account = \"contoso\"\ndomains = [\"contoso.com\"]\n[sso]\nidp_metadata = \"contoso.idp.xml\"\n".into(),
    );
    write(
        "fabrikam.toml",
        format!(
            "account = \"fabrikam\"\ndomains = [\"fabrikam.com\"]\n[sso]\nissuer = \"https://sts.fabrikam.com/\"\nsso_url = \"https://sts.fabrikam.com/sso\"\ncertificate = \"\"\"{pem}\"\"\"\n"
        ),
    );
    write(
        "remote.toml",
        "account = \"remote\"\ndomains = [\"remote.com\"]\n[sso]\nidp_metadata_url = \"https://login.example.net/federationmetadata.xml\"\n".into(),
    );
    let map = realmgate::discovery::map::load_dir(d).expect("tenant map");
    let built = IdpRegistry::build(&map).expect("all good");
    assert_eq!(built.len(), 2);
    assert_eq!(built["fabrikam"].entity_id, "https://sts.fabrikam.com/");
    assert_eq!(built["contoso"].entity_id, "https://idp.example.com/");
    let urls = IdpRegistry::url_sources(&map);
    assert_eq!(urls.len(), 1);
    assert_eq!(urls[0].account, "remote");

    write(
        "broken.toml",
        "account = \"broken\"\ndomains = [\"broken.com\"]\n[sso]\nidp_metadata = \"missing.xml\"\n"
            .into(),
    );
    write(
        "badcert.toml",
        "account = \"badcert\"\ndomains = [\"badcert.com\"]\n[sso]\nissuer = \"x\"\nsso_url = \"https://x.example/sso\"\ncertificate = \"AAAA\"\n".into(),
    );
    let map = realmgate::discovery::map::load_dir(d).expect("tenant map");
    let problems = IdpRegistry::build(&map).expect_err("two bad tenants");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].source.ends_with("badcert.toml"), "{problems:?}");
    assert_eq!(problems[0].line, Some(6));
    assert!(problems[1].source.ends_with("broken.toml"));
    assert_eq!(problems[1].line, Some(4));
    assert!(problems[1].message.contains("missing.xml"));
}

/// Tenants whose IdP metadata comes from `url` (an AD FS publishing
/// /FederationMetadata/2007-06/FederationMetadata.xml, say).
fn url_tenant(url: String) -> impl FnOnce(&std::path::Path) {
    move |dir: &std::path::Path| {
        std::fs::write(
            dir.join("acme.toml"),
            format!(
                "account = \"acme\"\ndomains = [\"acme.example\"]\n\n[sso]\nidp_metadata_url = \"{url}\"\n"
            ),
        )
        .unwrap();
    }
}

/// The status and Location of `GET /sso/acme/start`.
async fn sso_start(app: &common::TestApp) -> (u16, String) {
    let res = app
        .client()
        .get(app.at("/sso/acme/start"))
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (res.status().as_u16(), location)
}

/// An IdP publishing its metadata over HTTPS at `/FederationMetadata.xml` with a
/// certificate of an internal CA (nothing else is served), on a loopback port.
struct MetadataServer {
    /// The metadata URL.
    url: String,
    /// PEM file of the CA that signed the server's certificate.
    ca: std::path::PathBuf,
    /// The SSO URL the served metadata names.
    sso: String,
    _server: common::metadata::MetadataServer,
}

async fn metadata_server() -> MetadataServer {
    let served = common::example_idp_metadata();
    let sso = IdpMetadata::parse(served.as_bytes())
        .unwrap()
        .sso_redirect
        .expect("the example metadata has a Redirect SSO URL")
        .to_string();
    let server = common::metadata::serve(vec![(
        "/FederationMetadata.xml",
        common::metadata::Answer::body(served),
    )])
    .await;
    MetadataServer {
        url: server.url("/FederationMetadata.xml"),
        ca: server.ca.clone(),
        sso,
        _server: server,
    }
}

/// Polls `GET /sso/acme/start` (every 50 ms, 5 s at most) until it redirects.
async fn sso_start_once_fetched(app: &common::TestApp) -> (u16, String) {
    let mut last = (0, String::new());
    for _ in 0..100 {
        last = sso_start(app).await;
        if last.0 == 303 || last.0 == 302 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

/// An IdP serving its metadata over HTTPS with a certificate of an internal CA: trusted
/// through `idp_metadata_ca`, fetched at start over a real TLS connection, and SSO starts
/// toward the SSO URL it names. Without that setting the same server is not trusted: no
/// metadata, and SSO start answers `idp_metadata_unavailable` (503), not a 500.
#[tokio::test]
async fn metadata_url_over_https_with_an_internal_ca() {
    let MetadataServer { url, ca, sso, .. } = &metadata_server().await;
    let trusted = common::spawn_app_with(url_tenant(url.clone()), |c| {
        c.idp_metadata_ca = Some(ca.clone());
    })
    .await;
    let last = sso_start_once_fetched(&trusted).await;
    assert!(
        last.1.starts_with(sso),
        "SSO start after the fetch: {last:?}"
    );

    let untrusted = common::spawn_app_with(url_tenant(url.clone()), |_| {}).await;
    // Long after a trusted fetch completes (well under a second here), still nothing.
    for _ in 0..40 {
        assert_eq!(sso_start(&untrusted).await.0, 503);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A file that is not a PEM bundle is a start-up error, not an empty trust store.
    std::fs::write(ca, "not a certificate").unwrap();
    assert!(realmgate::saml::http_client(Some(ca)).is_err());
}

/// Reloads the gateway's `domains/` after `edit` and fails on any problem.
async fn reload_after(app: &common::TestApp, edit: impl FnOnce(&std::path::Path)) {
    edit(&app.domains);
    realmgate::app::reload(&app.state)
        .await
        .expect("the edited tenant map loads");
}

/// The refreshers follow the tenant map without a restart: a tenant that gains a metadata
/// URL in a reload is fetched and can sign in; when its URL changes, the copy from the old
/// URL is dropped at once (it may be another IdP's keys) and SSO answers 503 until the new
/// URL serves metadata; a removed tenant is gone.
#[tokio::test]
async fn a_reload_starts_and_stops_metadata_refreshers() {
    let MetadataServer { url, ca, sso, .. } = &metadata_server().await;
    let app = common::spawn_app_with(|_| {}, |c| c.idp_metadata_ca = Some(ca.clone())).await;
    assert_eq!(sso_start(&app).await.0, 404, "no tenant acme yet");

    reload_after(&app, url_tenant(url.clone())).await;
    let last = sso_start_once_fetched(&app).await;
    assert!(
        last.1.starts_with(sso),
        "SSO start after the reload: {last:?}"
    );

    // Same server, a path that serves nothing: the fetch fails, nothing is kept.
    reload_after(
        &app,
        url_tenant(url.replace("FederationMetadata.xml", "moved.xml")),
    )
    .await;
    for _ in 0..20 {
        assert_eq!(sso_start(&app).await.0, 503, "no IdP for the new URL");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    reload_after(&app, |d| std::fs::remove_file(d.join("acme.toml")).unwrap()).await;
    assert_eq!(sso_start(&app).await.0, 404, "tenant removed");
}

/// Log lines of the events on this thread while the guard lives: a `#[tokio::test]` runs
/// the gateway's tasks (its refreshers too) on its one thread.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        // A process-wide subscriber that enables info and above everywhere: tracing caches
        // whether a log line is wanted, and a line first reached by another test's thread,
        // with no subscriber, would stay disabled for this one's too.
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_writer(std::io::sink)
                .finish(),
        );
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

async fn scrape(app: &common::TestApp) -> String {
    let res = app
        .client()
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap();
    res.text().await.unwrap()
}

/// `fetch_metadata` is bounded in time and says why a URL gave no metadata: for TLS, what
/// rustls said of the server's certificate; for a server that never answers, the bound.
#[tokio::test]
async fn a_metadata_fetch_is_bounded_and_names_its_failure() {
    let MetadataServer { url, ca, .. } = &metadata_server().await;
    let url = url::Url::parse(url).unwrap();
    let timeout = Duration::from_secs(5);
    let trusted = realmgate::saml::http_client(Some(ca)).unwrap();
    let m = realmgate::saml::fetch_metadata(&trusted, &url, Protocol::Saml2, timeout)
        .await
        .expect("trusted through idp_metadata_ca");
    assert!(!m.certs.is_empty());

    let public_roots = realmgate::saml::http_client(None).unwrap();
    let err = realmgate::saml::fetch_metadata(&public_roots, &url, Protocol::Saml2, timeout)
        .await
        .expect_err("an internal CA is not a public root");
    assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // Accepts connections and never answers (not even the TLS handshake).
    let url = url::Url::parse(&common::metadata::silent_url().await).unwrap();
    let started = std::time::Instant::now();
    let err = realmgate::saml::fetch_metadata(
        &trusted,
        &url,
        Protocol::Saml2,
        Duration::from_millis(300),
    )
    .await
    .expect_err("no answer");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
}

/// Runs `realmgate check` on `domains` with `REALMGATE_*` settings `env`.
async fn realmgate_check(
    domains: &std::path::Path,
    env: &[(&str, &std::path::Path)],
) -> (bool, String) {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_realmgate"));
    cmd.arg("check")
        .env("REALMGATE_DOMAINS_DIR", domains)
        .env("REALMGATE_DATA_DIR", data.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `realmgate check` fetches every metadata URL: one whose server's certificate is not
/// trusted fails the check, naming the tenant file, the account and the TLS reason, where
/// it passed before and the tenant then had no IdP at run time.
#[tokio::test]
async fn check_fetches_every_metadata_url() {
    let MetadataServer { url, ca, .. } = &metadata_server().await;
    let domains = tempfile::tempdir().unwrap();
    url_tenant(url.clone())(domains.path());

    let (ok, out) = realmgate_check(domains.path(), &[]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("acme.toml:")
            && out.contains("account acme: IdP metadata unavailable")
            && out.contains("UnknownIssuer"),
        "{out}"
    );

    let (ok, out) = realmgate_check(domains.path(), &[("REALMGATE_IDP_METADATA_CA", ca)]).await;
    assert!(ok && out.contains("1 IdP(s)"), "{out}");
}

/// A tenant whose metadata URL never gave a copy: its SSO start answers a page with the
/// stable code `idp_metadata_unavailable` (not "try again in a minute"), the log says
/// the metadata is unavailable for that account and never claims a last good copy, and
/// the refusal is counted with the account.
#[tokio::test]
async fn a_tenant_whose_metadata_never_arrived_is_told_so() {
    let (logs, _guard) = Logs::capture();
    let MetadataServer { url, .. } = &metadata_server().await;
    let app = common::spawn_app_with(url_tenant(url.clone()), |_| {}).await;
    let mut failed = Vec::new();
    for _ in 0..100 {
        failed = logs.lines_with("IdP metadata unavailable");
        if !failed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        failed.len() == 1
            && failed[0].contains("account=\"acme\"")
            && failed[0].contains("UnknownIssuer"),
        "{failed:?}"
    );
    assert!(logs.lines_with("last good copy").is_empty());

    let res = app
        .client()
        .get(app.at("/sso/acme/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("idp_metadata_unavailable") && !page.contains("in a minute"),
        "{page}"
    );
    let refused = logs.lines_with("code=\"idp_metadata_unavailable\"");
    assert!(
        refused
            .iter()
            .any(|l| l.contains("account=\"acme\"") && l.contains("request refused")),
        "{refused:?}"
    );
    let metrics = scrape(&app).await;
    assert!(
        metrics.contains(
            r#"realmgate_login_errors_total{code="idp_metadata_unavailable",account="acme"}"#
        ),
        "{metrics}"
    );
}

/// A response the tenant's IdP certificate does not verify (as after an unannounced key
/// rollover) is refused with a log line and a metric that name the tenant's account.
#[tokio::test]
async fn an_sso_refusal_names_the_account() {
    let (logs, _guard) = Logs::capture();
    let app = common::spawn_app_with(
        |dir| {
            std::fs::copy(testdata().join("idp-metadata.xml"), dir.join("idp.xml")).unwrap();
            std::fs::write(
                dir.join("contoso.toml"),
                "account = \"contoso\"\ndomains = [\"contoso.com\"]\n[sso]\nidp_metadata = \"idp.xml\"\n",
            )
            .unwrap();
        },
        |c| c.public_url = "https://login.example.com".parse().unwrap(),
    )
    .await;
    let relay = app
        .state
        .login
        .remember_pending(
            "_0123456789abcdef0123456789abcdef",
            "contoso",
            None,
            "browser",
        )
        .await
        .unwrap();
    let res = app
        .client()
        .post(app.at("/auth/saml/callback"))
        .header("cookie", "__Host-realmgate_sso=browser")
        .form(&[
            (
                "SAMLResponse",
                response_b64(&testdata().join("attacker_signed_response.xml")),
            ),
            ("RelayState", relay),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let refused = logs.lines_with("SSO login refused");
    assert!(
        refused.len() == 1
            && refused[0].contains("code=\"signature_invalid\"")
            && refused[0].contains("account=\"contoso\""),
        "{refused:?}"
    );
    let metrics = scrape(&app).await;
    assert!(
        metrics.contains(
            r#"realmgate_login_errors_total{code="signature_invalid",account="contoso"}"#
        ),
        "{metrics}"
    );
}

//! An IdP publishing Federation Metadata over HTTPS on a loopback port, with a certificate
//! of its own internal CA (a gateway trusts it through `idp_metadata_ca`), counting the
//! requests it answers; and the URLs that fail otherwise: a server that accepts and never
//! answers, a port nobody listens on.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What one path of the server answers.
#[derive(Clone)]
pub enum Answer {
    /// 200 with this body.
    Body(Vec<u8>),
    /// This status with this body.
    Status(u16, String),
    /// 302 to this location.
    Redirect(String),
}

impl Answer {
    /// 200 with `body`.
    pub fn body(body: impl Into<Vec<u8>>) -> Self {
        Answer::Body(body.into())
    }
}

/// A running metadata server.
pub struct MetadataServer {
    /// `https://localhost:{port}`.
    pub base: String,
    /// The port it listens on.
    pub port: u16,
    /// PEM file of the CA that signed its certificate (the certificate itself).
    pub ca: PathBuf,
    /// How many requests it has answered.
    pub hits: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl MetadataServer {
    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// How many requests it has answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Serves `routes` (path, answer) over HTTPS as `localhost`; any other path is 404.
pub async fn serve(routes: Vec<(&str, Answer)>) -> MetadataServer {
    realmgate::app::install_crypto_provider();
    let tls = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("internal-ca.pem");
    std::fs::write(&ca, tls.cert.pem()).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let mut idp = axum::Router::new();
    for (path, answer) in routes {
        let hits = hits.clone();
        idp = idp.route(
            path,
            axum::routing::get(move || {
                let answer = answer.clone();
                hits.fetch_add(1, Ordering::SeqCst);
                async move { respond(answer) }
            }),
        );
    }
    let counted = hits.clone();
    let idp = idp.fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { StatusCode::NOT_FOUND }
    });
    let rustls = axum_server::tls_rustls::RustlsConfig::from_pem(
        tls.cert.pem().into_bytes(),
        tls.signing_key.serialize_pem().into_bytes(),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = axum_server::from_tcp_rustls(listener, rustls).unwrap();
    tokio::spawn(server.serve(idp.into_make_service()));
    MetadataServer {
        base: format!("https://localhost:{port}"),
        port,
        ca,
        hits,
        _dir: dir,
    }
}

fn respond(answer: Answer) -> Response {
    match answer {
        Answer::Body(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            body,
        )
            .into_response(),
        Answer::Status(status, body) => {
            (StatusCode::from_u16(status).unwrap(), body).into_response()
        }
        Answer::Redirect(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
    }
}

/// An https URL of a server that accepts connections and never answers (not even the TLS
/// handshake), for as long as the test's runtime lives.
pub async fn silent_url() -> String {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    format!("https://localhost:{port}/FederationMetadata.xml")
}

/// An https URL of a loopback port nobody listens on: the connection is refused.
pub fn closed_url() -> String {
    let port = super::free_port();
    format!("https://localhost:{port}/FederationMetadata.xml")
}

/// The example IdP's metadata (`common::example_idp_metadata`) with its signing
/// certificate replaced by a fresh one that expires in `days` days.
pub fn expiring_in(days: i64) -> String {
    use base64::Engine;
    use chrono::Datelike;
    let end = chrono::Utc::now() + chrono::Duration::days(days);
    let mut params = rcgen::CertificateParams::new(vec!["idp.example".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let md = super::example_idp_metadata();
    let start = md.find("<X509Certificate>").unwrap() + "<X509Certificate>".len();
    let end = start + md[start..].find('<').unwrap();
    format!("{}{b64}{}", &md[..start], &md[end..])
}

/// An SP's metadata: an entity with no IdP role at all.
pub const SP_ONLY: &str = r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/></SPSSODescriptor></EntityDescriptor>"#;

/// An IdP's Federation Metadata server with what an admin may point at, right or wrong:
/// - `/saml.xml`: the example IdP (an IDPSSODescriptor only);
/// - `/sts.xml`: AD FS's document, with the WS-Federation STS role beside the SAML one;
/// - `/soon.xml`: the example IdP with a certificate expiring in 10 days;
/// - `/gone.xml` (404), `/down.xml` (503);
/// - `/text`: not XML; `/login.html`: a sign-in page, XML but not metadata;
/// - `/sp.xml`: an SP's metadata (no IdP role);
/// - `/encryption-only.xml`: the example IdP whose only key is for encryption;
/// - `/huge.xml`: the example IdP past the 4 MiB cap;
/// - `/to-http`: a redirect to a plain http URL.
pub async fn federation_idp() -> MetadataServer {
    let saml = super::example_idp_metadata();
    let sts = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/wsfed/sts-metadata.xml"
    ))
    .unwrap();
    let huge = format!(
        "<!-- {} -->{saml}",
        "x".repeat(realmgate::saml::metadata::MAX_METADATA_BYTES)
    );
    serve(vec![
        ("/saml.xml", Answer::body(saml.clone())),
        ("/sts.xml", Answer::body(sts)),
        ("/soon.xml", Answer::body(expiring_in(10))),
        ("/gone.xml", Answer::Status(404, "Not Found".into())),
        (
            "/down.xml",
            Answer::Status(503, "Service Unavailable".into()),
        ),
        ("/text", Answer::body("this is not XML, just text")),
        (
            "/login.html",
            Answer::body("<html><body><form><input name=\"login\"/></form></body></html>"),
        ),
        ("/sp.xml", Answer::body(SP_ONLY)),
        (
            "/encryption-only.xml",
            Answer::body(saml.replace("use=\"signing\"", "use=\"encryption\"")),
        ),
        ("/huge.xml", Answer::body(huge)),
        (
            "/to-http",
            Answer::Redirect("http://127.0.0.1:1/saml.xml".into()),
        ),
    ])
    .await
}

//! The WS-Trust test STS (`tests/idp/wstrust_sts.py`, AD FS's `usernamemixed` endpoint
//! signing with xmlsec1 at request time) as a child process over HTTPS with a certificate
//! made here, which the gateway must trust (`idp_metadata_ca`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running STS; killed on drop.
pub struct Sts {
    /// The `usernamemixed` endpoint (`wstrust_url`).
    pub endpoint: String,
    /// Its Federation Metadata URL (`idp_metadata_url`).
    pub metadata: String,
    /// Its TLS certificate, to trust as `idp_metadata_ca`.
    pub ca: PathBuf,
    last: String,
    client: reqwest::Client,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Sts {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sts {
    /// Starts the STS accepting `password` for every user; `None` (skip) when the venv or
    /// xmlsec1 is missing outside CI.
    pub fn start(password: &str) -> Option<Sts> {
        let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
        if !super::require_program(py.to_str().unwrap())
            || !super::require_program("/usr/bin/xmlsec1")
        {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        super::tls_leaf(dir.path());
        let p = |n: &str| dir.path().join(n);
        let mut cmd = Command::new(&py);
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/idp/wstrust_sts.py"
        ))
        .env("STS_CERT", p("cert.pem"))
        .env("STS_KEY", p("key.pem"))
        .env("STS_PASSWORD", password)
        .env("STS_READY_FILE", p("ready.json"))
        .stdout(Stdio::null());
        if std::env::var_os("IDP_LOG").is_none() {
            cmd.stderr(Stdio::null());
        }
        let child = cmd.spawn().unwrap();
        let ready: serde_json::Value =
            serde_json::from_str(&super::wait_for_file(&p("ready.json"), "the test STS")).unwrap();
        let cert = std::fs::read(p("cert.pem")).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
            .build()
            .unwrap();
        let field = |k: &str| ready[k].as_str().unwrap().to_string();
        Some(Sts {
            endpoint: field("endpoint"),
            metadata: field("metadata"),
            last: field("last"),
            ca: p("cert.pem"),
            client,
            child,
            _dir: dir,
        })
    }

    /// What the STS read from the last request it received (never the password: only
    /// whether it was the right one).
    pub async fn last_request(&self) -> serde_json::Value {
        self.client
            .get(&self.last)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

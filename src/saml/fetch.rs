//! The HTTPS client side of `idp_metadata_url`: the one place in `saml` that does network
//! I/O. It is an HTTP *client* with no server types, kept apart from the parsing in
//! [`super::metadata`] (as crewjam/saml keeps `FetchMetadata` apart from its parser), so
//! the refreshers of [`super::registry`] and `realmgate check` fetch the same way.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::error::SamlError;
use super::metadata::{IdpMetadata, MAX_METADATA_BYTES};
use crate::discovery::Protocol;
use crate::discovery::reach::{self, Guarded, NOT_PUBLIC, public_host};

/// Bound on one refresher fetch, from connecting to the end of the body: a stalled IdP
/// must not hold a refresher forever.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// Bound on one fetch of `realmgate check`, and of a metadata URL checked as it is saved
/// through the management API or the console: someone is waiting for the answer.
pub const CHECK_FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a metadata URL gave no usable metadata. `Display` names the URL and the reason an
/// operator can act on (for TLS, what rustls said about the server's certificate).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The `idp_metadata_ca` file cannot be read.
    #[error("idp_metadata_ca {}: {source}", path.display())]
    CaUnreadable {
        /// The configured file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The `idp_metadata_ca` file is not a PEM bundle.
    #[error("idp_metadata_ca {}: not a PEM certificate bundle", path.display())]
    CaInvalid {
        /// The configured file.
        path: PathBuf,
        /// What the parser said.
        source: reqwest::Error,
    },
    /// The `idp_metadata_ca` file holds no certificate: trusting it would silently trust
    /// nothing extra, which is not what the operator meant.
    #[error("idp_metadata_ca {}: no PEM certificate in the file", path.display())]
    CaEmpty {
        /// The configured file.
        path: PathBuf,
    },
    /// The HTTPS client could not be built.
    #[error("cannot build the HTTPS client: {0}")]
    Client(#[source] reqwest::Error),
    /// Plain HTTP would let anyone on the path swap the IdP's keys.
    #[error("{0} is not an https URL")]
    NotHttps(String),
    /// No complete answer in time.
    #[error("{url}: no complete answer within {} s", timeout.as_secs_f64())]
    Timeout {
        /// The metadata URL.
        url: String,
        /// The bound that passed.
        timeout: Duration,
        /// reqwest's error.
        source: reqwest::Error,
    },
    /// The TLS handshake failed, usually on the server's certificate.
    #[error("{url}: TLS: {reason} (trusted: the public CA roots, plus idp_metadata_ca when set)")]
    Tls {
        /// The metadata URL.
        url: String,
        /// rustls's reason: unknown issuer, expired, or the names the certificate holds.
        reason: String,
        /// reqwest's error.
        source: reqwest::Error,
    },
    /// Connecting or reading failed otherwise (DNS, refused connection, reset).
    #[error("{url}: {reason}")]
    Transport {
        /// The metadata URL.
        url: String,
        /// The innermost causes, joined: reqwest's own message names only the URL.
        reason: String,
        /// reqwest's error.
        source: reqwest::Error,
    },
    /// The server redirected to a plain HTTP URL: followed, it would let anyone on the path
    /// swap the IdP's keys as surely as an http URL given outright.
    #[error("{url}: redirected to {to}, which is not an https URL")]
    RedirectNotHttps {
        /// The metadata URL.
        url: String,
        /// Where it redirected.
        to: String,
        /// reqwest's error.
        source: reqwest::Error,
    },
    /// The server answered with a non-success status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The metadata URL.
        url: String,
        /// The status it answered.
        status: reqwest::StatusCode,
    },
    /// The body exceeds [`MAX_METADATA_BYTES`].
    #[error("{url}: the document exceeds {MAX_METADATA_BYTES} bytes")]
    TooLarge {
        /// The metadata URL.
        url: String,
    },
    /// A management-API tenant's URL names a loopback, private, link-local or other
    /// non-public address ([`ApiFetcher`]).
    #[error("{url}: {NOT_PUBLIC}")]
    NotPublic {
        /// The metadata URL.
        url: String,
    },
    /// The document is not usable IdP metadata.
    #[error("{url}: {source}")]
    Metadata {
        /// The metadata URL.
        url: String,
        /// The parse error.
        source: SamlError,
    },
}

impl FetchError {
    /// Sorts reqwest's error: a timeout, a TLS refusal (with rustls's reason), or another
    /// transport failure. Also the reasons of WS-Trust requests (`wsfed::trust`), which go
    /// to IdPs through clients trusting the same roots.
    pub fn from_reqwest(url: &Url, timeout: Duration, source: reqwest::Error) -> Self {
        let url = url.to_string();
        if source.is_redirect()
            && let Some(to) = source.url().filter(|u| u.scheme() != "https")
        {
            return FetchError::RedirectNotHttps {
                url,
                to: to.to_string(),
                source,
            };
        }
        if source.is_timeout() {
            return FetchError::Timeout {
                url,
                timeout,
                source,
            };
        }
        let mut causes = Vec::new();
        let mut tls = None;
        let mut next = source.source();
        while let Some(e) = next {
            if let Some(r) = e.downcast_ref::<rustls::Error>() {
                tls = Some(r.to_string());
            }
            // tokio-rustls hands rustls's error up inside io::Errors, whose `source()` skips
            // the error each wraps: step into them explicitly.
            next = match e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => {
                    causes.push(e.to_string());
                    e.source()
                }
            };
        }
        match tls {
            Some(reason) => FetchError::Tls {
                url,
                reason,
                source,
            },
            None => FetchError::Transport {
                url,
                reason: causes.last().cloned().unwrap_or_else(|| source.to_string()),
                source,
            },
        }
    }
}

/// The HTTPS client for `idp_metadata_url`: public CA roots, plus the PEM bundle at
/// `extra_roots` when configured (`idp_metadata_ca`). HTTPS only, redirects included: an
/// https URL that redirects to http is refused like an http URL.
pub fn http_client(extra_roots: Option<&Path>) -> Result<reqwest::Client, FetchError> {
    http_client_builder(extra_roots)?
        .https_only(true)
        .build()
        .map_err(FetchError::Client)
}

/// The builder of [`http_client`], for clients that trust the same roots but differ
/// otherwise (the OpenID Connect one follows no redirect).
pub fn http_client_builder(
    extra_roots: Option<&Path>,
) -> Result<reqwest::ClientBuilder, FetchError> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = extra_roots {
        let pem = std::fs::read(path).map_err(|source| FetchError::CaUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
            FetchError::CaInvalid {
                path: path.to_path_buf(),
                source,
            }
        })?;
        if certs.is_empty() {
            return Err(FetchError::CaEmpty {
                path: path.to_path_buf(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// The fetcher of the management API's and the console's metadata URLs, which an account
/// admin types. Unless the operator allows private networks (`allow_private_idp_urls`), it
/// reaches public addresses only, checked on the URL's own address, on every address its
/// name resolves to, and at every redirect: otherwise the save-time check, whose refusal
/// says why a fetch failed, would let an account admin map and probe the operator's
/// internal network (SSRF). Operator tenants (files, imports, `check`) use the plain
/// [`http_client`].
#[derive(Debug, Clone)]
pub struct ApiFetcher(Guarded);

impl ApiFetcher {
    /// The fetcher trusting [`http_client`]'s roots; `allow_private` lifts the
    /// public-address rule (an IdP on the operator's own network, and tests on loopback).
    pub fn new(extra_roots: Option<&Path>, allow_private: bool) -> Result<Self, FetchError> {
        let public_only = !allow_private;
        let mut builder =
            reach::restrict(http_client_builder(extra_roots)?, public_only).https_only(true);
        if public_only {
            builder = builder.redirect(reqwest::redirect::Policy::custom(public_redirect));
        }
        Ok(Self(Guarded {
            client: builder.build().map_err(FetchError::Client)?,
            public_only,
        }))
    }

    /// [`fetch_metadata`] under this fetcher's address rule.
    pub async fn fetch(
        &self,
        url: &Url,
        protocol: Protocol,
        timeout: Duration,
    ) -> Result<IdpMetadata, FetchError> {
        if !self.0.allows(url) {
            return Err(FetchError::NotPublic {
                url: url.to_string(),
            });
        }
        fetch_metadata(&self.0.client, url, protocol, timeout).await
    }
}

/// At most this many redirects, as reqwest's default policy.
const MAX_REDIRECTS: usize = 10;

/// Follows a redirect only to an https URL of a public host ([`public_host`]).
fn public_redirect(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    if attempt.previous().len() >= MAX_REDIRECTS {
        return attempt.error("too many redirects");
    }
    if !public_host(attempt.url()) {
        return attempt.error(NOT_PUBLIC);
    }
    attempt.follow()
}

/// Fetches and parses metadata from an HTTPS URL, with a body size cap, all of it (connect,
/// handshake, headers, body) within `timeout`. The role read is `protocol`'s (see
/// [`IdpMetadata::parse_for`]): a WS-Federation tenant's STS role, with its passive requestor
/// endpoint and its own signing keys, out of the same Federation Metadata document.
pub async fn fetch_metadata(
    client: &reqwest::Client,
    url: &Url,
    protocol: Protocol,
    timeout: Duration,
) -> Result<IdpMetadata, FetchError> {
    if url.scheme() != "https" {
        return Err(FetchError::NotHttps(url.to_string()));
    }
    let failed = |e| FetchError::from_reqwest(url, timeout, e);
    let mut resp = client
        .get(url.clone())
        .timeout(timeout)
        .send()
        .await
        .map_err(failed)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: resp.status(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(failed)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_METADATA_BYTES {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
            });
        }
    }
    // XML work stays off the async runtime (issue #11).
    let parsed = tokio::task::spawn_blocking(move || IdpMetadata::parse_for(&body, protocol))
        .await
        .unwrap_or_else(|e| Err(SamlError::Metadata(format!("the parse stopped: {e}"))));
    parsed.map_err(|source| FetchError::Metadata {
        url: url.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_metadata_is_never_fetched() {
        let url = Url::parse("http://idp.example/metadata").expect("url");
        let err = fetch_metadata(
            &reqwest::Client::new(),
            &url,
            Protocol::Saml2,
            FETCH_TIMEOUT,
        )
        .await
        .expect_err("refused");
        assert!(matches!(err, FetchError::NotHttps(_)), "{err}");
    }

    #[tokio::test]
    async fn an_api_fetch_goes_to_no_private_address() {
        let fetcher = ApiFetcher::new(None, false).expect("fetcher");
        for url in [
            "https://127.0.0.1:9/md",
            "https://[::1]:9/md",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost:9/md",
        ] {
            let url = Url::parse(url).expect("url");
            let err = fetcher
                .fetch(&url, Protocol::Saml2, Duration::from_secs(5))
                .await
                .expect_err("refused");
            assert!(err.to_string().contains(NOT_PUBLIC), "{url}: {err}");
        }
    }
}

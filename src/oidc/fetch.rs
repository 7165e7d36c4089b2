//! The HTTPS client side of OpenID Connect: every call to a provider (configuration, keys,
//! token endpoint) goes through [`send`], bounded in time and size and never following a
//! redirect (a token request redirected elsewhere would carry our client credentials).

use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};
use url::Url;

use super::OidcError;

/// Bound on one call to a provider, from connecting to the end of the body: a stalled IdP
/// must not hold a login (or a refresher) for long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest provider answer read: real configurations and key sets are a few KiB.
pub const MAX_BODY: usize = 256 * 1024;

/// Builds the provider client from `builder` (which carries the trusted roots,
/// `idp_metadata_ca` included): no redirects, bounded in time.
pub fn client(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, OidcError> {
    builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(TIMEOUT / 2)
        .timeout(TIMEOUT)
        .build()
        .map_err(OidcError::Client)
}

/// Why a provider call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Transport, TLS or timeout.
    #[error("{}", innermost(.0))]
    Transport(#[source] reqwest::Error),
    /// The answer is larger than [`MAX_BODY`].
    #[error("answer larger than {MAX_BODY} bytes")]
    TooLarge,
    /// Not an https URL.
    #[error("{0} is not an https URL")]
    NotHttps(String),
    /// The response could not be rebuilt.
    #[error("{0}")]
    Http(#[source] openidconnect::http::Error),
}

/// reqwest's own message names only the URL; the innermost cause says what failed.
fn innermost(e: &reqwest::Error) -> String {
    let mut reasons = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reasons.push(s.to_string());
        source = s.source();
    }
    reasons.join(": ")
}

/// One provider call, as the `openidconnect` client makes it.
pub async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, SendError> {
    if request.uri().scheme_str() != Some("https") {
        return Err(SendError::NotHttps(request.uri().to_string()));
    }
    let request = reqwest::Request::try_from(request).map_err(SendError::Transport)?;
    let mut response = client
        .execute(request)
        .await
        .map_err(SendError::Transport)?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(SendError::Transport)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(SendError::TooLarge);
        }
    }
    builder.body(body).map_err(SendError::Http)
}

/// [`send`] as the `openidconnect` client's HTTP client, with a named `Send` future (a
/// closure's would not be `Send` for every lifetime, which axum handlers need).
pub struct Bounded<'a>(pub &'a reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Bounded<'_> {
    type Error = SendError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, SendError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// GETs a JSON document of the provider.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &Url,
) -> Result<T, OidcError> {
    if url.scheme() != "https" {
        return Err(OidcError::NotHttps(url.to_string()));
    }
    let fetch = |reason: String| OidcError::Fetch {
        url: url.to_string(),
        reason,
    };
    let request = openidconnect::http::Request::get(url.as_str())
        .header(openidconnect::http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| fetch(e.to_string()))?;
    let response = match send(client, request).await {
        Ok(r) => r,
        Err(e) => return Err(fetch(e.to_string())),
    };
    if !response.status().is_success() {
        return Err(fetch(format!("HTTP status {}", response.status())));
    }
    serde_json::from_slice(response.body()).map_err(|e| OidcError::Document {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

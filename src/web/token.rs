//! The token endpoint and what a client reads to use it: `/oauth2/token`, `/oauth2/revoke`,
//! the JWKS and the RFC 8414 metadata. The checks are `oauth::request`'s and the
//! decisions `oauth`'s; this file parses the form and answers JSON.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::state::SharedState;
use crate::oauth::client_auth::ClientCredentials;
use crate::oauth::request::{TokenGrant, TokenRequest};
use crate::oauth::{OAuthError, discovery_doc};

use super::device::device_error;

/// A JSON answer with the headers token responses need (RFC 6749 §5.1).
pub(super) fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// An OAuth error answer (RFC 6749 §5.2).
pub fn oauth_error(e: &OAuthError) -> Response {
    if matches!(e, OAuthError::Server(_)) {
        tracing::error!(reason = %e, "token endpoint failed");
    } else {
        tracing::info!(code = e.code(), reason = %e, "token request refused");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let description = match e {
        OAuthError::Server(_) => "temporarily unavailable".to_string(),
        other => other.to_string(),
    };
    no_store(
        status,
        json!(OAuthErrorBody {
            error: e.code(),
            error_description: description,
        }),
    )
}

/// An OAuth error body (RFC 6749 §5.2, RFC 8628 §3.5): named so the OpenAPI document
/// describes exactly what [`oauth_error`] sends.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    /// The RFC's error code.
    #[schema(value_type = super::openapi::OAuthErrorCode)]
    pub error: &'static str,
    /// Human-readable detail for the developer (never shown to end users as-is).
    pub error_description: String,
}

/// `POST /oauth2/token`.
#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "oauth",
    request_body(content = super::openapi::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1)", body = crate::oauth::TokenResponse),
        (status = 400, description = "RFC 6749 §5.2 / RFC 8628 §3.5 error", body = OAuthErrorBody),
        (status = 401, description = "Unknown client", body = OAuthErrorBody),
        (status = 503, description = "server_error: a backend is down", body = OAuthErrorBody),
    )
)]
pub async fn token(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return oauth_error(&OAuthError::InvalidRequest(
            "expected an application/x-www-form-urlencoded body".into(),
        ));
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let TokenRequest { credentials, grant } = match TokenRequest::parse(&p, authorization) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    let now = Utc::now();
    let client = match state.oauth.authenticate(&credentials, now).await {
        Ok(c) => c,
        Err(e) => return oauth_error(&e),
    };
    if let Err(e) = grant.check_allowed(&client) {
        return oauth_error(&e);
    }
    let kind = grant.name();
    let ip = super::account::client_ip(&state, peer, &headers);
    let answer = match grant {
        TokenGrant::Grant(g) => state
            .oauth
            .token(&client, g, now)
            .await
            .map_err(|e| oauth_error(&e)),
        TokenGrant::DeviceCode(device_code) => state
            .devices
            .poll(&client.client_id, &device_code, ip, now)
            .await
            .map_err(|e| device_error(&state, e)),
        TokenGrant::ClientCredentials => state
            .devices
            .service_token(&client, ip, now)
            .await
            .map_err(|e| device_error(&state, e)),
    };
    match answer {
        Ok(t) => {
            metrics::counter!("realmgate_oauth_tokens_total", "grant" => kind).increment(1);
            no_store(StatusCode::OK, json!(t))
        }
        Err(res) => res,
    }
}

/// `POST /oauth2/revoke` (RFC 7009): 200 whether or not the token was known.
#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "oauth",
    request_body(content = super::openapi::RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or was never valid (RFC 7009 §2.2)", body = Object),
        (status = 400, description = "Malformed request", body = OAuthErrorBody),
        (status = 401, description = "Unknown client", body = OAuthErrorBody),
        (status = 503, description = "server_error", body = OAuthErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return oauth_error(&OAuthError::InvalidRequest("malformed body".into()));
    };
    let Some(token) = p.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(&OAuthError::InvalidRequest("token is required".into()));
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let client = match ClientCredentials::parse(&p, authorization) {
        Ok(c) => state.oauth.authenticate(&c, Utc::now()).await,
        Err(e) => Err(e),
    };
    let client_id = match &client {
        Ok(c) => c.client_id.as_str(),
        Err(e) => return oauth_error(e),
    };
    match state.oauth.revoke(client_id, token).await {
        Ok(()) => no_store(StatusCode::OK, json!({})),
        Err(e) => oauth_error(&e),
    }
}

/// `GET /.well-known/jwks.json`: the access-token verification key.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "oauth",
    responses((status = 200, description = "JWK Set (RFC 7517) with the ES256 key", body = crate::oauth::keys::Jwks))
)]
pub async fn jwks(State(state): State<SharedState>) -> Response {
    Json(state.oauth.keys.jwks()).into_response()
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): the same document as
/// `/.well-known/openid-configuration`.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth",
    responses((status = 200, description = "RFC 8414 authorization server metadata", body = Object))
)]
pub async fn metadata(State(state): State<SharedState>) -> Response {
    Json(discovery_doc::document(&state.oauth.issuer)).into_response()
}

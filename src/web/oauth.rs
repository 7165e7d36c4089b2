//! OAuth endpoints for native apps: `/oauth2/authorize`, `/oauth2/resume` (back from
//! sign-in), `/oauth2/token`, `/oauth2/revoke`, the JWKS and the RFC 8414 metadata; and
//! the device connectors' `/api/v1/device/login`. The
//! decisions are `oauth`'s; this file parses, picks the sign-in step and renders.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Form, Query, RawQuery, State as St};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::app::{AppState, State};
use crate::discovery::{Email, Route};
use crate::oauth::device::{self, DeviceError};
use crate::oauth::{AuthRequest, Grant, OAuthError, Subject, grants};
use crate::session::rate_limit::Guesser;

use super::discover::{checked_return_to, encode, password_step, sso_start_path};
use super::guard;

/// Cookie binding a pending authorization request to the browser that started it.
const BINDING_COOKIE: &str = "realmgate_oauth";

/// An error shown to the person, never redirected: used until the client and redirect URI
/// are known good, so a forged link cannot bounce anyone to an arbitrary URI.
fn error_page(state: &AppState, e: &OAuthError) -> Response {
    tracing::info!(code = e.code(), reason = %e, "authorization request refused");
    let body = state.pages.render(
        "error",
        &json!({
            "title": "Sign-in problem",
            "message": "The app asked to sign you in with a request this service cannot accept. Go back to the app and try again.",
            "code": e.code(),
        }),
    );
    let status = match e {
        OAuthError::Server(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, body).into_response()
}

/// Sends the result to the client's (validated) redirect URI, with `state` and `iss`
/// (RFC 9207, so the app can tell which server answered).
fn to_client(state: &AppState, redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(state, &OAuthError::BadRedirectUri);
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        q.append_pair("iss", &state.oauth.issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

fn error_to_client(
    state: &AppState,
    redirect_uri: &str,
    client_state: Option<&str>,
    e: &OAuthError,
) -> Response {
    tracing::info!(code = e.code(), reason = %e, "authorization request refused");
    let description = e.to_string();
    let mut params = vec![("error", e.code()), ("error_description", &description)];
    if let Some(s) = client_state {
        params.push(("state", s));
    }
    to_client(state, redirect_uri, &params)
}

/// Query parameters, refusing any given twice (RFC 6749 §3.1: "parameters MUST NOT be
/// included more than once"), so two layers cannot read two different values.
fn single_params(raw: Option<&str>) -> Result<HashMap<String, String>, OAuthError> {
    let mut map = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::InvalidRequest(format!("{k} given twice")));
        }
    }
    Ok(map)
}

/// `GET /oauth2/authorize` (RFC 6749 §4.1.1 with RFC 7636 and RFC 8252).
pub async fn authorize(
    St(state): St<State>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = match single_params(raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_page(&state, &e),
    };
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id");
    let redirect_uri = get("redirect_uri");
    if let Err(e) = state.oauth.client_redirect(client_id, redirect_uri) {
        return error_page(&state, &e);
    }
    let (client_id, redirect_uri) = (
        client_id.unwrap_or_default(),
        redirect_uri.unwrap_or_default(),
    );
    let client_state = get("state");
    let refuse = |e: OAuthError| error_to_client(&state, redirect_uri, client_state, &e);
    match get("response_type") {
        Some("code") => {}
        other => {
            return refuse(OAuthError::UnsupportedResponseType(
                other.unwrap_or_default().into(),
            ));
        }
    }
    let challenge = get("code_challenge").unwrap_or_default();
    if let Err(e) = crate::oauth::check_challenge(challenge, get("code_challenge_method")) {
        return refuse(e);
    }
    if let Some(scope) = get("scope")
        && let Some(bad) = scope
            .split(' ')
            .find(|s| !s.is_empty() && !grants::SCOPES.contains(s))
    {
        return refuse(OAuthError::InvalidScope(bad.into()));
    }
    let hint = get("login_hint").and_then(|h| Email::parse(h).ok());
    let (binding, binding_cookie) = match guard::binding(
        &state.config,
        &headers,
        BINDING_COOKIE,
        cookie::SameSite::Lax,
        Some(grants::REQUEST_TTL.as_secs() as i64),
    ) {
        Ok(b) => b,
        Err(e) => return super::error::PageError(e, state.pages.clone()).into_response(),
    };
    let request = AuthRequest {
        client_id: client_id.into(),
        redirect_uri: redirect_uri.into(),
        code_challenge: challenge.into(),
        state: client_state.map(Into::into),
        login_hint: hint.as_ref().map(|e| e.to_string()),
        binding: crate::oauth::sha256_base64url(&binding),
    };
    let id = match state.oauth.begin(&request).await {
        Ok(id) => id,
        Err(e) => return refuse(e),
    };
    let resume = format!("/oauth2/resume?request={id}");
    let next = next_step(&state, &headers, hint.as_ref(), &resume).await;
    let mut res = next;
    if let Some(c) = binding_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The sign-in step for a pending request: straight back when this browser is already
/// signed in (as the hinted user, if any); with a hint, discovery at once (SSO tenant to
/// its IdP, password tenant to the password step); otherwise the email page.
async fn next_step(
    state: &AppState,
    headers: &HeaderMap,
    hint: Option<&Email>,
    resume: &str,
) -> Response {
    let pages = state.pages.clone();
    let page =
        |e: super::error::WebError| super::error::PageError(e, pages.clone()).into_response();
    let session = match super::account::current(state, headers).await {
        Ok(s) => s,
        Err(e) => return page(e),
    };
    if let Some(s) = session
        && hint.is_none_or(|h| h.as_str().eq_ignore_ascii_case(&s.email))
    {
        return Redirect::to(resume).into_response();
    }
    let return_to = match checked_return_to(&state.config, Some(resume)) {
        Ok(r) => r,
        Err(e) => return page(e),
    };
    let Some(email) = hint else {
        return Redirect::to(&format!("/?return_to={}", encode(resume))).into_response();
    };
    match state.discovery.route(email).await {
        Ok(Route::Sso(t)) => {
            Redirect::to(&sso_start_path(&t, Some(email), return_to.as_ref())).into_response()
        }
        Ok(Route::Password(_)) => password_step(state, headers, email, return_to),
        // Another region's gateway cannot finish this request; the email page explains
        // where the person's organisation signs in.
        Ok(Route::OtherRegion { .. }) => Redirect::to(&format!(
            "/?login_hint={}&return_to={}",
            encode(email.as_str()),
            encode(resume)
        ))
        .into_response(),
        Err(e) => page(e.into()),
    }
}

/// Query of `/oauth2/resume`.
#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    #[serde(default)]
    request: String,
}

/// `GET /oauth2/resume`: back from sign-in. With a session, the pending request becomes
/// a one-time code sent to the app; without one, sign-in again.
pub async fn resume(
    St(state): St<State>,
    headers: HeaderMap,
    Query(q): Query<ResumeQuery>,
) -> Response {
    let pending = match state.oauth.pending(&q.request).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error_page(
                &state,
                &OAuthError::InvalidRequest("expired or unknown request".into()),
            );
        }
        Err(e) => return error_page(&state, &e),
    };
    let session = match super::account::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return super::error::PageError(e, state.pages.clone()).into_response(),
    };
    let resume = format!("/oauth2/resume?request={}", q.request);
    let Some(session) = session else {
        let hint = pending
            .login_hint
            .as_deref()
            .and_then(|h| Email::parse(h).ok());
        return next_step(&state, &headers, hint.as_ref(), &resume).await;
    };
    let binding = guard::cookie(&headers, &guard::cookie_name(&state.config, BINDING_COOKIE));
    let subject = Subject {
        user_id: session.user_id,
        email: session.email.clone(),
        account: session.account.clone(),
    };
    match state
        .oauth
        .issue_code(&q.request, binding.as_deref(), subject)
        .await
    {
        Ok((request, code)) => {
            tracing::info!(target: "audit", event = "oauth_code_issued", client_id = %request.client_id, user_id = session.user_id);
            let mut params = vec![("code", code.as_str())];
            if let Some(s) = &request.state {
                params.push(("state", s));
            }
            to_client(&state, &request.redirect_uri, &params)
        }
        Err(e) => error_page(&state, &e),
    }
}

/// A JSON answer with the headers token responses need (RFC 6749 §5.1).
fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
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

/// `sso_required` from `/api/v1/device/login`: everything a connector needs to switch to
/// the device authorization grant without another round trip.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SsoRequiredBody {
    /// Always `sso_required`.
    #[schema(value_type = super::openapi::ApiErrorCode)]
    pub error: &'static str,
    /// What to tell the person.
    pub message: &'static str,
    /// The tenant.
    pub account: String,
    /// The tenant's SSO button label, for the connector's screen.
    pub button: Option<String>,
    /// Where to start the device flow.
    pub device_authorization_endpoint: String,
}

/// The device authorization grant type (RFC 8628 §3.4).
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

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
    St(state): St<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return oauth_error(&OAuthError::InvalidRequest(
            "expected an application/x-www-form-urlencoded body".into(),
        ));
    };
    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
    let Some(client_id) = p.get("client_id").filter(|c| !c.is_empty()) else {
        return oauth_error(&OAuthError::InvalidClient);
    };
    let grant = match get("grant_type").as_str() {
        "authorization_code" => {
            if p.get("code_verifier").is_none_or(String::is_empty) {
                return oauth_error(&OAuthError::InvalidRequest(
                    "code_verifier is required (PKCE)".into(),
                ));
            }
            Grant::AuthorizationCode {
                code: get("code"),
                redirect_uri: get("redirect_uri"),
                code_verifier: get("code_verifier"),
            }
        }
        "refresh_token" => Grant::RefreshToken {
            refresh_token: get("refresh_token"),
        },
        DEVICE_GRANT => {
            let ip = super::account::client_ip(&state, peer, &headers);
            return match device::poll(&state, client_id, &get("device_code"), ip, Utc::now()).await
            {
                Ok(t) => {
                    metrics::counter!("realmgate_oauth_tokens_total", "grant" => "device_code")
                        .increment(1);
                    no_store(StatusCode::OK, json!(t))
                }
                Err(e) => device_error(&state, e),
            };
        }
        other => return oauth_error(&OAuthError::UnsupportedGrantType(other.into())),
    };
    let kind = match grant {
        Grant::AuthorizationCode { .. } => "authorization_code",
        Grant::RefreshToken { .. } => "refresh_token",
    };
    match state.oauth.token(client_id, grant, Utc::now()).await {
        Ok(t) => {
            metrics::counter!("realmgate_oauth_tokens_total", "grant" => kind).increment(1);
            no_store(StatusCode::OK, json!(t))
        }
        Err(e) => oauth_error(&e),
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
    St(state): St<State>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return oauth_error(&OAuthError::InvalidRequest("malformed body".into()));
    };
    let Some(token) = p.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(&OAuthError::InvalidRequest("token is required".into()));
    };
    let client_id = p.get("client_id").map(String::as_str).unwrap_or_default();
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
pub async fn jwks(St(state): St<State>) -> Response {
    Json(state.oauth.keys.jwks()).into_response()
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth",
    responses((status = 200, description = "RFC 8414 authorization server metadata", body = Object))
)]
pub async fn metadata(St(state): St<State>) -> Response {
    let c = &state.config;
    Json(json!({
        "issuer": state.oauth.issuer,
        "authorization_endpoint": c.url("/oauth2/authorize"),
        "token_endpoint": c.url("/oauth2/token"),
        "revocation_endpoint": c.url("/oauth2/revoke"),
        "jwks_uri": c.url("/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        "device_authorization_endpoint": c.url("/oauth2/device_authorization"),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": grants::SCOPES,
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

/// Body of `POST /api/v1/device/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeviceLoginRequest {
    /// The person's email (never a local username).
    #[serde(default)]
    #[schema(format = Email, example = "ann@fabrikam.com")]
    email: String,
    /// Their password.
    #[serde(default)]
    password: String,
    /// The connector's registered client id.
    #[serde(default)]
    client_id: String,
}

/// A device-API refusal as JSON `{"error", "message", ...}`.
fn device_error(state: &AppState, e: DeviceError) -> Response {
    match e {
        DeviceError::OAuth(e) => oauth_error(&e),
        DeviceError::SsoRequired { account, button } => {
            tracing::info!(code = "sso_required", account = %account, "device login refused");
            no_store(
                StatusCode::FORBIDDEN,
                json!(SsoRequiredBody {
                    error: "sso_required",
                    message: "This organisation signs in with single sign-on. Start the device flow and let the person sign in on another device.",
                    account,
                    button,
                    device_authorization_endpoint: state.config.url("/oauth2/device_authorization"),
                }),
            )
        }
        DeviceError::IpNotAllowed(_) => {
            tracing::info!(code = "ip_not_allowed", reason = %e, "device login refused");
            no_store(
                StatusCode::FORBIDDEN,
                json!({"error": "ip_not_allowed", "message": "This organisation does not allow sign-in from this device's network."}),
            )
        }
        DeviceError::Waiting => no_store(
            StatusCode::FORBIDDEN,
            json!({"error": "access_denied", "message": "An administrator must approve this account first."}),
        ),
        // Same status and bytes for an unknown user and a wrong password: the web layer's
        // mapping, shared with `/login/password` and `/api/v1/discover`.
        DeviceError::Login(e) => super::error::ApiError(e.into()).into_response(),
    }
}

/// `POST /api/v1/device/login`: an MFP connector's email + password, tokens back.
#[utoipa::path(
    post,
    path = "/api/v1/device/login",
    tag = "device",
    request_body = DeviceLoginRequest,
    responses(
        (status = 200, description = "Tokens", body = crate::oauth::TokenResponse),
        (status = 400, description = "Malformed body or unknown client", body = OAuthErrorBody),
        (status = 401, description = "invalid_credentials: the same answer for an unknown user and a wrong password", body = super::error::ApiErrorBody),
        (status = 403, description = "sso_required (use the device flow), ip_not_allowed or access_denied", body = super::openapi::DeviceRefusal),
        (status = 429, description = "rate_limited", body = super::error::ApiErrorBody),
        (status = 503, description = "A backend is down", body = super::openapi::DeviceRefusal),
    )
)]
pub async fn device_login(
    St(state): St<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<DeviceLoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(req)) = body else {
        return oauth_error(&OAuthError::InvalidRequest("expected a JSON body".into()));
    };
    let ip = super::account::client_ip(&state, peer, &headers);
    match device::password_tokens(
        &state,
        &req.client_id,
        &req.email,
        &req.password,
        ip,
        Utc::now(),
    )
    .await
    {
        Ok(t) => no_store(StatusCode::OK, json!(t)),
        Err(e) => device_error(&state, e),
    }
}

/// `POST /oauth2/device_authorization` (RFC 8628 §3.1).
#[utoipa::path(
    post,
    path = "/oauth2/device_authorization",
    tag = "device",
    request_body(content = super::openapi::DeviceAuthorizationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Device and user codes (RFC 8628 §3.2)", body = crate::oauth::device_flow::DeviceAuthorization),
        (status = 400, description = "RFC 6749 §5.2 error", body = OAuthErrorBody),
        (status = 401, description = "Unknown client", body = OAuthErrorBody),
        (status = 403, description = "ip_not_allowed", body = super::openapi::DeviceRefusal),
        (status = 429, description = "rate_limited", body = super::error::ApiErrorBody),
        (status = 503, description = "A backend is down", body = super::openapi::DeviceRefusal),
    )
)]
pub async fn device_authorization(
    St(state): St<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return oauth_error(&OAuthError::InvalidRequest("malformed body".into()));
    };
    let ip = super::account::client_ip(&state, peer, &headers);
    let client_id = p.get("client_id").map(String::as_str).unwrap_or_default();
    match device::authorize(
        &state,
        client_id,
        p.get("login_hint").map(String::as_str),
        ip,
        Utc::now(),
    )
    .await
    {
        Ok(a) => no_store(StatusCode::OK, json!(a)),
        Err(e) => device_error(&state, e),
    }
}

/// Query of `/device`.
#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

/// The code-entry page (with an error) or the approval page.
fn device_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    data: serde_json::Value,
) -> Response {
    let (csrf, set_cookie) = match guard::csrf_token(&state.config, headers) {
        Ok(t) => t,
        Err(e) => return super::error::PageError(e, state.pages.clone()).into_response(),
    };
    let mut data = data;
    data["csrf"] = json!(csrf);
    guard::with_cookie(status, set_cookie, state.pages.render("device", &data))
}

/// `GET /device`: enter the code; with a live code, sign in (as the user the device named,
/// if it did) and then the approval page.
pub async fn device_page(
    St(state): St<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<DeviceQuery>,
) -> Response {
    let Some(typed) = q.user_code.filter(|c| !c.is_empty()) else {
        return device_form(&state, &headers, StatusCode::OK, json!({}));
    };
    let session = match super::account::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return super::error::PageError(e, state.pages.clone()).into_response(),
    };
    let who = Guesser {
        ip: super::account::client_ip(&state, peer, &headers),
        session: session.as_ref().map(|s| s.id.as_str()),
    };
    let request = match device::lookup(&state, &typed, who, Utc::now()).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return device_form(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                json!({"error": "That code is not valid or has expired. Check the code on your device.", "user_code": typed}),
            );
        }
        Err(e) => return device_refusal(&state, e),
    };
    let hint = request
        .login_hint
        .as_deref()
        .and_then(|h| Email::parse(h).ok());
    match session {
        Some(s)
            if hint
                .as_ref()
                .is_none_or(|h| h.as_str().eq_ignore_ascii_case(&s.email)) =>
        {
            device_form(
                &state,
                &headers,
                StatusCode::OK,
                json!({
                    "confirm": true,
                    "email": s.email,
                    "user_code": request.user_code,
                    "qr": super::qr::data_uri(&crate::oauth::device_flow::verification_uri_complete(
                        &state.config.url("/device"),
                        &request.user_code,
                    )),
                }),
            )
        }
        _ => {
            let back = format!("/device?user_code={}", encode(&request.user_code));
            next_step(&state, &headers, hint.as_ref(), &back).await
        }
    }
}

/// The code-entry form.
#[derive(Debug, Deserialize)]
pub struct DeviceCodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_code: String,
}

/// `POST /device`: the typed code, on to `GET /device?user_code=…`.
pub async fn device_code_form(
    St(state): St<State>,
    headers: HeaderMap,
    Form(form): Form<DeviceCodeForm>,
) -> Response {
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return super::error::PageError(e, state.pages.clone()).into_response();
    }
    let code =
        crate::oauth::device_flow::normalize_user_code(&form.user_code).unwrap_or(form.user_code);
    Redirect::to(&format!("/device?user_code={}", encode(&code))).into_response()
}

/// The approval form.
#[derive(Debug, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    decision: String,
}

/// A device page's refusal that is no fault of the typed code: a rate limit (429 with
/// `Retry-After`) or a backend failure.
fn device_refusal(state: &AppState, e: DeviceError) -> Response {
    let e = match e {
        DeviceError::Login(e @ crate::login::LoginError::RateLimited(_)) => e.into(),
        e => {
            tracing::error!(reason = %e, "device code lookup failed");
            super::error::WebError::Unavailable(e.to_string())
        }
    };
    super::error::PageError(e, state.pages.clone()).into_response()
}

/// `POST /device/decide`: the signed-in person approves or denies.
pub async fn device_decide(
    St(state): St<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<DecideForm>,
) -> Response {
    let pages = state.pages.clone();
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return super::error::PageError(e, pages).into_response();
    }
    let session = match super::account::current(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Redirect::to(&format!("/device?user_code={}", encode(&form.user_code)))
                .into_response();
        }
        Err(e) => return super::error::PageError(e, pages).into_response(),
    };
    let approve = form.decision == "approve";
    let subject = Subject {
        user_id: session.user_id,
        email: session.email.clone(),
        account: session.account.clone(),
    };
    let who = Guesser {
        ip: super::account::client_ip(&state, peer, &headers),
        session: Some(&session.id),
    };
    match device::decide(&state, &form.user_code, approve, subject, who, Utc::now()).await {
        Ok(request) => {
            tracing::info!(target: "audit", event = if approve { "device_approved" } else { "device_denied" }, client_id = %request.client_id, user_id = session.user_id);
            let message = if approve {
                "Your device is signed in. You can close this page."
            } else {
                "The device was not signed in. You can close this page."
            };
            state
                .pages
                .render(
                    "message",
                    &json!({"title": if approve { "Device approved" } else { "Device denied" }, "message": message}),
                )
                .into_response()
        }
        Err(DeviceError::OAuth(e)) => {
            tracing::info!(code = e.code(), reason = %e, "device decision refused");
            let message = match e {
                OAuthError::AccessDenied(_) => {
                    "This device asked for another account than the one you are signed in with."
                }
                OAuthError::Server(_) => {
                    "Sign-in is temporarily unavailable. Please try again in a minute."
                }
                _ => {
                    "That code is not valid, has expired or was already used. Start again on your device."
                }
            };
            device_form(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                json!({"error": message}),
            )
        }
        Err(e) => device_refusal(&state, e),
    }
}

//! The device surfaces: the connectors' `/api/v1/device/login` and
//! `/oauth2/device_authorization`, and the pages where a person enters a device's code,
//! signs in and approves (`/device`, `/device/decide`). The decisions are
//! `oauth::device`'s; this file parses and renders.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::state::{AppState, SharedState};
use crate::discovery::Email;
use crate::oauth::device::DeviceError;
use crate::oauth::{OAuthError, Subject};
use crate::session::rate_limit::Guesser;

use super::authorize::next_step;
use super::discover::encode;
use super::error::{PageError, WebError};
use super::guard::{self, with_cookie};
use super::token::{OAuthErrorBody, no_store, oauth_error};

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
pub(super) fn device_error(state: &AppState, e: DeviceError) -> Response {
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

/// `POST /api/v1/device/login`: an MFP connector's email + password, tokens back (checked
/// here, or by an AD FS tenant's STS over WS-Trust).
#[utoipa::path(
    post,
    path = "/api/v1/device/login",
    tag = "device",
    request_body = DeviceLoginRequest,
    responses(
        (status = 200, description = "Tokens", body = crate::oauth::TokenResponse),
        (status = 400, description = "Malformed body or unknown client", body = OAuthErrorBody),
        (status = 401, description = "invalid_credentials: the same answer for an unknown user and a wrong password (on an AD FS tenant with wstrust_url, for every refusal of the STS or its token)", body = super::error::ApiErrorBody),
        (status = 403, description = "sso_required (use the device flow), ip_not_allowed or access_denied", body = super::openapi::DeviceRefusal),
        (status = 429, description = "rate_limited", body = super::error::ApiErrorBody),
        (status = 503, description = "A backend is down, or the tenant's STS did not answer in time (sts_unavailable)", body = super::openapi::DeviceRefusal),
    )
)]
pub async fn device_login(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<DeviceLoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(req)) = body else {
        return oauth_error(&OAuthError::InvalidRequest("expected a JSON body".into()));
    };
    let ip = super::account::client_ip(&state, peer, &headers);
    match state
        .devices
        .password_tokens(&req.client_id, &req.email, &req.password, ip, Utc::now())
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
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return oauth_error(&OAuthError::InvalidRequest("malformed body".into()));
    };
    let ip = super::account::client_ip(&state, peer, &headers);
    let client_id = p.get("client_id").map(String::as_str).unwrap_or_default();
    match state
        .devices
        .authorize(
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
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let mut data = data;
    data["csrf"] = json!(csrf);
    with_cookie(status, set_cookie, state.pages.render("device", &data))
}

/// `GET /device`: enter the code; with a live code, sign in (as the user the device named,
/// if it did) and then the approval page.
pub async fn device_page(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<DeviceQuery>,
) -> Response {
    let Some(typed) = q.user_code.filter(|c| !c.is_empty()) else {
        return device_form(&state, &headers, StatusCode::OK, json!({}));
    };
    let session = match super::account::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let who = Guesser {
        ip: super::account::client_ip(&state, peer, &headers),
        session: session.as_ref().map(|s| s.id.as_str()),
    };
    let request = match state.devices.lookup(&typed, who, Utc::now()).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return device_form(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                json!({"error": "device-code-invalid", "user_code": typed}),
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
            next_step(&state, &headers, hint.as_ref(), &back, false).await
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
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<DeviceCodeForm>,
) -> Response {
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return PageError(e, state.pages.clone()).into_response();
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
            WebError::Device(e)
        }
    };
    PageError(e, state.pages.clone()).into_response()
}

/// `POST /device/decide`: the signed-in person approves or denies.
pub async fn device_decide(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<DecideForm>,
) -> Response {
    let pages = state.pages.clone();
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return PageError(e, pages).into_response();
    }
    let session = match super::account::current(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Redirect::to(&format!("/device?user_code={}", encode(&form.user_code)))
                .into_response();
        }
        Err(e) => return PageError(e, pages).into_response(),
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
    match state
        .devices
        .decide(&form.user_code, approve, subject, who, Utc::now())
        .await
    {
        Ok(request) => {
            tracing::info!(target: "audit", event = if approve { "device_approved" } else { "device_denied" }, client_id = %request.client_id, user_id = session.user_id);
            let message = if approve {
                "device-approved"
            } else {
                "device-denied"
            };
            state
                .pages
                .render(
                    "message",
                    &json!({"title": if approve { "device-approved-title" } else { "device-denied-title" }, "message": message}),
                )
                .into_response()
        }
        Err(DeviceError::OAuth(e)) => {
            tracing::info!(code = e.code(), reason = %e, "device decision refused");
            let message = match e {
                OAuthError::AccessDenied(_) => "device-other-account",
                OAuthError::Server(_) => "error-unavailable",
                _ => "device-code-used",
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

//! "Forgot password?" and the set-password page of one-time links: forms and pages only;
//! `login::reset` decides.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::error::{PageError, WebError};
use super::guard::{self, with_cookie};
use super::pages::lang;
use super::state::{AppState, SharedState};
use crate::accounts::MIN_PASSWORD_CHARS;
use crate::discovery::Email;
use crate::login::LoginError;

/// The reset request form.
#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

/// `GET /password/forgot`.
pub async fn forgot_page(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    forgot_form(&state, &headers, StatusCode::OK, None, None, None)
}

fn forgot_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: Option<&str>,
    error: Option<&'static str>,
    retry_after: Option<u64>,
) -> Response {
    let (csrf, set_cookie) = match guard::csrf_token(&state.config, headers) {
        Ok(t) => t,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let body = state.pages.render(
        "reset",
        &json!({"csrf": csrf, "email": email, "error": error}),
    );
    let mut res = with_cookie(status, set_cookie, body);
    if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// `POST /password/forgot`: the same page for every well-formed address.
pub async fn forgot(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Response {
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return PageError(e, state.pages.clone()).into_response();
    }
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let key = super::error::email_error_key(&e);
            return forgot_form(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                Some(form.email.trim()),
                Some(key),
                None,
            );
        }
    };
    let ip = super::account::client_ip(&state, peer, &headers);
    match state.login.request_reset(&email, lang(), ip, Utc::now()).await {
        Ok(()) => state
            .pages
            .render(
                "message",
                &json!({"title": "reset-sent-title", "message": "reset-sent", "email": email.as_str(), "link": "/", "link_label": "back-to-sign-in"}),
            )
            .into_response(),
        Err(LoginError::RateLimited(r)) => {
            tracing::info!(code = "rate_limited", domain = email.domain(), "password reset refused");
            forgot_form(&state, &headers, StatusCode::TOO_MANY_REQUESTS, Some(email.as_str()), Some("reset-too-many"), Some(r.seconds()))
        }
        Err(e) => PageError(e.into(), state.pages.clone()).into_response(),
    }
}

/// The link's token in the query.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// `GET /password/set?token=…`: the form, for a live link.
pub async fn set_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
) -> Response {
    match state.login.link_user(&q.token).await {
        Ok(user) => set_form(
            &state,
            &headers,
            StatusCode::OK,
            user.email.as_str(),
            &q.token,
            None,
        ),
        Err(e) => refused(&state, e),
    }
}

fn set_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    token: &str,
    error: Option<&'static str>,
) -> Response {
    let (csrf, set_cookie) = match guard::csrf_token(&state.config, headers) {
        Ok(t) => t,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let body = state.pages.render(
        "set_password",
        &json!({"csrf": csrf, "email": email, "token": token, "error": error, "min": MIN_PASSWORD_CHARS}),
    );
    with_cookie(status, set_cookie, body)
}

/// A link that is not valid, or a backend failure.
fn refused(state: &AppState, e: LoginError) -> Response {
    match e {
        LoginError::LinkInvalid => {
            tracing::info!(code = e.code(), "one-time link refused");
            let body = state.pages.render(
                "message",
                &json!({"title": "link-invalid-title", "message": "link-invalid", "link": "/password/forgot", "link_label": "ask-new-link"}),
            );
            (StatusCode::BAD_REQUEST, body).into_response()
        }
        e => PageError(WebError::Login(e), state.pages.clone()).into_response(),
    }
}

/// The set-password form.
#[derive(Debug, Deserialize)]
pub struct SetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /password/set`.
pub async fn set(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<SetForm>,
) -> Response {
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return PageError(e, state.pages.clone()).into_response();
    }
    match state
        .login
        .set_password(&form.token, &form.password, &form.confirm, Utc::now())
        .await
    {
        Ok(user) => {
            // This instance drops its cached view at once; the others within 30 s.
            state.forget_user_status(user.id).await;
            state
                .pages
                .render(
                    "message",
                    &json!({"title": "set-password-done-title", "message": "set-password-done", "email": user.email.as_str(), "link": "/", "link_label": "back-to-sign-in"}),
                )
                .into_response()
        }
        Err(e @ (LoginError::PasswordMismatch | LoginError::WeakPassword)) => {
            let key = match e {
                LoginError::PasswordMismatch => "set-password-mismatch",
                _ => "set-password-weak",
            };
            match state.login.link_user(&form.token).await {
                Ok(user) => set_form(
                    &state,
                    &headers,
                    StatusCode::BAD_REQUEST,
                    user.email.as_str(),
                    &form.token,
                    Some(key),
                ),
                Err(e) => refused(&state, e),
            }
        }
        Err(e) => refused(&state, e),
    }
}

//! The OpenID Connect provider's own endpoints: the discovery document, userinfo and the
//! end-session endpoint. The decisions are `oauth`'s (`discovery_doc`, `id_token`,
//! `logout`); this file reads the request and renders.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::error::PageError;
use super::guard;
use super::state::{AppState, SharedState};
use super::token::oauth_error;
use crate::oauth::{OAuthError, discovery_doc};

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "oauth",
    responses((status = 200, description = "OpenID Provider metadata (Discovery 1.0 §3)", body = Object))
)]
pub async fn configuration(State(state): State<SharedState>) -> Response {
    Json(discovery_doc::document(&state.oauth.issuer)).into_response()
}

/// `GET`/`POST /oauth2/userinfo` (Core §5.3) with `Authorization: Bearer`.
#[utoipa::path(
    get,
    path = "/oauth2/userinfo",
    tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's claims", body = crate::oauth::id_token::UserInfo),
        (status = 401, description = "invalid_token (RFC 6750 §3.1)", body = super::token::OAuthErrorBody),
    )
)]
pub async fn userinfo(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let result = match token {
        Some(t) => state.oauth.userinfo(t).await,
        None => Err(OAuthError::InvalidToken("no bearer token")),
    };
    match result {
        Ok(info) => super::token::no_store(StatusCode::OK, json!(info)),
        Err(e) => {
            let mut res = oauth_error(&e);
            if let OAuthError::InvalidToken(_) = e {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            res
        }
    }
}

/// `GET /oauth2/logout` (RP-Initiated Logout 1.0 §2).
pub async fn end_session_get(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    end_session(&state, &headers, &p).await
}

/// `POST /oauth2/logout`: the same, as a form (§2 allows both).
pub async fn end_session_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    end_session(&state, &headers, &p).await
}

/// With a valid `id_token_hint` naming this browser's user, the session ends at once
/// (the hint proves the app that asked is one the person used). Without one, a signed-in
/// person is asked to confirm with the CSRF-protected sign-out form: a bare link must not
/// sign anyone out.
async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Response {
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let pages = state.pages.clone();
    let decision = match state
        .oauth
        .end_session(
            get("id_token_hint"),
            get("post_logout_redirect_uri"),
            get("client_id"),
            get("state"),
        )
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(code = e.code(), reason = %e, "end-session request refused");
            let body = pages.render(
                "error",
                &json!({"title": "end-session-problem-title", "message": "end-session-problem", "code": e.code()}),
            );
            return (StatusCode::BAD_REQUEST, body).into_response();
        }
    };
    let session = match super::account::current(state, headers).await {
        Ok(s) => s,
        Err(e) => return PageError(e, pages).into_response(),
    };
    let Some(user_id) = decision.user_id else {
        return match session {
            Some(s) => {
                let (csrf, set_cookie) = match guard::csrf_token(&state.config, headers) {
                    Ok(t) => t,
                    Err(e) => return PageError(e, pages).into_response(),
                };
                let body = pages.render(
                    "end_session",
                    &json!({"confirm": true, "email": s.email, "csrf": csrf}),
                );
                guard::with_cookie(StatusCode::OK, set_cookie, body)
            }
            None => pages.render("end_session", &json!({})).into_response(),
        };
    };
    // Only the hinted user's own session ends: a hint of another user (an old token, a
    // shared computer) must not sign this person out.
    let mut cleared = None;
    if session.is_some_and(|s| s.user_id == user_id) {
        match super::account::sign_out(state, headers).await {
            Ok((c, _)) => cleared = Some(c),
            Err(e) => return PageError(e, pages).into_response(),
        }
    }
    let mut res = match decision.redirect {
        Some(to) => Redirect::to(&to).into_response(),
        None => pages.render("end_session", &json!({})).into_response(),
    };
    if let Some(c) = cleared {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

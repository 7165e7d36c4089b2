//! The browser side of the authorization code flow for native apps: `/oauth2/authorize`
//! and `/oauth2/resume` (back from sign-in). The checks are `oauth::request`'s and the
//! decisions `oauth`'s; this file picks the sign-in step and renders.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::state::{AppState, SharedState};
use crate::discovery::{Email, Route};
use crate::oauth::id_token::SignIn;
use crate::oauth::request::{AuthorizeError, AuthorizeRequest, Prompt};
use crate::oauth::{OAuthError, Subject, grants};

use super::discover::{checked_return_to, encode, password_step, sso_start_path};
use super::error::{PageError, WebError};
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
            "title": "error-title-sign-in",
            "message": "error-oauth-request",
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

/// A refused authorization request, answered where [`AuthorizeError`] says.
fn refusal(state: &AppState, e: &AuthorizeError) -> Response {
    match e {
        AuthorizeError::OnPage(e) => error_page(state, e),
        AuthorizeError::ToClient {
            redirect_uri,
            state: client_state,
            error,
        } => error_to_client(state, redirect_uri, client_state.as_deref(), error),
    }
}

/// `GET /oauth2/authorize` (RFC 6749 §4.1.1 with RFC 7636 and RFC 8252).
pub async fn authorize(
    State(state): State<SharedState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let request = match AuthorizeRequest::parse(state.oauth.clients.as_ref(), raw.as_deref()).await
    {
        Ok(r) => r,
        Err(e) => return refusal(&state, &e),
    };
    let (binding, binding_cookie) = match guard::binding(
        &state.config,
        &headers,
        BINDING_COOKIE,
        cookie::SameSite::Lax,
        Some(grants::REQUEST_TTL.as_secs() as i64),
    ) {
        Ok(b) => b,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let now = chrono::Utc::now();
    let pending = request.pending(&binding, now);
    // prompt=none (Core §3.1.2.6): no page at all; without a live session that is fresh
    // enough (and is the hinted user's), `login_required` goes straight back to the app.
    if request.prompt == Prompt::None {
        let session = match super::account::current(&state, &headers).await {
            Ok(s) => s,
            Err(e) => return PageError(e, state.pages.clone()).into_response(),
        };
        let usable = session.is_some_and(|s| {
            pending.accepts_sign_in(s.created_at)
                && request
                    .login_hint
                    .as_ref()
                    .is_none_or(|h| h.as_str().eq_ignore_ascii_case(&s.email))
        });
        if !usable {
            let e = AuthorizeError::ToClient {
                redirect_uri: request.redirect_uri,
                state: request.state,
                error: OAuthError::LoginRequired,
            };
            return refusal(&state, &e);
        }
    }
    let id = match state.oauth.begin(&pending).await {
        Ok(id) => id,
        Err(error) => {
            let e = AuthorizeError::ToClient {
                redirect_uri: request.redirect_uri,
                state: request.state,
                error,
            };
            return refusal(&state, &e);
        }
    };
    let resume = format!("/oauth2/resume?request={id}");
    let fresh = request.prompt == Prompt::Login;
    let mut res = next_step(
        &state,
        &headers,
        request.login_hint.as_ref(),
        &resume,
        fresh,
    )
    .await;
    if let Some(c) = binding_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The sign-in step for a pending request (an app's or a device's): straight back when
/// this browser is already signed in (as the hinted user, if any) unless `fresh` asks for
/// a new sign-in; with a hint, discovery at once (SSO tenant to its IdP, password tenant
/// to the password step); otherwise the email page.
pub(super) async fn next_step(
    state: &AppState,
    headers: &HeaderMap,
    hint: Option<&Email>,
    resume: &str,
    fresh: bool,
) -> Response {
    let pages = state.pages.clone();
    let page = |e: WebError| PageError(e, pages.clone()).into_response();
    let session = match super::account::current(state, headers).await {
        Ok(s) => s,
        Err(e) => return page(e),
    };
    if !fresh
        && let Some(s) = session
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
    State(state): State<SharedState>,
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
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let resume = format!("/oauth2/resume?request={}", q.request);
    let hint = pending
        .login_hint
        .as_deref()
        .and_then(|h| Email::parse(h).ok());
    let Some(session) = session else {
        return next_step(&state, &headers, hint.as_ref(), &resume, false).await;
    };
    // prompt=login or max_age: a session older than the request allows signs in again.
    if !pending.accepts_sign_in(session.created_at) {
        return next_step(&state, &headers, hint.as_ref(), &resume, true).await;
    }
    let sign_in = SignIn {
        sid: session.sid(),
        auth_time: session.created_at.timestamp(),
        amr: session.amr.clone(),
        acr: session.acr.clone(),
    };
    let binding = guard::cookie(&headers, &guard::cookie_name(&state.config, BINDING_COOKIE));
    let subject = Subject {
        user_id: session.user_id,
        email: session.email.clone(),
        account: session.account.clone(),
    };
    match state
        .oauth
        .issue_code(&q.request, binding.as_deref(), subject, sign_in)
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

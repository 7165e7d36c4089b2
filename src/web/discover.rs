//! The email-first steps: the sign-on page, discovery (form and JSON), and the per-account
//! Sign-on URL `/{account}`.

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::state::{AppState, SharedState};
use crate::config::Config;
use crate::discovery::{Email, Route, Tenant};

use super::error::{ApiError, PageError, WebError};
use super::guard::{self, with_cookie};

/// Query of the sign-on page.
#[derive(Debug, Deserialize, Default)]
pub struct EntryQuery {
    /// Where to land after login.
    pub return_to: Option<String>,
    /// Email to pre-fill (from an app or another region's gateway).
    pub login_hint: Option<String>,
}

/// The email form.
#[derive(Debug, Deserialize)]
pub struct DiscoverForm {
    /// The typed email.
    #[serde(default)]
    pub email: String,
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Where to land after login.
    pub return_to: Option<String>,
}

/// `GET /`: the email page.
pub async fn email_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<EntryQuery>,
) -> Response {
    let return_to = match checked_return_to(&state.config, q.return_to.as_deref()) {
        Ok(r) => r,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let email = q
        .login_hint
        .as_deref()
        .and_then(|h| Email::parse(h).ok())
        .map(|e| e.to_string());
    email_form(
        &state,
        &headers,
        StatusCode::OK,
        email.as_deref(),
        return_to,
        None,
    )
}

/// Renders the email page, with an error when re-shown after a bad submission.
fn email_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: Option<&str>,
    return_to: Option<Url>,
    error: Option<&'static str>,
) -> Response {
    let (csrf, set_cookie) = match guard::csrf_token(&state.config, headers) {
        Ok(t) => t,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let body = state.pages.render(
        "email",
        &json!({"csrf": csrf, "email": email, "return_to": return_to.map(String::from), "error": error}),
    );
    with_cookie(status, set_cookie, body)
}

/// `POST /login/discover`: email in, next step out.
pub async fn discover_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<DiscoverForm>,
) -> Response {
    let pages = state.pages.clone();
    let page_error = |e: WebError| PageError(e, pages.clone()).into_response();
    if let Err(e) = guard::check_csrf(&state.config, &headers, &form.csrf) {
        return page_error(e);
    }
    let return_to = match checked_return_to(&state.config, form.return_to.as_deref()) {
        Ok(r) => r,
        Err(e) => return page_error(e),
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            tracing::info!(code = "invalid_email", reason = %e, "discovery refused");
            crate::discovery::count_outcome(crate::discovery::INVALID_EMAIL);
            return email_form(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                Some(form.email.trim()),
                return_to,
                Some(super::error::email_error_key(&e)),
            );
        }
    };
    let route = match state.discovery.route(&email).await {
        Ok(r) => r,
        Err(e) => return page_error(e.into()),
    };
    route.count();
    tracing::debug!(
        domain = email.domain(),
        outcome = route.label(),
        "discovery"
    );
    match route {
        Route::Sso(tenant) => {
            let start = sso_start_path(&tenant, Some(&email), return_to.as_ref());
            if tenant.sso.as_ref().is_some_and(|s| s.auto_redirect) {
                return Redirect::to(&start).into_response();
            }
            let sso = tenant
                .sso
                .as_ref()
                .map(|s| s.button.clone())
                .unwrap_or_default();
            let body = state.pages.render(
                "sso",
                &json!({
                    "email": email.as_str(),
                    "tenant_name": tenant.name,
                    "button": sso,
                    "start_url": start,
                    "back_url": back_url(return_to.as_ref()),
                }),
            );
            body.into_response()
        }
        Route::Password(_) => password_step(&state, &headers, &email, return_to),
        Route::OtherRegion { url, .. } => {
            Redirect::to(other_region_url(&url, "/", Some(&email), return_to.as_ref()).as_str())
                .into_response()
        }
    }
}

/// The password step with the email filled in.
pub fn password_step(
    state: &AppState,
    headers: &HeaderMap,
    email: &Email,
    return_to: Option<Url>,
) -> Response {
    let (csrf, set_cookie) = match guard::csrf_token(&state.config, headers) {
        Ok(t) => t,
        Err(e) => return PageError(e, state.pages.clone()).into_response(),
    };
    let body = state.pages.render(
        "password",
        &json!({
            "csrf": csrf,
            "email": email.as_str(),
            "return_to": return_to.as_ref().map(Url::as_str),
            "back_url": back_url(return_to.as_ref()),
        }),
    );
    with_cookie(StatusCode::OK, set_cookie, body)
}

/// `GET /{account}`: the account's Sign-on URL (what an IdP admin configures as such).
pub async fn account_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<EntryQuery>,
) -> Response {
    let pages = state.pages.clone();
    let return_to = match checked_return_to(&state.config, q.return_to.as_deref()) {
        Ok(r) => r,
        Err(e) => return PageError(e, pages).into_response(),
    };
    let tenant = match account_tenant(&state, &account).await {
        Ok(t) => t,
        Err(e) => return PageError(e, pages).into_response(),
    };
    let hint = q.login_hint.as_deref().and_then(|h| Email::parse(h).ok());
    match state.discovery.route_to_home(tenant, None).await {
        Route::Sso(t) => {
            Redirect::to(&sso_start_path(&t, hint.as_ref(), return_to.as_ref())).into_response()
        }
        // The same Sign-on URL on the tenant's own gateway, which decides from there.
        Route::OtherRegion { url, tenant, .. } => {
            let path = format!("/{}", tenant.account);
            let to = other_region_url(&url, &path, hint.as_ref(), return_to.as_ref());
            Redirect::to(to.as_str()).into_response()
        }
        Route::Password(_) => {
            let (csrf, set_cookie) = match guard::csrf_token(&state.config, &headers) {
                Ok(t) => t,
                Err(e) => return PageError(e, pages).into_response(),
            };
            let body = state.pages.render(
                "password",
                &json!({
                    "csrf": csrf,
                    "email": hint.as_ref().map(Email::as_str),
                    "return_to": return_to.as_ref().map(Url::as_str),
                    "back_url": back_url(return_to.as_ref()),
                }),
            );
            with_cookie(StatusCode::OK, set_cookie, body)
        }
    }
}

/// JSON discovery request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DiscoverRequest {
    /// The email to route.
    #[schema(format = Email, example = "ann@fabrikam.com")]
    pub email: String,
}

/// JSON discovery answer (SPEC: method, account, button, login_url).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiscoverResponse {
    /// `saml2`, `oidc`, `wsfed` or `password`.
    #[schema(value_type = String, pattern = "^(saml2|oidc|wsfed|password)$", example = "saml2")]
    pub method: &'static str,
    /// The tenant's slug; null for a domain no tenant owns.
    pub account: Option<String>,
    /// The SSO button label.
    pub button: Option<String>,
    /// Where the client sends the person next.
    pub login_url: String,
    /// The tenant's region when it is served by another gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The discovery answer's `method`: the tenant's SSO protocol, or `password`.
fn method_of(t: &crate::discovery::Tenant) -> &'static str {
    t.sso.as_ref().map_or("password", |s| s.protocol.as_str())
}

/// `POST /api/v1/discover`: the same decision as the form, for programs.
#[utoipa::path(
    post,
    path = "/api/v1/discover",
    tag = "discovery",
    request_body = DiscoverRequest,
    responses(
        (status = 200, description = "Where this email signs in", body = DiscoverResponse),
        (status = 400, description = "Not an email address, or a malformed body", body = super::error::ApiErrorBody),
        (status = 404, description = "The domain's tenant is unknown", body = super::error::ApiErrorBody),
        (status = 429, description = "Too many requests", body = super::error::ApiErrorBody),
        (status = 503, description = "A backend is down", body = super::error::ApiErrorBody),
    )
)]
pub async fn discover_api(
    State(state): State<SharedState>,
    body: Result<Json<DiscoverRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<DiscoverResponse>, ApiError> {
    let Json(req) = body.map_err(|e| WebError::BadRequest(e.body_text()))?;
    let email = Email::parse(&req.email)
        .inspect_err(|_| crate::discovery::count_outcome(crate::discovery::INVALID_EMAIL))?;
    let route = state.discovery.route(&email).await?;
    route.count();
    let config = &state.config;
    Ok(Json(match route {
        Route::Sso(ref t) => DiscoverResponse {
            method: method_of(t),
            button: t.sso.as_ref().map(|s| s.button.clone()),
            login_url: sign_in_url(config, &email, &route),
            account: Some(t.account.clone()),
            region: None,
        },
        Route::Password(ref t) => DiscoverResponse {
            method: "password",
            account: t.as_ref().map(|t| t.account.clone()),
            button: None,
            login_url: sign_in_url(config, &email, &route),
            region: None,
        },
        Route::OtherRegion {
            ref region,
            ref tenant,
            ..
        } => DiscoverResponse {
            method: method_of(tenant),
            account: Some(tenant.account.clone()),
            button: None,
            login_url: sign_in_url(config, &email, &route),
            region: Some(region.clone()),
        },
    }))
}

/// Where a person with `email` signs in, as an absolute URL: the tenant's SSO start, the
/// password step with the email filled in, or the other region's gateway. One function
/// for every discovery surface (JSON API, WebFinger), so they cannot disagree.
pub fn sign_in_url(config: &crate::config::Config, email: &Email, route: &Route) -> String {
    match route {
        Route::Sso(t) => config.url(&sso_start_path(t, Some(email), None)),
        Route::Password(_) => config.url(&format!("/?login_hint={}", encode(email.as_str()))),
        Route::OtherRegion { url, .. } => other_region_url(url, "/", Some(email), None).into(),
    }
}

/// Path that starts SSO for `tenant`, carrying the login hint and `return_to`.
pub fn sso_start_path(tenant: &Tenant, email: Option<&Email>, return_to: Option<&Url>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(e) = email {
        q.append_pair("login_hint", e.as_str());
    }
    if let Some(r) = return_to {
        q.append_pair("return_to", r.as_str());
    }
    let q = q.finish();
    if q.is_empty() {
        format!("/sso/{}/start", tenant.account)
    } else {
        format!("/sso/{}/start?{q}", tenant.account)
    }
}

/// `path` (the sign-on page `/`, or a Sign-on URL) on the other region's gateway, with the
/// email as `login_hint` and `return_to` carried along.
pub(super) fn other_region_url(
    base: &Url,
    path: &str,
    email: Option<&Email>,
    return_to: Option<&Url>,
) -> Url {
    let mut url = base.join(path).unwrap_or_else(|_| base.clone());
    if email.is_some() || return_to.is_some() {
        let mut q = url.query_pairs_mut();
        if let Some(e) = email {
            q.append_pair("login_hint", e.as_str());
        }
        if let Some(r) = return_to {
            q.append_pair("return_to", r.as_str());
        }
    }
    url
}

fn back_url(return_to: Option<&Url>) -> String {
    match return_to {
        Some(r) => format!("/?return_to={}", encode(r.as_str())),
        None => "/".into(),
    }
}

/// `s` percent-encoded as one query value (`application/x-www-form-urlencoded`): the one
/// encoder of every link the pages build.
pub(super) fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The tenant named by a URL slug; `NotFound` when none.
pub async fn account_tenant(state: &AppState, account: &str) -> Result<Arc<Tenant>, WebError> {
    state
        .discovery
        .directory
        .by_account(account)
        .await?
        .ok_or(WebError::NotFound)
}

/// Validates an optional `return_to` (absent and empty mean "none"). Takes the
/// configuration alone so the fuzz target runs exactly this on parsed queries.
pub fn checked_return_to(config: &Config, raw: Option<&str>) -> Result<Option<Url>, WebError> {
    match raw.filter(|r| !r.is_empty()) {
        Some(r) => guard::return_to(config, r).map(Some),
        None => Ok(None),
    }
}

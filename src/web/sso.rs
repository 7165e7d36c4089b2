//! SAML endpoints: SSO start (`/sso/{account}/start`), the ACS (`/auth/saml/callback`,
//! alias `/saml2/idpresponse`) and SP metadata. The ACS also takes a WS-Federation STS's
//! answer (`wa=wsignin1.0&wresult=...&wctx=...`), told apart by its form fields.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::state::SharedState;
use crate::discovery::{Email, Route};
use crate::login::{self, SsoOutcome};
use crate::saml::{self, request::SsoStart};
use crate::wsfed::{self, WsFedError};

use super::discover::{EntryQuery, account_tenant, checked_return_to};
use super::error::{PageError, WebError};
use super::guard::{self, with_cookie};

/// Cookie binding a pending SSO request to this browser. It must reach the ACS on the
/// IdP's cross-site POST, so it is `SameSite=None` (a Lax cookie is not sent on that POST;
/// see [`guard::set_cookie`] for plain HTTP). It holds a random value, never a session.
pub(super) const BINDING_COOKIE: &str = "realmgate_sso";

/// `GET /sso/{account}/start`: 302 to the IdP (or an auto-submitting POST form).
pub async fn start(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<EntryQuery>,
) -> Response {
    let pages = state.pages.clone();
    let fail = |e: WebError| PageError(e, pages.clone()).into_response();
    let return_to = match checked_return_to(&state.config, q.return_to.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let hint = q.login_hint.as_deref().and_then(|h| Email::parse(h).ok());
    let tenant = match account_tenant(&state, &account).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let tenant = match state
        .discovery
        .route_for_tenant(tenant, hint.as_ref().map(Email::domain))
        .await
    {
        Route::Sso(t) => t,
        // Not (or not yet verified as) an SSO tenant: its Sign-on URL shows the password step.
        _ => return Redirect::to(&format!("/{account}")).into_response(),
    };
    let (binding, set_cookie) = match guard::binding(
        &state.config,
        &headers,
        BINDING_COOKIE,
        cookie::SameSite::None,
        Some(login::PENDING_TTL.as_secs() as i64),
    ) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let started = state
        .login
        .start_sso(
            &tenant,
            hint.as_ref(),
            return_to.as_ref(),
            &binding,
            Utc::now(),
        )
        .await;
    match started {
        Ok(SsoStart::Redirect(url)) => with_cookie(
            StatusCode::FOUND,
            set_cookie,
            [(header::LOCATION, url.to_string())],
        ),
        Ok(SsoStart::Post(form)) => {
            let body = state.pages.render(
                "post_binding",
                &json!({"action": form.action.as_str(), "fields": form.fields.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()}),
            );
            with_cookie(StatusCode::OK, set_cookie, body)
        }
        Err(e) => PageError(e.into(), pages).for_account(Some(&tenant.account)),
    }
}

/// The IdP's POST (SAML HTTP-POST binding, or a WS-Federation `wsignin1.0` answer).
#[derive(Debug, Deserialize)]
pub struct AcsForm {
    /// Base64 SAML Response.
    #[serde(rename = "SAMLResponse", default)]
    pub saml_response: String,
    /// Our opaque handle of the pending request.
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
    /// WS-Federation action: `wsignin1.0` with a `wresult`.
    pub wa: Option<String>,
    /// WS-Federation: the STS's `RequestSecurityTokenResponse`, as XML text.
    #[serde(default)]
    pub wresult: String,
    /// WS-Federation: our opaque handle of the pending sign-in, echoed by the STS.
    pub wctx: Option<String>,
}

/// `POST /auth/saml/callback`: consume the response, open a session.
pub async fn acs(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let pages = state.pages.clone();
    let bad = |why: &str| PageError(WebError::BadRequest(why.into()), pages.clone());
    let Ok(Form(form)) = form else {
        return bad("POST without a SAMLResponse or wresult").into_response();
    };
    let binding = guard::cookie(&headers, &guard::cookie_name(&state.config, BINDING_COOKIE));
    let outcome = match (form.saml_response.is_empty(), form.wresult.is_empty()) {
        (false, true) => {
            state
                .login
                .complete_sso(
                    &form.saml_response,
                    form.relay_state.as_deref(),
                    binding.as_deref(),
                    Utc::now(),
                )
                .await
        }
        (true, false) if form.wa.as_deref() == Some(wsfed::request::WA_SIGNIN) => {
            state
                .login
                .complete_wsfed(
                    &form.wresult,
                    form.wctx.as_deref(),
                    binding.as_deref(),
                    Utc::now(),
                )
                .await
        }
        (true, false) => {
            let wa = form.wa.unwrap_or_default();
            return PageError(WsFedError::Action(wa).into(), pages).into_response();
        }
        // Both, or neither: which protocol answered would be a guess.
        _ => return bad("POST needs exactly one of SAMLResponse and wresult").into_response(),
    };
    finish(&state, outcome).await
}

/// The answer to a completed SSO round trip, whatever its protocol: the session cookie
/// and `return_to`, the Waiting Room, or the refusal page (logged with its account).
pub(super) async fn finish(
    state: &SharedState,
    outcome: Result<SsoOutcome, login::SsoRefusal>,
) -> Response {
    match outcome {
        Ok(SsoOutcome::SignedIn { session, return_to }) => {
            super::account::remember_language(state, session.user_id).await;
            super::account::signed_in(state, &session, return_to.as_deref())
        }
        Ok(SsoOutcome::Waiting(user)) => {
            super::account::remember_language(state, user.id).await;
            super::account::to_waiting_room(state, super::account::WaitingVia::Sso)
        }
        Err(login::SsoRefusal { account, error }) => {
            tracing::warn!(code = error.code(), account, reason = %error, "SSO login refused");
            PageError(error.into(), state.pages.clone()).for_account(account.as_deref())
        }
    }
}

/// `GET /saml/metadata`: what the IdP administrator imports.
pub async fn metadata(State(state): State<SharedState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/samlmetadata+xml"),
        )],
        saml::sp_metadata(&state.login.sp),
    )
        .into_response()
}

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

use super::state::{AppState, SharedState};
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
    let (binding, set_cookie) = match binding(&state, &headers) {
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
        Ok(start) => to_idp(&state, start, set_cookie),
        Err(e) => PageError(e.into(), pages).for_account(Some(&tenant.account)),
    }
}

/// This browser's binding of a pending SSO request, and the `Set-Cookie` when it is new.
pub(super) fn binding(
    state: &SharedState,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), WebError> {
    guard::binding(
        &state.config,
        headers,
        BINDING_COOKIE,
        cookie::SameSite::None,
        Some(login::PENDING_TTL.as_secs() as i64),
    )
}

/// Sends the browser to the IdP with a message (a login, a console's Test SSO, a logout): a
/// 302 (HTTP-Redirect binding) or an auto-submitting form (HTTP-POST binding), setting
/// `set_cookie` when given.
pub(super) fn to_idp(
    state: &AppState,
    start: SsoStart,
    set_cookie: Option<HeaderValue>,
) -> Response {
    match start {
        SsoStart::Redirect(url) => with_cookie(
            StatusCode::FOUND,
            set_cookie,
            [(header::LOCATION, url.to_string())],
        ),
        SsoStart::Post(form) => {
            let body = state.pages.render(
                "post_binding",
                &json!({"action": form.action.as_str(), "fields": form.fields.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()}),
            );
            with_cookie(StatusCode::OK, set_cookie, body)
        }
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
/// and `return_to`, the Waiting Room, a Test SSO's result page in the console, or the
/// refusal page (logged with its account).
pub(super) async fn finish(
    state: &SharedState,
    outcome: Result<SsoOutcome, login::SsoRefusal>,
) -> Response {
    match outcome {
        Ok(SsoOutcome::SignedIn {
            session,
            return_to,
            lang,
        }) => {
            super::account::remember_language(state, session.user_id, lang).await;
            super::account::signed_in(state, &session, return_to.as_deref())
        }
        Ok(SsoOutcome::Waiting(user)) => {
            super::account::remember_language(state, user.id, user.lang).await;
            super::account::to_waiting_room(state, super::account::WaitingVia::Sso)
        }
        Ok(SsoOutcome::Tested(test)) => {
            Redirect::to(&super::console::sso_test::result_path(&test)).into_response()
        }
        Err(login::SsoRefusal { account, error }) => {
            tracing::warn!(code = error.code(), account, reason = %error, "SSO login refused");
            PageError(error.into(), state.pages.clone()).for_account(account.as_deref())
        }
    }
}

/// `wa` of a GET at the ACS paths.
#[derive(Debug, Deserialize)]
pub struct SignOutQuery {
    wa: Option<String>,
}

/// `GET /auth/saml/callback?wa=wsignoutcleanup1.0` (or `wsignout1.0`; alias path too):
/// the STS signs the person out of every relying party, ours being the realm's ACS. Ends
/// this browser's session when a WS-Federation tenant's login opened it (never another
/// kind: anyone can send a browser here) and answers 200 with the signed-out page, which
/// is all AD FS needs of the frame or image it loads this in. `wreply` is not followed:
/// an unauthenticated redirect target would be an open redirect.
pub async fn wsfed_signout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<SignOutQuery>,
) -> Response {
    let wa = q.wa.unwrap_or_default();
    if wa != wsfed::request::WA_SIGNOUT_CLEANUP && wa != wsfed::request::WA_SIGNOUT {
        return PageError(WsFedError::Action(wa).into(), state.pages.clone()).into_response();
    }
    let mut res = super::slo::signed_out(&state);
    let name = guard::cookie_name(&state.config, guard::SESSION_COOKIE);
    let session = match guard::cookie(&headers, &name) {
        Some(id) => state.sessions.load(&id, Utc::now()).await.ok().flatten(),
        None => None,
    };
    if let Some(s) = session
        && state.login.signs_in_with_wsfed(&s.account).await
    {
        match super::account::sign_out(&state, &headers).await {
            Ok((expired, _)) => {
                res.headers_mut().append(header::SET_COOKIE, expired);
            }
            Err(e) => return PageError(e, state.pages.clone()).into_response(),
        }
    }
    res
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

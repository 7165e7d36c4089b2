//! `/saml/slo`, our SAML SingleLogoutService in both bindings (GET for HTTP-Redirect, POST
//! for HTTP-POST): the IdP's answer to our LogoutRequest, or its own LogoutRequest. The
//! checks and what ends are `login`'s (`Login::slo`); this file reads the request and
//! renders. Like the ACS it takes cross-site messages, so no form token: the signature and
//! (for an answer) the pending logout bound to this browser take its place.

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::error::{PageError, WebError};
use super::guard;
use super::sso::{BINDING_COOKIE, to_idp};
use super::state::{AppState, SharedState};
use crate::login::{LoginError, SloOutcome};
use crate::saml::logout::Received;

/// The HTTP-POST binding's fields.
#[derive(Debug, Deserialize)]
pub struct SloForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `GET /saml/slo` (HTTP-Redirect binding).
pub async fn redirect(
    State(state): State<SharedState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let received = Received::from_query(query.as_deref().unwrap_or_default());
    answer(&state, &headers, received).await
}

/// `POST /saml/slo` (HTTP-POST binding).
pub async fn post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<SloForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        let e = WebError::BadRequest("POST without a SAMLRequest or SAMLResponse".into());
        return PageError(e, state.pages.clone()).into_response();
    };
    let received = Received::from_post(
        form.saml_request.as_deref(),
        form.saml_response.as_deref(),
        form.relay_state.as_deref(),
    );
    answer(&state, &headers, received).await
}

async fn answer(
    state: &SharedState,
    headers: &HeaderMap,
    received: Result<Received, crate::saml::SamlError>,
) -> Response {
    let received = match received {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(code = e.code(), reason = %e, "SAML logout message refused");
            return PageError(LoginError::from(e).into(), state.pages.clone()).into_response();
        }
    };
    let binding = guard::cookie(headers, &guard::cookie_name(&state.config, BINDING_COOKIE));
    match state
        .login
        .slo(received, binding.as_deref(), Utc::now())
        .await
    {
        Ok(SloOutcome::SignedOut) => signed_out(state),
        Ok(SloOutcome::Answer(start)) => to_idp(state, start, None),
        Err(refusal) => {
            let e = refusal.error;
            tracing::warn!(code = e.code(), account = refusal.account, reason = %e, "SAML logout message refused");
            PageError(e.into(), state.pages.clone()).for_account(refusal.account.as_deref())
        }
    }
}

/// The signed-out page.
pub(super) fn signed_out(state: &AppState) -> Response {
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        state.pages.render(
            "message",
            &serde_json::json!({"title": "signed-out-title", "message": "signed-out"}),
        ),
    )
        .into_response()
}

//! The OpenID Connect callback (`GET /auth/oidc/callback`): the IdP's redirect back with
//! `code` and `state`, handed to `login` with this browser's binding cookie. The start is
//! the SAML one (`/sso/{account}/start`), which `login` sends to the tenant's protocol.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;

use super::guard;
use super::sso::{BINDING_COOKIE, finish};
use super::state::SharedState;
use crate::login::OidcCallback;

/// The callback's path: our redirect URI is `public_url` + this.
pub const CALLBACK: &str = "/auth/oidc/callback";

/// The callback's query (RFC 6749 §4.1.2).
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

/// `GET /auth/oidc/callback`.
pub async fn callback(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let binding = guard::cookie(&headers, &guard::cookie_name(&state.config, BINDING_COOKIE));
    let outcome = state
        .login
        .complete_oidc(
            OidcCallback {
                state: q.state.as_deref(),
                code: q.code.as_deref(),
                error: q.error.as_deref(),
                error_description: q.error_description.as_deref(),
                iss: q.iss.as_deref(),
            },
            binding.as_deref(),
            Utc::now(),
        )
        .await;
    finish(&state, outcome).await
}

//! Bearer-token authentication of the management API. The token decides who the caller
//! is (the audit log's actor) and which accounts it reaches; every refusal fails closed.
//!
//! A presented token is looked up through the one guessable-secret limiter
//! ([`SecretGuard`], per client address): a token is 256 random bits, but an unlimited
//! endpoint would still let anyone hammer the database with guesses. Only misses count:
//! an integration calling many times a minute with its valid token is never throttled.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;

use super::api::MgmtError;
use super::state::SharedState;
use crate::admin::{Actor, AdminError, ApiToken, Scope};
use crate::discovery::Tenant;
use crate::session::rate_limit::{Guesser, SecretGuard};

/// The limiter scope of API token lookups.
const TOKEN_SCOPE: &str = "api_token";

/// The verified caller of a management request.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiToken);

impl Caller {
    /// Who the audit log names: the token's name.
    pub fn actor(&self) -> Actor {
        Actor::Token(self.0.name.clone())
    }

    /// Whether this token reaches `account` (the operator's token reaches all).
    pub fn reaches(&self, account: &str) -> bool {
        self.0.account.as_deref().is_none_or(|a| a == account)
    }

    /// The tenant `account`, if this token reaches it. Another account's is answered
    /// exactly like an absent one, so a token cannot enumerate the accounts it may not see.
    pub async fn tenant(
        &self,
        state: &SharedState,
        account: &str,
    ) -> Result<std::sync::Arc<Tenant>, MgmtError> {
        let absent = || MgmtError::Admin(AdminError::NotFound(format!("account {account}")));
        if !self.reaches(account) {
            return Err(absent());
        }
        state
            .discovery
            .directory
            .by_account(account)
            .await?
            .ok_or_else(absent)
    }
}

/// The token a request presents, whatever its scope: the management API and SCIM each
/// check the scope they need. Missing, unknown and revoked tokens are
/// [`MgmtError::Unauthorized`]. The lookup goes through the one guessable-secret limiter,
/// counting misses only: a busy integration (Entra's provisioning bursts) is never
/// throttled, a guesser is locked out per client address.
pub async fn authenticate(parts: &Parts, state: &SharedState) -> Result<ApiToken, MgmtError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or(MgmtError::Unauthorized("no bearer token"))?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .ok_or(MgmtError::Unauthorized("no client address"))?;
    let who = Guesser {
        ip: super::account::client_ip(state, peer, &parts.headers),
        session: None,
    };
    SecretGuard::misses_only(&state.limiter, TOKEN_SCOPE)
        .lookup(who, Utc::now(), async {
            state
                .admin
                .tokens
                .verify(value)
                .await
                .map_err(MgmtError::from)
        })
        .await?
        .ok_or(MgmtError::Unauthorized("unknown or revoked token"))
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = MgmtError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = authenticate(parts, state).await?;
        if token.scope != Scope::Admin {
            return Err(MgmtError::Forbidden(token.name));
        }
        Ok(Caller(token))
    }
}

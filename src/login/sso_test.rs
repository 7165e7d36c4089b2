//! Test SSO: a real SP-initiated round trip that an account's admin starts from the console
//! and that ends in a result page, never in a session. The pending login carries a
//! [`TestMark`] (written by the server, so nothing the browser or the IdP sends can add or
//! remove it); when its answer comes back, every check of a real login runs (binding,
//! signature, times, replay, the email in the tenant's routed domains), and then, instead of
//! the account decision, the result is stored: no user is created, approved, admitted or
//! signed in, whatever the IdP says. As Auth0's "Try connection" and WorkOS's test sign-in do.
//!
//! The result is bound to the admin's session that started the test (a SHA-256 of its
//! cookie value, never the value): another session, even of the same admin, or another
//! account's admin, finds nothing under its id.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::traces::Trace;
use super::{Login, LoginError, SsoOutcome, sha256_hex};
use crate::discovery::Tenant;
use crate::saml::request::SsoStart;
use crate::session::Session;

/// How long a test's result can be read: long enough to read it, short enough not to pile
/// up.
pub const RESULT_TTL: Duration = Duration::from_secs(60 * 60);

/// Marks a pending login as a test: whose result it is and where it goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestMark {
    /// The result's random id.
    pub id: String,
    /// SHA-256 of the starting session's cookie value.
    session: String,
}

/// A successful test's claims, as the validated answer carried them.
#[derive(Debug, Clone, Default)]
pub struct SsoTest {
    /// The account tested.
    pub account: String,
    /// The result's id.
    pub id: String,
    /// The claims: they fill what the trace of the attempt lacks (a WS-Federation answer
    /// has no response facts).
    pub claims: Claims,
}

/// What a validated answer asserted.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// The verified issuer.
    pub issuer: Option<String>,
    /// The Subject NameID (SAML, WS-Federation).
    pub name_id: Option<String>,
    /// The asserted email.
    pub email: Option<String>,
    /// Every attribute of the assertion (empty for OpenID Connect, whose claims are the
    /// trace's issuer, subject and email).
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// What a test found, as the result page shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestResult {
    /// The account tested.
    pub account: String,
    /// SHA-256 of the session that may read it.
    session: String,
    /// The attempt as the login traces keep it: result, stable code, precise reason, and
    /// the claims (Issuer, NameID, email, subject, signing certificate).
    pub trace: Trace,
    /// The assertion's attributes, on success.
    pub attributes: BTreeMap<String, Vec<String>>,
}

fn key(id: &str) -> String {
    format!("ssotest:{id}")
}

impl Login {
    /// Starts a test of `tenant`'s SSO for the admin signed in with `session`, bound to
    /// this browser's `binding` like any login. Gives the way to the IdP and the result's
    /// id. No login hint goes to the IdP: the admin often tests with another account than
    /// their own.
    pub async fn start_test(
        &self,
        tenant: &Tenant,
        session: &Session,
        binding: &str,
        now: DateTime<Utc>,
    ) -> Result<(SsoStart, String), LoginError> {
        let mark = TestMark {
            id: crate::secrets::random_token(),
            session: sha256_hex(&session.id),
        };
        let id = mark.id.clone();
        let start = self
            .start(tenant, None, None, binding, Some(mark), now)
            .await?;
        Ok((start, id))
    }

    /// The claims of a test that passed every check: the tenant must own the asserted email
    /// as a real login requires, and then nothing is decided about anyone.
    pub(super) async fn tested(
        &self,
        tenant: &Arc<Tenant>,
        mark: &TestMark,
        claims: Claims,
    ) -> Result<SsoOutcome, LoginError> {
        self.owned_email(tenant, claims.email.as_deref().unwrap_or_default())
            .await?;
        Ok(SsoOutcome::Tested(SsoTest {
            account: tenant.account.clone(),
            id: mark.id.clone(),
            claims,
        }))
    }

    /// Ends a test whatever its outcome: the result, with `trace` (the attempt as traced),
    /// is stored for the session that started it, and the answer is always the way to the
    /// result, never a session: a refusal is a result too, not an error page.
    pub(super) async fn end_test(
        &self,
        mark: TestMark,
        account: String,
        mut trace: Trace,
        outcome: &Result<SsoOutcome, LoginError>,
    ) -> Result<SsoOutcome, LoginError> {
        let claims = match outcome {
            Ok(SsoOutcome::Tested(t)) => t.claims.clone(),
            _ => Claims::default(),
        };
        trace.issuer = trace.issuer.or(claims.issuer);
        trace.name_id = trace.name_id.or(claims.name_id);
        trace.email = trace.email.or(claims.email);
        tracing::info!(target: "audit", event = "sso_test", account = %account, code = %trace.code);
        let result = TestResult {
            account: account.clone(),
            session: mark.session,
            trace,
            attributes: claims.attributes,
        };
        let bytes = serde_json::to_vec(&result).map_err(LoginError::Pending)?;
        self.store.put(&key(&mark.id), bytes, RESULT_TTL).await?;
        Ok(SsoOutcome::Tested(SsoTest {
            account,
            id: mark.id,
            claims: Claims::default(),
        }))
    }

    /// The result `id` of `account`, only for the session that started the test; `None`
    /// for any other session or account, an unknown id, or an expired result.
    pub async fn test_result(
        &self,
        account: &str,
        id: &str,
        session: &Session,
    ) -> Result<Option<TestResult>, LoginError> {
        if id.is_empty() || id.len() > 80 {
            return Ok(None);
        }
        let Some(bytes) = self.store.get(&key(id)).await? else {
            return Ok(None);
        };
        let result = serde_json::from_slice::<TestResult>(&bytes).map_err(LoginError::Pending)?;
        let mine: bool = subtle::ConstantTimeEq::ct_eq(
            sha256_hex(&session.id).as_bytes(),
            result.session.as_bytes(),
        )
        .into();
        Ok((mine && result.account == account).then_some(result))
    }
}

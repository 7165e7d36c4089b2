//! SAML Single Logout, both directions, for the sessions a SAML login opened.
//!
//! At login the IdP's names for the session are kept in the store beside it: under the
//! session, who it is at the IdP (for our LogoutRequest), and under (tenant, IdP,
//! NameID) the sessions of that principal with their SessionIndex (for the IdP's
//! LogoutRequest). Both live as long as a session can. The index holds [`SessionRef`]s,
//! never cookies. Every session ends through `Sessions`, so the apps that got ID tokens
//! from it are told (back-channel logout).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Login, LoginError, Pending, Role, SsoRefusal, sha256_hex};
use crate::discovery::{Protocol, Tenant};
use crate::saml::logout::{self, Kind, LogoutStatus, Received, Subject, Verified};
use crate::saml::request::{SsoStart, new_request_id};
use crate::saml::{IdpMetadata, VerifiedAssertion};
use crate::session::{Session, SessionRef};

/// Most sessions one principal's index keeps (the newest): bounds what one IdP
/// LogoutRequest walks.
const INDEX_MAX: usize = 64;

/// Who a SAML login's session is at the IdP, taken from the verified assertion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LoginSubject {
    issuer: String,
    name_id: String,
    format: Option<String>,
    session_index: Option<String>,
}

impl LoginSubject {
    pub(super) fn of(a: &VerifiedAssertion) -> Self {
        Self {
            issuer: a.issuer.clone(),
            name_id: a.name_id.clone(),
            format: a.name_id_format.clone(),
            session_index: a.session_index.clone(),
        }
    }
}

/// What is kept under a session for our LogoutRequest.
#[derive(Debug, Serialize, Deserialize)]
struct SessionSubject {
    account: String,
    subject: LoginSubject,
}

/// One session of a principal, in its index.
#[derive(Debug, Serialize, Deserialize)]
struct IndexEntry {
    session_index: Option<String>,
    session: SessionRef,
}

/// What the SLO endpoint did.
pub enum SloOutcome {
    /// Our LogoutRequest was answered: show the signed-out page.
    SignedOut,
    /// The IdP's LogoutRequest was carried out: send the browser back with our answer.
    Answer(SsoStart),
}

fn subject_key(session: &SessionRef) -> String {
    format!("slo-subject:{}", session.key())
}

fn index_key(account: &str, issuer: &str, name_id: &str) -> String {
    format!(
        "slo-index:{account}:{}:{}",
        sha256_hex(issuer),
        sha256_hex(name_id)
    )
}

fn replay_key(issuer: &str, id: &str) -> String {
    format!("slo-replay:{}:{}", sha256_hex(issuer), sha256_hex(id))
}

fn corrupt(e: serde_json::Error) -> LoginError {
    LoginError::Pending(e)
}

impl Login {
    /// Keeps the IdP's names for `session`, when `idp` does Single Logout.
    pub(super) async fn remember_saml_login(
        &self,
        tenant: &Tenant,
        idp: &IdpMetadata,
        session: &Session,
        subject: LoginSubject,
    ) -> Result<(), LoginError> {
        if idp.slo_redirect.is_none() && idp.slo_post.is_none() {
            return Ok(());
        }
        let ttl = self.sessions.lifetime();
        let reference = session.reference();
        let entry = IndexEntry {
            session_index: subject.session_index.clone(),
            session: reference.clone(),
        };
        let index = index_key(&tenant.account, &subject.issuer, &subject.name_id);
        let kept = SessionSubject {
            account: tenant.account.clone(),
            subject,
        };
        self.store
            .put(
                &subject_key(&reference),
                serde_json::to_vec(&kept).map_err(corrupt)?,
                ttl,
            )
            .await?;
        self.store
            .push_capped(
                &index,
                serde_json::to_vec(&entry).map_err(corrupt)?,
                INDEX_MAX,
                ttl,
            )
            .await?;
        Ok(())
    }

    /// SP-initiated logout: `session` has just ended here; when a SAML login opened it and
    /// its IdP does Single Logout, the signed LogoutRequest to send the browser with, its
    /// answer bound to `binding` (this browser's cookie). `None` otherwise, and on any
    /// failure (logged): our own session is gone either way.
    pub async fn saml_logout(
        &self,
        session: &Session,
        binding: &str,
        now: DateTime<Utc>,
    ) -> Option<SsoStart> {
        match self.start_saml_logout(session, binding, now).await {
            Ok(start) => start,
            Err(e) => {
                tracing::warn!(code = e.code(), account = %session.account, reason = %e, "SAML logout request not sent");
                None
            }
        }
    }

    async fn start_saml_logout(
        &self,
        session: &Session,
        binding: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SsoStart>, LoginError> {
        let Some(bytes) = self.store.take(&subject_key(&session.reference())).await? else {
            return Ok(None);
        };
        let kept: SessionSubject = serde_json::from_slice(&bytes).map_err(corrupt)?;
        let Some((_, idp)) = self.saml_tenant(&kept.account).await? else {
            return Ok(None);
        };
        if idp.slo_redirect.is_none() && idp.slo_post.is_none() {
            return Ok(None);
        }
        let request_id = new_request_id();
        let relay = crate::secrets::random_token();
        self.store_pending(
            &relay,
            &Pending {
                request_id: request_id.clone(),
                account: kept.account.clone(),
                return_to: None,
                binding: sha256_hex(binding),
                oidc: None,
                test: None,
                logout: true,
            },
        )
        .await?;
        let sp = self.sp.clone();
        let start = self
            .saml_work(move || {
                let s = &kept.subject;
                let subject = Subject {
                    name_id: &s.name_id,
                    format: s.format.as_deref(),
                    session_index: s.session_index.as_deref(),
                };
                logout::logout_request(&sp, &idp, &request_id, &subject, &relay, now)
            })
            .await??;
        tracing::info!(target: "audit", event = "saml_logout_request", account = %session.account, user_id = session.user_id);
        Ok(Some(start))
    }

    /// The SAML tenant `account` and its IdP, when it is one.
    async fn saml_tenant(
        &self,
        account: &str,
    ) -> Result<Option<(Arc<Tenant>, Arc<IdpMetadata>)>, LoginError> {
        let Some(tenant) = self.discovery.directory.by_account(account).await? else {
            return Ok(None);
        };
        if tenant.sso.as_ref().map(|s| s.protocol) != Some(Protocol::Saml2) {
            return Ok(None);
        }
        Ok(self.idps.for_tenant(&tenant).await.map(|idp| (tenant, idp)))
    }

    /// Our SingleLogoutService: the answer to our LogoutRequest (bound to this browser's
    /// pending logout), or an IdP's LogoutRequest. Refusals carry the account once known.
    pub async fn slo(
        &self,
        received: Received,
        binding: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SloOutcome, SsoRefusal> {
        let mut account = None;
        let outcome = match received.kind() {
            Kind::Response => self
                .logout_response(received, binding, now, &mut account)
                .await
                .map(|()| SloOutcome::SignedOut),
            Kind::Request => self
                .logout_request(received, now, &mut account)
                .await
                .map(SloOutcome::Answer),
        };
        outcome.map_err(|error| SsoRefusal { account, error })
    }

    /// Verifies `received` with `idp`'s keys, off the runtime, and spends its ID once.
    async fn verify_logout(
        &self,
        received: Received,
        idp: Arc<IdpMetadata>,
        now: DateTime<Utc>,
    ) -> Result<Verified, LoginError> {
        let sp = self.sp.clone();
        let skew = Duration::from_secs(self.skew.as_secs());
        let verified = self
            .saml_work(move || {
                let expected = logout::Expected {
                    idp: &idp,
                    slo_url: &sp.slo_url,
                    skew,
                };
                logout::verify(&received, &expected, now)
            })
            .await??;
        let (issuer, id) = match &verified {
            Verified::Request(r) => (&r.issuer, &r.id),
            Verified::Response(r) => (&r.issuer, &r.id),
        };
        let ttl = logout::MESSAGE_LIFETIME + 2 * skew + Duration::from_secs(60);
        if !self
            .store
            .put_if_absent(&replay_key(issuer, id), vec![1], ttl)
            .await?
        {
            return Err(LoginError::Replay(id.clone()));
        }
        Ok(verified)
    }

    async fn logout_response(
        &self,
        received: Received,
        binding: Option<&str>,
        now: DateTime<Utc>,
        account: &mut Option<String>,
    ) -> Result<(), LoginError> {
        let relay = received.relay_state().unwrap_or_default().to_string();
        let pending = self
            .take_pending(&relay, Role::Logout, binding, account, &mut None)
            .await?
            .ok_or(LoginError::NoPendingRequest)?;
        let (_, idp) = self
            .saml_tenant(&pending.account)
            .await?
            .ok_or_else(|| LoginError::NoIdp(pending.account.clone()))?;
        let Verified::Response(answer) = self.verify_logout(received, idp, now).await? else {
            return Err(LoginError::NoPendingRequest);
        };
        if answer.in_response_to.as_deref() != Some(pending.request_id.as_str()) {
            return Err(crate::saml::SamlError::InResponseToMismatch {
                expected: Some(pending.request_id),
                found: answer.in_response_to,
            }
            .into());
        }
        match answer.status {
            Ok(()) => {
                tracing::info!(target: "audit", event = "saml_logout_done", account = %pending.account)
            }
            // Our session ended before the request left; only the IdP's may live on.
            Err(e) => {
                tracing::warn!(account = %pending.account, reason = %e, "the IdP did not complete the logout")
            }
        }
        Ok(())
    }

    async fn logout_request(
        &self,
        received: Received,
        now: DateTime<Utc>,
        account: &mut Option<String>,
    ) -> Result<SsoStart, LoginError> {
        let relay = received.relay_state().unwrap_or_default().to_string();
        let peek = received.clone();
        let issuer = self.saml_work(move || peek.issuer()).await??;
        let Some(issuer_id) = issuer.clone() else {
            return Err(LoginError::UnknownIssuer(None));
        };
        // Whose keys: each SAML tenant whose IdP has this entity ID, until one verifies.
        let mut refusal = LoginError::UnknownIssuer(issuer);
        for (candidate, idp) in self.idps.all() {
            if idp.entity_id != issuer_id {
                continue;
            }
            let Some((tenant, idp)) = self.saml_tenant(&candidate).await? else {
                continue;
            };
            *account = Some(tenant.account.clone());
            match self.verify_logout(received.clone(), idp.clone(), now).await {
                Ok(Verified::Request(request)) => {
                    return self
                        .end_principal(&tenant, &idp, request, &relay, now)
                        .await;
                }
                Ok(Verified::Response(_)) => return Err(LoginError::NoPendingRequest),
                Err(e) => refusal = e,
            }
        }
        Err(refusal)
    }

    /// Ends the sessions a verified LogoutRequest names and answers it. An unknown
    /// principal is answered Success as well: the answer tells nobody who has sessions.
    async fn end_principal(
        &self,
        tenant: &Tenant,
        idp: &Arc<IdpMetadata>,
        request: logout::VerifiedRequest,
        relay: &str,
        now: DateTime<Utc>,
    ) -> Result<SsoStart, LoginError> {
        let index = index_key(&tenant.account, &request.issuer, &request.name_id);
        let (mut ended, mut failed) = (0usize, 0usize);
        let entries = match self.store.list(&index).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(account = %tenant.account, reason = %e, "SAML logout: the session index is unreadable");
                failed += 1;
                Vec::new()
            }
        };
        for bytes in entries {
            let Ok(entry) = serde_json::from_slice::<IndexEntry>(&bytes) else {
                continue;
            };
            let named = request.session_indexes.is_empty()
                || entry
                    .session_index
                    .as_ref()
                    .is_some_and(|s| request.session_indexes.contains(s));
            if !named {
                continue;
            }
            match self.sessions.destroy_ref(&entry.session).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(account = %tenant.account, reason = %e, "SAML logout: a session could not be ended");
                    failed += 1;
                }
            }
            // Our own LogoutRequest for it would be stale now.
            let _ = self.store.delete(&subject_key(&entry.session)).await;
        }
        if request.session_indexes.is_empty() && failed == 0 {
            let _ = self.store.delete(&index).await;
        }
        tracing::info!(target: "audit", event = "saml_logout_by_idp", account = %tenant.account, ended, failed);
        let status = if failed == 0 {
            LogoutStatus::Success
        } else {
            LogoutStatus::PartialLogout
        };
        let (sp, idp, relay) = (self.sp.clone(), idp.clone(), relay.to_string());
        let start = self
            .saml_work(move || {
                logout::logout_response(
                    &sp,
                    &idp,
                    &new_request_id(),
                    &request.id,
                    status,
                    &relay,
                    now,
                )
            })
            .await??;
        Ok(start)
    }
}

//! The WS-Federation round trip's second half: the STS's `wa=wsignin1.0` POST with its
//! `wresult`, checked against the pending login its `wctx` names and this browser, then
//! admitted exactly as a SAML login (replay cache, tenant domains, JIT, subject binding).
//! And its device counterpart: an email and a password exchanged with the tenant's STS
//! over WS-Trust (`wstrust_url`), whose token is checked by the same rules and admitted the
//! same way, behind the password login's rate limits and uniform answer.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::traces::{Trace, TraceProtocol};
use super::{Login, LoginError, Role, SsoOutcome, SsoRefusal};
use crate::discovery::{Email, Protocol, SsoSettings, Tenant};
use crate::saml::{IdpMetadata, VerifiedAssertion};
use crate::wsfed::{self, WsFedError};

/// The rate-limit scope of WS-Trust logins: the password login's, so a connector's guesses
/// and the sign-on page's count together, whichever tenant kind the email belongs to.
const SCOPE: &str = "password";

impl Login {
    /// The ACS for WS-Federation. There is no IdP-initiated WS-Federation login here: an
    /// answer must name, in `wctx`, a sign-in this browser started.
    pub async fn complete_wsfed(
        &self,
        wresult: &str,
        wctx: Option<&str>,
        binding: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, SsoRefusal> {
        let mut account = None;
        let mut verified = None;
        let mut test = None;
        let outcome = self
            .consume_wresult(
                wresult,
                wctx,
                binding,
                now,
                (&mut account, &mut test),
                &mut verified,
            )
            .await;
        let trace = Trace::of_wsfed(
            now,
            TraceProtocol::Wsfed,
            outcome.as_ref(),
            verified.as_ref(),
        );
        if let Some(account) = &account {
            self.traces.keep(account, &trace).await;
        }
        let outcome = match (test, account.clone()) {
            (Some(mark), Some(a)) => self.end_test(mark, a, trace, &outcome).await,
            _ => outcome,
        };
        outcome.map_err(|error| SsoRefusal { account, error })
    }

    /// [`complete_wsfed`](Self::complete_wsfed)'s steps; `account` is set once the pending
    /// login is read, `verified` once the token passed every check.
    async fn consume_wresult(
        &self,
        wresult: &str,
        wctx: Option<&str>,
        binding: Option<&str>,
        now: DateTime<Utc>,
        (account, test): (&mut Option<String>, &mut Option<super::TestMark>),
        verified: &mut Option<VerifiedAssertion>,
    ) -> Result<SsoOutcome, LoginError> {
        // 1. The pending sign-in `wctx` names, from this browser, used once.
        let pending = match wctx.filter(|c| !c.is_empty()) {
            Some(c) => {
                self.take_pending(c, Role::Login, binding, account, test)
                    .await?
            }
            None => None,
        }
        .ok_or(LoginError::NoPendingRequest)?;
        // 2. Its tenant's STS, and only a WS-Federation tenant's.
        let tenant = self
            .discovery
            .directory
            .by_account(&pending.account)
            .await?
            .ok_or_else(|| LoginError::UnknownAccount(pending.account.clone()))?;
        let sso = tenant
            .sso
            .as_ref()
            .ok_or_else(|| LoginError::UnknownAccount(tenant.account.clone()))?;
        if sso.protocol != Protocol::Wsfed {
            return Err(LoginError::WrongProtocol {
                found: "WS-Federation",
            });
        }
        let sts = self
            .idps
            .for_tenant(&tenant)
            .await
            .ok_or_else(|| LoginError::NoIdp(tenant.account.clone()))?;
        // 3. Every token rule, off the runtime under the SAML slots.
        let assertion = self
            .check_token(wresult.to_string(), wsfed::Carrier::Wresult, sts, sso, now)
            .await?;
        *verified = Some(assertion.clone());
        // 4 to 6. As for SAML.
        self.admit_assertion(
            &tenant,
            assertion,
            "wsfed",
            pending.return_to,
            pending.test.as_ref(),
            now,
        )
        .await
    }

    /// A device's email and password for `tenant`, an AD FS tenant with a WS-Trust endpoint
    /// (`wstrust_url`): the STS checks the password and answers a token for our realm, which
    /// must pass every rule a `wresult` must ([`wsfed::validate_soap`]), name the person who
    /// typed the email, and then be admitted as any SSO login (replay cache, the tenant's
    /// domains, JIT, subject binding).
    ///
    /// Behind the password login's rate limits (per address and per email, growing
    /// lockouts). Every refusal of the person or of the token (a SOAP fault for a wrong
    /// password or an unknown user, a forged, expired, replayed or misdirected token) is
    /// logged with its precise reason and traced for the tenant, and answered as a wrong
    /// password is ([`LoginError::BadCredentials`]); an STS that does not answer in time is
    /// `sts_unavailable`, which says nothing about the person.
    pub async fn wstrust_login(
        &self,
        tenant: &Arc<Tenant>,
        endpoint: &Url,
        email: &Email,
        password: &str,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, LoginError> {
        let ip_key = client_ip.to_string();
        let user_key = email.as_str().to_ascii_lowercase();
        self.limiter.check(SCOPE, &ip_key, now).await?;
        self.limiter.check(SCOPE, &user_key, now).await?;
        let mut verified = None;
        let outcome = self
            .exchange_wstrust(tenant, endpoint, email, password, now, &mut verified)
            .await;
        let trace = Trace::of_wsfed(
            now,
            TraceProtocol::Wstrust,
            outcome.as_ref(),
            verified.as_ref(),
        );
        self.traces.keep(&tenant.account, &trace).await;
        match outcome {
            Ok(o) => {
                self.limiter.success(SCOPE, &user_key).await?;
                Ok(o)
            }
            Err(e @ (LoginError::WsFed(_) | LoginError::Replay(_))) if !e.is_unavailable() => {
                tracing::info!(target: "audit", event = "login_failure", method = "wstrust", account = %tenant.account, code = e.code(), reason = %e);
                Err(self
                    .fail(SCOPE, &ip_key, Some(&user_key), "refused by the STS", now)
                    .await)
            }
            Err(e) => Err(e),
        }
    }

    /// [`wstrust_login`](Self::wstrust_login)'s exchange and checks; `verified` is set once
    /// the token passed every check.
    async fn exchange_wstrust(
        &self,
        tenant: &Arc<Tenant>,
        endpoint: &Url,
        email: &Email,
        password: &str,
        now: DateTime<Utc>,
        verified: &mut Option<VerifiedAssertion>,
    ) -> Result<SsoOutcome, LoginError> {
        let sso = tenant
            .sso
            .as_ref()
            .filter(|s| s.protocol == Protocol::Wsfed)
            .ok_or(LoginError::WrongProtocol { found: "WS-Trust" })?;
        let sts = self
            .idps
            .for_tenant(tenant)
            .await
            .ok_or_else(|| LoginError::NoIdp(tenant.account.clone()))?;
        // The providers' clients: no redirects, bounded, and public addresses only for a
        // management-API tenant's endpoint (an account admin typed it).
        let calls = self.oidc.calls_for(tenant);
        if !calls.allows(endpoint) {
            return Err(WsFedError::Unavailable(format!(
                "{endpoint}: {}",
                crate::discovery::reach::NOT_PUBLIC
            ))
            .into());
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        let answer = wsfed::trust::request_token(
            &calls.client,
            &wsfed::trust::TokenRequest {
                endpoint,
                username: email.as_str(),
                password,
                applies_to: &self.sp.entity_id,
                message_id: &message_id,
                now,
            },
        )
        .await?;
        let assertion = self
            .check_token(answer, wsfed::Carrier::Soap12, sts, sso, now)
            .await?;
        *verified = Some(assertion.clone());
        // The STS vouches for whom it authenticated; a token for anyone else than the email
        // the person typed (a mapping gone wrong at the STS) signs nobody in.
        if !assertion.email.eq_ignore_ascii_case(email.as_str()) {
            return Err(WsFedError::OtherUser(assertion.email).into());
        }
        self.admit_assertion(tenant, assertion, "wstrust", None, None, now)
            .await
    }
}

impl Login {
    /// Every rule of `sts`'s token in `text` ([`wsfed::validate_as`]), off the runtime under
    /// the SAML slots: the one check of both WS-Federation entries.
    async fn check_token(
        &self,
        text: String,
        carrier: wsfed::Carrier,
        sts: Arc<IdpMetadata>,
        sso: &SsoSettings,
        now: DateTime<Utc>,
    ) -> Result<VerifiedAssertion, LoginError> {
        let sp = self.sp.clone();
        let email_claim = sso.email_claim.clone();
        let skew = Duration::from_secs(self.skew.as_secs());
        Ok(self
            .saml_work(move || {
                let acs = sp.acs_urls();
                let expected = wsfed::Expected {
                    sts: &sts,
                    realm: &sp.entity_id,
                    acs_urls: &acs,
                    skew,
                    email_claim: email_claim.as_deref(),
                };
                wsfed::validate_as(&text, carrier, &expected, now)
            })
            .await??)
    }
}

impl Login {
    /// Where the browser goes after our logout of a session of `account`: the STS's
    /// `wa=wsignout1.0` for a WS-Federation tenant, so the STS ends its own session and sends
    /// the browser back to `reply`; `None` for every other tenant (or an unusable STS, which
    /// must not keep the person from being signed out here).
    pub async fn wsfed_signout(&self, account: &str, reply: &str) -> Option<url::Url> {
        let tenant = self.wsfed_tenant(account).await?;
        let sts = self.idps.for_tenant(&tenant).await?;
        wsfed::request::signout_url(&sts, &self.sp.entity_id, reply).ok()
    }

    /// Whether `account` signs in through a WS-Federation STS: only its sessions end when
    /// an STS asks (`wsignoutcleanup1.0`), since anyone can send a browser to that URL.
    pub async fn signs_in_with_wsfed(&self, account: &str) -> bool {
        self.wsfed_tenant(account).await.is_some()
    }

    async fn wsfed_tenant(
        &self,
        account: &str,
    ) -> Option<std::sync::Arc<crate::discovery::Tenant>> {
        let tenant = self.discovery.directory.by_account(account).await.ok()??;
        (tenant.sso.as_ref()?.protocol == Protocol::Wsfed).then_some(tenant)
    }
}

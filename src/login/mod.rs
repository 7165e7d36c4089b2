//! Turning a credential into a session: the SSO round trip (pending request bound to the
//! browser → verified assertion → replay cache → account decision) and password login
//! (rate limits, uniform failures, the no-sso fail-safe). These are methods of [`Login`],
//! which holds only what login reads (built once in `app`, kept in the state of `web`):
//! login never sees the application state. `web` calls them and renders.
//!
//! Every refusal is one `LoginError` variant with a stable code; the precise reason is
//! logged (target `audit` for login events), the person sees only what they can act on.
//! Every SSO attempt of a known tenant is also kept in that tenant's [`traces`], with the
//! reason, for its IdP administrator.
//!
//! # Layout
//! - this file: [`Login`], SSO and password login;
//! - [`reset`]: "Forgot password?" and the set-password page of one-time links;
//! - `waiting`: the notice to an account's admins when someone enters its Waiting Room;
//! - [`traces`]: each tenant's last SSO attempts;
//! - [`sso_test`]: Test SSO, a round trip that ends in a result for the admin, never a
//!   session.
//! - `slo`: SAML Single Logout, both directions, and the index of SAML sessions it needs.

pub mod sso_test;
pub mod traces;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::{
    self, AccountsError, MIN_PASSWORD_CHARS, Outcome, Passwords, Refusal, Status, User, UserStore,
};
use crate::discovery::{DirectoryError, Discovery, Email, Protocol, Route, Tenant};
use crate::i18n::Lang;
use crate::oidc::{self, OidcError};
use crate::saml::{
    self, IdpRegistry, ResponseFacts, SamlError, Sp, VerifiedAssertion, request::SsoStart,
};
use crate::wsfed::{self, WsFedError};

mod slo;
mod wsfed_login;
use crate::session::{
    RateLimitError, RateLimiter, RetryAfter, Session, SessionUser, Sessions, Store, StoreError,
};
pub use slo::SloOutcome;
pub use sso_test::{SsoTest, TestMark, TestResult};
pub use traces::{Trace, TraceProtocol, TraceResult, Traces};

pub mod reset;
mod waiting;

pub use reset::SET_PASSWORD_PATH;

/// How long a person may spend at the IdP before the pending request expires.
pub const PENDING_TTL: Duration = Duration::from_secs(15 * 60);

/// Why a login did not open a session.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The SAML Response failed a check.
    #[error("SAML response refused: {0}")]
    Saml(#[from] SamlError),
    /// The OpenID Connect round trip failed a check (or its provider is unreachable).
    #[error("OpenID Connect login refused: {0}")]
    Oidc(#[from] OidcError),
    /// The WS-Federation answer (or the WS-Trust exchange) failed a check.
    #[error("WS-Federation token refused: {0}")]
    WsFed(#[from] WsFedError),
    /// An answer of one protocol for a tenant (a pending login) of another: a SAML
    /// Response posted with the handle of a WS-Federation sign-in, or the reverse.
    #[error("a {found} answer for a tenant of another protocol")]
    WrongProtocol {
        /// The protocol of the answer.
        found: &'static str,
    },
    /// No pending request matches the RelayState (expired, used, or never issued).
    #[error("no pending SSO request for this RelayState")]
    NoPendingRequest,
    /// The pending request was started by another browser (its binding cookie differs).
    #[error("the SSO request was started by another browser")]
    OtherBrowser,
    /// The assertion ID was seen before.
    #[error("assertion {0} was already used")]
    Replay(String),
    /// No SAML tenant's IdP has this entity ID (a logout message from a stranger).
    #[error("no tenant's IdP is {0:?}")]
    UnknownIssuer(Option<String>),
    /// No tenant accepts this unsolicited response.
    #[error("unsolicited response from {0:?} and no tenant allows IdP-initiated login")]
    Unsolicited(Option<String>),
    /// The account decision refused the identity.
    #[error("identity refused: {0}")]
    Refused(#[from] Refusal),
    /// The asserted email is not an address.
    #[error("asserted email {0:?} is not an address")]
    BadAssertedEmail(String),
    /// Wrong email or password, unknown user, or no password: one answer for all.
    #[error("invalid credentials ({0})")]
    BadCredentials(&'static str),
    /// The email's organisation signs in with SSO.
    #[error("password login refused: the domain uses single sign-on")]
    SsoRequired,
    /// Correct password, disabled user.
    #[error("user disabled")]
    Disabled,
    /// Too many attempts.
    #[error("rate limited for {}s", .0.seconds())]
    RateLimited(RetryAfter),
    /// The account is unknown or has no SSO.
    #[error("unknown SSO account {0:?}")]
    UnknownAccount(String),
    /// The tenant's IdP metadata is not available (e.g. the metadata URL never answered).
    #[error("no IdP metadata for account {0:?}")]
    NoIdp(String),
    /// The session store failed.
    #[error("backend unavailable: {0}")]
    Store(#[from] StoreError),
    /// The user database failed.
    #[error("backend unavailable: {0}")]
    Accounts(#[from] AccountsError),
    /// The tenant source failed.
    #[error("backend unavailable: {0}")]
    Directory(#[from] DirectoryError),
    /// A pending request could not be stored or read back (written by an incompatible
    /// version?).
    #[error("backend unavailable: pending SSO request: {0}")]
    Pending(#[source] serde_json::Error),
    /// The SAML work did not finish on its blocking thread.
    #[error("backend unavailable: SAML worker: {0}")]
    Worker(#[from] tokio::task::JoinError),
    /// The bound on concurrent SAML work is closed (the gateway is stopping).
    #[error("backend unavailable: SAML slots: {0}")]
    Slots(#[from] tokio::sync::AcquireError),
    /// A one-time link that is not (or no longer) valid: unknown, expired, used, issued
    /// before the last password change, or of a user since disabled or removed.
    #[error("one-time link not valid")]
    LinkInvalid,
    /// The two typed passwords differ.
    #[error("the two passwords differ")]
    PasswordMismatch,
    /// The new password is shorter than the policy allows.
    #[error("password shorter than {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
}

impl From<RateLimitError> for LoginError {
    fn from(e: RateLimitError) -> Self {
        match e {
            RateLimitError::Limited(r) => LoginError::RateLimited(r),
            RateLimitError::Store(s) => s.into(),
        }
    }
}

impl LoginError {
    /// Whether a backend failed (worth retrying: a 503), rather than the login being
    /// refused.
    pub fn is_unavailable(&self) -> bool {
        match self {
            LoginError::Oidc(e) => e.is_unavailable(),
            LoginError::WsFed(e) => e.is_unavailable(),
            _ => matches!(
                self,
                LoginError::Store(_)
                    | LoginError::Accounts(_)
                    | LoginError::Directory(_)
                    | LoginError::Pending(_)
                    | LoginError::Worker(_)
                    | LoginError::Slots(_)
            ),
        }
    }

    /// Stable code for pages, JSON and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::Saml(e) => e.code(),
            LoginError::Oidc(e) => e.code(),
            LoginError::WsFed(e) => e.code(),
            LoginError::WrongProtocol { .. } => "wrong_protocol",
            LoginError::NoPendingRequest => "no_pending_request",
            LoginError::OtherBrowser => "request_from_other_browser",
            LoginError::Replay(_) => "replayed_assertion",
            LoginError::Unsolicited(_) => "unsolicited",
            LoginError::UnknownIssuer(_) => "unknown_issuer",
            LoginError::Refused(r) => match r {
                Refusal::NotSso => "not_sso",
                Refusal::ForeignDomain => "email_outside_tenant",
                Refusal::NoSubject => "no_subject",
                Refusal::Disabled => "user_disabled",
                Refusal::NotProvisioned => "user_not_provisioned",
                Refusal::SubjectMismatch => "subject_mismatch",
                Refusal::SubjectInUse => "subject_in_use",
                Refusal::PasswordAccount => "password_account",
            },
            LoginError::BadAssertedEmail(_) => "email_outside_tenant",
            LoginError::BadCredentials(_) => "invalid_credentials",
            LoginError::SsoRequired => "sso_required",
            LoginError::Disabled => "user_disabled",
            LoginError::RateLimited(_) => "rate_limited",
            LoginError::UnknownAccount(_) => "not_found",
            LoginError::NoIdp(_) => "idp_metadata_unavailable",
            LoginError::LinkInvalid => "link_invalid",
            LoginError::PasswordMismatch => "password_mismatch",
            LoginError::WeakPassword => "weak_password",
            LoginError::Store(_)
            | LoginError::Accounts(_)
            | LoginError::Directory(_)
            | LoginError::Pending(_)
            | LoginError::Worker(_)
            | LoginError::Slots(_) => "temporarily_unavailable",
        }
    }
}

/// A login in progress at the IdP, stored under its RelayState (SAML) or `wctx`
/// (WS-Federation).
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    /// The AuthnRequest ID; empty for WS-Federation, which has none (the `wctx` handle
    /// itself binds the answer to this entry).
    request_id: String,
    account: String,
    return_to: Option<String>,
    /// SHA-256 of the browser's binding cookie: the ACS accepts the response only from the
    /// browser that started the request (no login CSRF, no session swapping).
    binding: String,
    /// An OpenID Connect login's secrets; absent for SAML, so a SAML RelayState is no
    /// OpenID Connect `state` and the other way round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oidc: Option<oidc_login::OidcSecrets>,
    /// Set for a console's Test SSO: the answer ends in a result, never a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    test: Option<TestMark>,
    /// A SAML logout's (`request_id` is our LogoutRequest's): such a RelayState answers no
    /// login, and a login's answers no logout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    logout: bool,
}

/// What a pending entry is waiting for. Each answer takes only its own kind
/// ([`Login::take_pending`]), so the handle of one is never accepted as another's: an
/// OpenID Connect `state` or a logout's RelayState posted to the ACS as a login's, a SAML
/// RelayState as a `state`. (WS-Federation and SAML logins are both `Login`; the tenant's
/// protocol tells them apart.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A SAML or WS-Federation login.
    Login,
    /// An OpenID Connect login (it holds the PKCE verifier and nonce).
    OidcLogin,
    /// A SAML logout we sent.
    Logout,
}

impl Pending {
    fn role(&self) -> Role {
        match (self.logout, &self.oidc) {
            (true, _) => Role::Logout,
            (false, Some(_)) => Role::OidcLogin,
            (false, None) => Role::Login,
        }
    }
}

fn pending_key(relay: &str) -> String {
    format!("pending:{relay}")
}

/// SHA-256 in hex, for the binding and the replay-cache keys. Hex rather than the
/// base64url of `oauth::sha256_base64url`: the replay keys live in the store every instance
/// shares, and during a rolling upgrade an instance of the previous release must find the
/// key this one wrote, or an assertion used on one would be accepted again on the other.
fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What login reads: the handles it shares with the rest of the gateway, built once in
/// `app`. Login sees these and nothing else of the application.
pub struct Login {
    /// Home-realm discovery: which tenant an email or account belongs to.
    pub discovery: Arc<Discovery>,
    /// Every SSO tenant's IdP metadata, swapped with the tenant map (or loaded per
    /// tenant on demand with the database source).
    pub idps: Arc<IdpRegistry>,
    /// Our SAML SP: entity ID, ACS URLs, keys.
    pub sp: Arc<Sp>,
    /// Pending SAML requests and the replay cache.
    pub store: Arc<dyn Store>,
    /// Where a successful login opens its session.
    pub sessions: Sessions,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Password attempt limits and lockouts.
    pub limiter: RateLimiter,
    /// Bounds concurrent SAML and ID token validations: each is CPU work on a blocking
    /// thread, and an unbounded flood of POSTs must not grow the blocking pool without
    /// limit. Shared so a permit can go with the work: a client that hangs up does not free
    /// it early.
    pub saml_slots: Arc<tokio::sync::Semaphore>,
    /// Password hashing, off the async runtime.
    pub passwords: Passwords,
    /// Allowed clock difference with IdPs (`clock_skew_seconds`).
    pub skew: Duration,
    /// Each tenant's last SSO attempts, written by the ACS, read by the API and console.
    pub traces: Traces,
    /// The OpenID Connect tenants' providers (configurations and key sets).
    pub oidc: Arc<oidc::Providers>,
    /// Our OpenID Connect redirect URI (`public_url` + `/auth/oidc/callback`).
    pub oidc_redirect: url::Url,
    /// Mail to people: reset links, Waiting Room notices.
    pub outreach: crate::mail::Outreach,
    /// One-time links (password reset, invitation).
    pub links: crate::session::Links,
    /// Reset requests per typed address: stricter than password attempts, since each
    /// one mails someone.
    pub reset_limiter: RateLimiter,
}

/// What is known of an SSO attempt as it goes: the tenant once found, the response's claims
/// once it parsed. Kept apart from the result, because a refusal needs them most.
#[derive(Default)]
struct Attempt {
    account: Option<String>,
    facts: Option<ResponseFacts>,
    test: Option<TestMark>,
}

/// What a completed SSO round trip gives.
pub enum SsoOutcome {
    /// A session was opened.
    SignedIn {
        /// The new session.
        session: Session,
        /// Where the person wanted to go.
        return_to: Option<String>,
        /// The user's language as stored before this sign-in, so the web layer saves
        /// the request's only when it changed (not one more write per login).
        lang: Option<Lang>,
    },
    /// The user exists but awaits approval.
    Waiting(User),
    /// A Test SSO ended (passed or refused): its result is stored for the admin.
    Tested(SsoTest),
}

/// A refused SSO login and the account it was for, once known: an operator needs the
/// account to tell which customer's IdP broke (rolled its keys, say).
#[derive(Debug)]
pub struct SsoRefusal {
    /// The tenant of the pending request or of the unsolicited response; `None` when the
    /// refusal came before any tenant was known.
    pub account: Option<String>,
    /// Why.
    pub error: LoginError,
}

/// The display name an IdP sends (Entra's `name` claim is the UPN; prefer displayname).
fn display_name(attrs: &std::collections::BTreeMap<String, Vec<String>>) -> Option<String> {
    [
        "http://schemas.microsoft.com/identity/claims/displayname",
        "displayName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "name",
    ]
    .iter()
    .find_map(|k| attrs.get(*k).and_then(|v| v.first()).cloned())
}

/// A password attempt.
pub struct PasswordAttempt<'a> {
    /// The typed email.
    pub email: &'a str,
    /// The typed password.
    pub password: &'a str,
    /// Client address, for the per-IP limit.
    pub client_ip: IpAddr,
    /// `Some(account)` when submitted from `/{account}/no-sso`.
    pub no_sso: Option<&'a str>,
}

/// What a correct password leads to.
pub enum PasswordOutcome {
    /// A session was opened.
    SignedIn {
        /// The new session.
        session: Session,
        /// The user's language as stored before this sign-in (see [`SsoOutcome`]).
        lang: Option<Lang>,
    },
    /// The user awaits approval.
    Waiting(User),
}

impl Login {
    /// Starts SSO for `tenant`: mints the request, remembers it under a fresh opaque
    /// RelayState bound to `binding` (the browser's cookie), and says how to reach the IdP.
    pub async fn start_sso(
        &self,
        tenant: &Tenant,
        login_hint: Option<&Email>,
        return_to: Option<&url::Url>,
        binding: &str,
        now: DateTime<Utc>,
    ) -> Result<SsoStart, LoginError> {
        self.start(tenant, login_hint, return_to, binding, None, now)
            .await
    }

    /// [`start_sso`](Self::start_sso), for a login or (`test`) a console's Test SSO.
    async fn start(
        &self,
        tenant: &Tenant,
        login_hint: Option<&Email>,
        return_to: Option<&url::Url>,
        binding: &str,
        test: Option<TestMark>,
        now: DateTime<Utc>,
    ) -> Result<SsoStart, LoginError> {
        let sso = tenant
            .sso
            .as_ref()
            .ok_or_else(|| LoginError::UnknownAccount(tenant.account.clone()))?;
        if sso.protocol == Protocol::Oidc {
            return self
                .start_oidc(tenant, sso, login_hint, return_to, binding, test)
                .await
                .map(SsoStart::Redirect);
        }
        let idp = self
            .idps
            .for_tenant(tenant)
            .await
            .ok_or_else(|| LoginError::NoIdp(tenant.account.clone()))?;
        if sso.protocol == Protocol::Wsfed {
            let wctx = self
                .remember("", &tenant.account, return_to, binding, test)
                .await?;
            let acs = self.sp.acs_urls();
            let url = wsfed::request::signin_url(
                &idp,
                &wsfed::request::SignIn {
                    realm: &self.sp.entity_id,
                    reply: &acs[0],
                    wctx: &wctx,
                    login_hint: login_hint.map(Email::as_str),
                    sso,
                    now,
                },
            )?;
            metrics::counter!("realmgate_sso_starts_total", "account" => tenant.account.clone())
                .increment(1);
            return Ok(SsoStart::Redirect(url));
        }
        let request_id = saml::request::new_request_id();
        let relay = self
            .remember(&request_id, &tenant.account, return_to, binding, test)
            .await?;
        let start = saml::request::start(
            &self.sp,
            &idp,
            sso,
            &request_id,
            &relay,
            login_hint.map(Email::as_str),
            now,
        )?;
        metrics::counter!("realmgate_sso_starts_total", "account" => tenant.account.clone())
            .increment(1);
        Ok(start)
    }

    /// Stores a pending request under a fresh RelayState and returns it. RelayState is an
    /// opaque handle (the SAML bindings allow 80 bytes); it never carries a URL, so nothing the
    /// IdP echoes back is followed blindly.
    pub async fn remember_pending(
        &self,
        request_id: &str,
        account: &str,
        return_to: Option<&url::Url>,
        binding: &str,
    ) -> Result<String, LoginError> {
        self.remember(request_id, account, return_to, binding, None)
            .await
    }

    async fn remember(
        &self,
        request_id: &str,
        account: &str,
        return_to: Option<&url::Url>,
        binding: &str,
        test: Option<TestMark>,
    ) -> Result<String, LoginError> {
        let relay = crate::secrets::random_token();
        let pending = Pending {
            request_id: request_id.to_string(),
            account: account.to_string(),
            return_to: return_to.map(|u| u.to_string()),
            binding: sha256_hex(binding),
            oidc: None,
            test,
            logout: false,
        };
        self.store_pending(&relay, &pending).await?;
        Ok(relay)
    }

    async fn store_pending(&self, relay: &str, pending: &Pending) -> Result<(), LoginError> {
        let bytes = serde_json::to_vec(pending).map_err(LoginError::Pending)?;
        self.store
            .put(&pending_key(relay), bytes, PENDING_TTL)
            .await?;
        Ok(())
    }

    /// The pending login named by `relay`, only for the browser that started it, and taken
    /// once (a second POST of the same form finds nothing). The binding is compared on a
    /// read before the take: a handle replayed from another browser must not consume, and
    /// so cancel, its owner's login. The entry is written once under a fresh random handle,
    /// so what is taken is what was read. `account` is set as soon as the entry is read,
    /// `test` once it is taken (a Test SSO's answer, whatever it holds, ends in its result).
    /// An entry of another [`Role`] than `role` is used up and refused, as a missing one.
    async fn take_pending(
        &self,
        relay: &str,
        role: Role,
        binding: Option<&str>,
        account: &mut Option<String>,
        test: &mut Option<TestMark>,
    ) -> Result<Option<Pending>, LoginError> {
        if relay.is_empty() || relay.len() > 80 {
            return Ok(None);
        }
        let Some(bytes) = self.store.get(&pending_key(relay)).await? else {
            return Ok(None);
        };
        let p = serde_json::from_slice::<Pending>(&bytes).map_err(LoginError::Pending)?;
        *account = Some(p.account.clone());
        let same = binding.is_some_and(|b| {
            subtle::ConstantTimeEq::ct_eq(sha256_hex(b).as_bytes(), p.binding.as_bytes()).into()
        });
        if !same {
            return Err(LoginError::OtherBrowser);
        }
        if self.store.take(&pending_key(relay)).await?.is_none() {
            // Taken by a concurrent POST of the same form between the read and now.
            return Err(LoginError::NoPendingRequest);
        }
        test.clone_from(&p.test);
        if p.role() != role {
            return Err(LoginError::NoPendingRequest);
        }
        Ok(Some(p))
    }

    /// The ACS: checks the response against the pending request of this browser and decides.
    pub async fn complete_sso(
        &self,
        saml_response: &str,
        relay_state: Option<&str>,
        binding: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, SsoRefusal> {
        let mut attempt = Attempt::default();
        let outcome = self
            .consume_response(saml_response, relay_state, binding, now, &mut attempt)
            .await;
        let trace = Trace::of(now, outcome.as_ref(), attempt.facts.as_ref());
        if let Some(account) = &attempt.account {
            self.traces.keep(account, &trace).await;
        }
        let outcome = match (attempt.test, attempt.account.clone()) {
            (Some(mark), Some(account)) => self.end_test(mark, account, trace, &outcome).await,
            _ => outcome,
        };
        outcome.map_err(|error| SsoRefusal {
            account: attempt.account,
            error,
        })
    }

    /// [`complete_sso`](Self::complete_sso)'s steps; `attempt` learns the tenant as soon as it
    /// is known and the response's claims as soon as it parses.
    async fn consume_response(
        &self,
        saml_response: &str,
        relay_state: Option<&str>,
        binding: Option<&str>,
        now: DateTime<Utc>,
        attempt: &mut Attempt,
    ) -> Result<SsoOutcome, LoginError> {
        let account = &mut attempt.account;
        // 1. Which login is this? The pending request named by RelayState, from this browser
        //    only, taken once ([`Self::take_pending`]).
        let pending = match relay_state {
            Some(relay) => {
                self.take_pending(relay, Role::Login, binding, account, &mut attempt.test)
                    .await?
            }
            None => None,
        };
        // 2. Whose keys? The tenant of the pending request; for an unsolicited response, the
        //    tenant that allows IdP-initiated login and whose IdP the (unverified) Issuer names.
        let (tenant, idp) = match &pending {
            Some(p) => {
                let tenant = self
                    .discovery
                    .directory
                    .by_account(&p.account)
                    .await?
                    .ok_or_else(|| LoginError::UnknownAccount(p.account.clone()))?;
                let idp = self
                    .idps
                    .for_tenant(&tenant)
                    .await
                    .ok_or_else(|| LoginError::NoIdp(p.account.clone()))?;
                (tenant, idp)
            }
            None => {
                if relay_state.is_some_and(|r| !r.is_empty()) {
                    // A RelayState we never issued or already consumed: not a fresh IdP-initiated
                    // login but an expired or replayed one.
                    return Err(LoginError::NoPendingRequest);
                }
                self.unsolicited_tenant(saml_response).await?
            }
        };
        *account = Some(tenant.account.clone());
        let sso = tenant
            .sso
            .as_ref()
            .ok_or_else(|| LoginError::UnknownAccount(tenant.account.clone()))?;
        if sso.protocol != Protocol::Saml2 {
            return Err(LoginError::WrongProtocol { found: "SAML" });
        }
        // 3. Validate every SAML rule.
        let assertion = {
            let sp = self.sp.clone();
            let b64 = saml_response.to_string();
            let request_id = pending.as_ref().map(|p| p.request_id.clone());
            let allow_unsolicited = sso.allow_idp_initiated;
            let email_claim = sso.email_claim.clone();
            let skew = Duration::from_secs(self.skew.as_secs());
            let idp = idp.clone();
            let traced = self
                .saml_work(move || {
                    let acs = sp.acs_urls();
                    let expected = saml::Expected {
                        idp: &idp,
                        entity_id: &sp.entity_id,
                        acs_urls: &acs,
                        request_id: request_id.as_deref(),
                        allow_unsolicited,
                        skew,
                        email_claim: email_claim.as_deref(),
                        decryption_key: Some(sp.keys.decryption_key()),
                    };
                    saml::validate_traced(&b64, &expected, now)
                })
                .await?;
            let mut facts = traced.facts.unwrap_or_default();
            if let Ok(a) = &traced.result {
                // What the signature vouched for replaces what the envelope claimed (and
                // fills in what an encrypted assertion hid).
                facts.issuer = Some(a.issuer.clone());
                facts.name_id = Some(a.name_id.clone());
                facts.email = Some(a.email.clone());
                facts.in_response_to = a.in_response_to.clone().or(facts.in_response_to);
            }
            attempt.facts = Some(facts);
            traced.result?
        };
        let (return_to, test) = pending.map(|p| (p.return_to, p.test)).unwrap_or_default();
        let subject = slo::LoginSubject::of(&assertion);
        let outcome = self
            .admit_assertion(&tenant, assertion, "saml2", return_to, test.as_ref(), now)
            .await?;
        if let SsoOutcome::SignedIn { session, .. } = &outcome {
            self.remember_saml_login(&tenant, &idp, session, subject)
                .await?;
        }
        Ok(outcome)
    }

    /// What a verified SAML assertion of `tenant`'s IdP leads to, whether a SAML Response or
    /// a WS-Federation RSTR carried it: the replay cache, then [`Self::admit`] (or, for a
    /// Test SSO, its result).
    async fn admit_assertion(
        &self,
        tenant: &Arc<Tenant>,
        assertion: VerifiedAssertion,
        method: &'static str,
        return_to: Option<String>,
        test: Option<&TestMark>,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, LoginError> {
        // 4. Replay: the assertion ID may be used once, across every instance sharing the store,
        //    for as long as the assertion could still be valid.
        let ttl = (assertion.not_on_or_after - now)
            .to_std()
            .unwrap_or_default()
            + Duration::from_secs(self.skew.as_secs() + 60);
        let fresh = self
            .store
            .put_if_absent(
                &format!(
                    "replay:{}:{}",
                    sha256_hex(&assertion.issuer),
                    sha256_hex(&assertion.assertion_id)
                ),
                vec![1],
                ttl,
            )
            .await?;
        if !fresh {
            return Err(LoginError::Replay(assertion.assertion_id));
        }
        if let Some(mark) = test {
            return self
                .tested(
                    tenant,
                    mark,
                    sso_test::Claims {
                        issuer: Some(assertion.issuer),
                        name_id: Some(assertion.name_id),
                        email: Some(assertion.email),
                        attributes: assertion.attributes,
                    },
                )
                .await;
        }
        let name = display_name(&assertion.attributes);
        self.admit(
            tenant,
            &assertion.email,
            &assertion.name_id,
            name.as_deref(),
            assertion.authn_context.clone(),
            method,
            return_to,
            now,
        )
        .await
    }

    /// The steps every SSO protocol ends with, once the IdP's answer is verified: the
    /// asserted email must belong to the tenant, then the account decision (pre-provisioned,
    /// JIT per policy, or refused) on `subject`, then the session.
    #[allow(clippy::too_many_arguments)]
    async fn admit(
        &self,
        tenant: &Arc<Tenant>,
        asserted_email: &str,
        subject: &str,
        name: Option<&str>,
        acr: Option<String>,
        method: &'static str,
        return_to: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, LoginError> {
        let email = self.owned_email(tenant, asserted_email).await?;
        // 6. Who is it? Pre-provisioned, JIT per policy, or refused.
        let outcome =
            accounts::resolve(self.users.as_ref(), tenant, &email, subject, name, now).await?;
        match outcome {
            Outcome::Admitted(user) => {
                let session = self.open_session(&user, method, acr, now).await?;
                Ok(SsoOutcome::SignedIn {
                    session,
                    return_to,
                    lang: user.lang,
                })
            }
            Outcome::Waiting(user) => {
                tracing::info!(target: "audit", event = "waiting_room", account = %user.account, email = %user.email, user_id = user.id, origin = %user.origin);
                self.notify_waiting(tenant.clone(), user.clone());
                Ok(SsoOutcome::Waiting(user))
            }
            Outcome::Refused(r) => Err(LoginError::Refused(r)),
        }
    }

    /// Step 5 of every SSO login: the asserted email must be an address of one of the
    /// tenant's domains, and one that routes to its SSO (an API tenant's, once verified).
    async fn owned_email(
        &self,
        tenant: &Arc<Tenant>,
        asserted_email: &str,
    ) -> Result<Email, LoginError> {
        let email = Email::parse(asserted_email)
            .map_err(|_| LoginError::BadAssertedEmail(asserted_email.to_string()))?;
        if !tenant.owns_domain(email.domain())
            || !matches!(
                self.discovery
                    .route_for_tenant(tenant.clone(), Some(email.domain()))
                    .await,
                Route::Sso(_)
            )
        {
            return Err(LoginError::Refused(Refusal::ForeignDomain));
        }
        Ok(email)
    }

    /// Runs SAML work (XML parsing, signatures, decryption) off the async runtime, at most
    /// `saml_slots` at a time: its cost is chosen by whoever posts to the ACS, and on the
    /// runtime one costly response stalls every other request (issue #11). The slot is held by
    /// the blocking task itself, so a client that hangs up mid-work does not free it early.
    async fn saml_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LoginError> {
        let slot = self.saml_slots.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(LoginError::from)
    }

    async fn unsolicited_tenant(
        &self,
        saml_response: &str,
    ) -> Result<(Arc<Tenant>, Arc<saml::IdpMetadata>), LoginError> {
        let b64 = saml_response.to_string();
        let issuer = self.saml_work(move || saml::peek_issuer(&b64)).await??;
        let Some(issuer_id) = issuer.as_deref() else {
            return Err(LoginError::Unsolicited(None));
        };
        for tenant in self.discovery.directory.idp_initiated(issuer_id).await? {
            if let Some(idp) = self.idps.for_tenant(&tenant).await
                && idp.entity_id == issuer_id
            {
                return Ok((tenant, idp));
            }
        }
        Err(LoginError::Unsolicited(issuer))
    }

    /// Opens a session with a fresh id (never reusing one the browser brought: no fixation).
    /// `method` is the login's kind for the log and metrics; the session's `amr` is `pwd`
    /// for the password kinds and the protocol otherwise. `acr` is what the IdP reported.
    async fn open_session(
        &self,
        user: &User,
        method: &'static str,
        acr: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Session, LoginError> {
        let amr = match method {
            "password" | "no_sso" => "pwd",
            protocol => protocol,
        };
        let session = self
            .sessions
            .create(
                &SessionUser {
                    user_id: user.id,
                    account: user.account.clone(),
                    email: user.email.to_string(),
                    name: user.name.clone(),
                    amr: amr.to_string(),
                    acr,
                },
                now,
            )
            .await?;
        tracing::info!(target: "audit", event = "login_success", method, account = %user.account, email = %user.email, user_id = user.id);
        metrics::counter!("realmgate_logins_total", "method" => method, "result" => "success")
            .increment(1);
        Ok(session)
    }

    /// Password login. Every path that can reveal whether a user exists runs exactly one
    /// Argon2 verification (a dummy hash when there is no user or no password) and ends in the
    /// same `BadCredentials` answer, so neither the page nor its timing enumerates accounts.
    pub async fn password_login(
        &self,
        attempt: PasswordAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<PasswordOutcome, LoginError> {
        let scope = if attempt.no_sso.is_some() {
            "nosso"
        } else {
            "password"
        };
        let ip_key = attempt.client_ip.to_string();
        self.limiter.check(scope, &ip_key, now).await?;
        let email = match Email::parse(attempt.email) {
            Ok(e) => e,
            Err(_) => {
                // Same work and answer as a wrong password.
                let _ = self.passwords.verify(attempt.password, None).await?;
                return Err(self
                    .fail(scope, &ip_key, None, "malformed email", now)
                    .await);
            }
        };
        let user_key = email.as_str().to_ascii_lowercase();
        self.limiter.check(scope, &user_key, now).await?;
        let route = self.discovery.route(&email).await?;
        let tenant = match (&route, attempt.no_sso) {
            // The no-sso fail-safe only for the account whose page it is.
            (Route::Sso(t), Some(account)) if t.account == account => Some(t.clone()),
            (Route::Sso(_), _) => {
                tracing::info!(target: "audit", event = "login_failure", method = "password", reason = "sso_required", domain = email.domain());
                return Err(LoginError::SsoRequired);
            }
            (Route::Password(t), None) => t.clone(),
            (Route::Password(_), Some(_)) => None,
            (Route::OtherRegion { .. }, _) => None,
        };
        let user = match &tenant {
            Some(t) => self.users.by_email(&t.account, &email).await?,
            None => None,
        };
        // Through no-sso only admins may use a password; everyone else gets the uniform answer.
        let eligible = user
            .as_ref()
            .filter(|u| attempt.no_sso.is_none() || u.admin);
        let hash = eligible.and_then(|u| u.password_hash.as_deref());
        let ok = self.passwords.verify(attempt.password, hash).await? && hash.is_some();
        let Some(user) = eligible.filter(|_| ok) else {
            let why = match (&user, eligible) {
                (None, _) => "unknown user",
                (Some(_), None) => "not an admin (no-sso)",
                (Some(_), Some(u)) if u.password_hash.is_none() => "no password",
                _ => "wrong password",
            };
            return Err(self.fail(scope, &ip_key, Some(&user_key), why, now).await);
        };
        self.limiter.success(scope, &user_key).await?;
        if attempt.no_sso.is_some() {
            tracing::warn!(target: "audit", event = "no_sso_login", account = %user.account, email = %user.email, user_id = user.id, ip = %attempt.client_ip);
        }
        match user.status {
            Status::Disabled => {
                tracing::info!(target: "audit", event = "login_failure", method = "password", reason = "disabled", user_id = user.id);
                return Err(LoginError::Disabled);
            }
            Status::Waiting => return Ok(PasswordOutcome::Waiting(user.clone())),
            Status::Active => {}
        }
        if let Some(h) = hash
            && self.passwords.needs_rehash(h)
        {
            let new = self.passwords.hash(attempt.password).await?;
            self.users.set_password_hash(user.id, Some(&new)).await?;
            tracing::info!(
                user_id = user.id,
                "password hash upgraded to current parameters"
            );
        }
        self.users.record_login(user.id, now).await?;
        let method = if attempt.no_sso.is_some() {
            "no_sso"
        } else {
            "password"
        };
        Ok(PasswordOutcome::SignedIn {
            session: self.open_session(user, method, None, now).await?,
            lang: user.lang,
        })
    }

    /// Records a failed attempt (growing lockouts) and builds the uniform error.
    async fn fail(
        &self,
        scope: &str,
        ip_key: &str,
        user_key: Option<&str>,
        why: &'static str,
        now: DateTime<Utc>,
    ) -> LoginError {
        tracing::info!(target: "audit", event = "login_failure", method = scope, reason = why);
        metrics::counter!("realmgate_logins_total", "method" => "password", "result" => "failure")
            .increment(1);
        for key in std::iter::once(ip_key).chain(user_key) {
            if let Err(e) = self.limiter.failure(scope, key, now).await {
                return e.into();
            }
        }
        LoginError::BadCredentials(why)
    }
}

mod oidc_login;

pub use oidc_login::OidcCallback;

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend failure keeps its cause as a source (not a copy of its text), and is
    /// still the one retryable answer.
    #[test]
    fn a_backend_failure_keeps_its_cause() {
        let cause = serde_json::from_slice::<Pending>(b"not json").unwrap_err();
        let e = LoginError::from(DirectoryError::Notice(cause));
        assert!(e.is_unavailable());
        assert_eq!(e.code(), "temporarily_unavailable");
        let mut chain = std::iter::successors(std::error::Error::source(&e), |s| s.source());
        assert!(chain.any(|s| s.is::<serde_json::Error>()));
    }
}

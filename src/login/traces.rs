//! Login traces: each tenant's last SSO attempts, kept in the shared [`Store`] so every
//! instance appends to and reads the same list. They are what a customer's IdP
//! administrator needs to fix their side (Polis calls them SSO traces): the result, the
//! stable code and the precise reason of the log line, and what the response claimed
//! (Issuer, Destination, InResponseTo, NameID, email, the signing certificate and whether
//! our metadata has it). An OpenID Connect callback is traced in the same list with what
//! it has of these: the issuer, the email and the subject (`sub`); the SAML-only fields
//! are named in the trace's `not_applicable`, never filled with look-alikes. So is a
//! WS-Federation answer (the passive `wresult`, or a device's WS-Trust exchange), with the
//! verified token's issuer, NameID and email.
//!
//! A trace never holds a secret: no assertion or response text, no RelayState, no
//! cookie, no session or token. Its response fields are the response's own unverified
//! claims (see [`crate::saml::facts`]), each cut to a bounded length: anyone may post a
//! response, and 200 of them must not cost more than a few hundred kilobytes per tenant.
//!
//! Only attempts whose tenant is known are traced: the one of the pending request, or of
//! an unsolicited response whose Issuer a tenant accepting IdP-initiated logins trusts. A
//! response that names no tenant (an unknown RelayState, an Issuer nobody trusts) is not
//! attributable: it has the ACS log line only, since putting it in the traces of the
//! tenant its unverified Issuer points at would let anyone write into any tenant's.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{LoginError, SsoOutcome};
use crate::saml::{CertificateFacts, ResponseFacts, VerifiedAssertion};
use crate::session::{Store, StoreError};

/// Traces kept per tenant: the newest push out the oldest.
pub const MAX_TRACES: usize = 200;
/// How long a trace is kept.
pub const TRACE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest response value kept (characters): a real Issuer, NameID or URL is far shorter.
const MAX_FIELD: usize = 512;
/// Longest reason kept (characters).
const MAX_REASON: usize = 1024;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceResult {
    /// Signed in, or admitted to the Waiting Room.
    Success,
    /// A check refused the response or the identity.
    Refused,
    /// A backend failed (worth retrying).
    Unavailable,
}

/// The protocol of an attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceProtocol {
    /// A SAML response at the ACS (also every trace written before this field existed).
    #[default]
    Saml,
    /// An OpenID Connect callback.
    Oidc,
    /// A WS-Federation `wresult` at the ACS.
    Wsfed,
    /// A device's email and password exchanged with the tenant's STS (WS-Trust).
    Wstrust,
}

/// The fields an OpenID Connect trace cannot have: there is no `Destination` or
/// `InResponseTo` in a callback, and the ID token is signed by a key of the provider's
/// published key set, not by a certificate of our configuration.
const NOT_IN_OIDC: [&str; 3] = ["destination", "in_response_to", "signing_certificate"];

/// The fields a WS-Federation trace cannot have: an RSTR answers no request by its ID
/// (`wctx` is our handle, not the STS's claim) and names no `Destination`.
const NOT_IN_WSFED: [&str; 2] = ["destination", "in_response_to"];

/// What an OpenID Connect callback told, as far as it got: the issuer it named (`iss`,
/// replaced by the ID token's once validated), the email and subject of a validated token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcFacts {
    /// The issuer.
    pub issuer: Option<String>,
    /// The email claim.
    pub email: Option<String>,
    /// `sub`.
    pub subject: Option<String>,
}

/// One SSO attempt of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Trace {
    /// When the response arrived.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The protocol of the attempt.
    #[serde(default)]
    pub protocol: TraceProtocol,
    /// How it ended.
    pub result: TraceResult,
    /// Stable code: `signed_in`, `waiting_room`, `test_passed` (a console's Test SSO), or
    /// the refusal's code (as on the error
    /// page, e.g. `signature_invalid`).
    pub code: String,
    /// The precise reason of the log line, for a refusal.
    pub reason: Option<String>,
    /// The response's Issuer (on success: the verified one).
    pub issuer: Option<String>,
    /// The response's `Destination`.
    pub destination: Option<String>,
    /// The request it answers (`InResponseTo`).
    pub in_response_to: Option<String>,
    /// The asserted Subject NameID.
    pub name_id: Option<String>,
    /// The asserted email.
    pub email: Option<String>,
    /// The OpenID Connect subject (`sub`); a SAML subject is its `name_id`.
    #[serde(default)]
    pub subject: Option<String>,
    /// The certificate the response's signature carries, if any.
    pub signing_certificate: Option<CertificateFacts>,
    /// The fields that do not exist in this protocol (empty for SAML).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applicable: Vec<String>,
}

impl Trace {
    /// The trace of one attempt: its outcome and what the response claimed (`None` when the
    /// attempt ended before the response was read).
    pub fn of(
        at: DateTime<Utc>,
        outcome: Result<&SsoOutcome, &LoginError>,
        facts: Option<&ResponseFacts>,
    ) -> Trace {
        let field = |f: Option<&String>| f.map(|s| cut(s, MAX_FIELD));
        Trace {
            issuer: field(facts.and_then(|f| f.issuer.as_ref())),
            destination: field(facts.and_then(|f| f.destination.as_ref())),
            in_response_to: field(facts.and_then(|f| f.in_response_to.as_ref())),
            name_id: field(facts.and_then(|f| f.name_id.as_ref())),
            email: field(facts.and_then(|f| f.email.as_ref())),
            signing_certificate: facts.and_then(|f| f.signing_certificate.clone()),
            ..Trace::ended(at, TraceProtocol::Saml, outcome)
        }
    }

    /// The trace of one OpenID Connect callback.
    pub fn of_oidc(
        at: DateTime<Utc>,
        outcome: Result<&SsoOutcome, &LoginError>,
        facts: &OidcFacts,
    ) -> Trace {
        let field = |f: &Option<String>| f.as_deref().map(|s| cut(s, MAX_FIELD));
        Trace {
            issuer: field(&facts.issuer),
            email: field(&facts.email),
            subject: field(&facts.subject),
            not_applicable: NOT_IN_OIDC.iter().map(|f| f.to_string()).collect(),
            ..Trace::ended(at, TraceProtocol::Oidc, outcome)
        }
    }

    /// The trace of one WS-Federation or WS-Trust attempt; `verified` is the token once it
    /// passed every check (a refused token's claims are not read: nothing vouches for them).
    pub fn of_wsfed(
        at: DateTime<Utc>,
        protocol: TraceProtocol,
        outcome: Result<&SsoOutcome, &LoginError>,
        verified: Option<&VerifiedAssertion>,
    ) -> Trace {
        let field = |f: Option<&String>| f.map(|s| cut(s, MAX_FIELD));
        Trace {
            issuer: field(verified.map(|a| &a.issuer)),
            name_id: field(verified.map(|a| &a.name_id)),
            email: field(verified.map(|a| &a.email)),
            not_applicable: NOT_IN_WSFED.iter().map(|f| f.to_string()).collect(),
            ..Trace::ended(at, protocol, outcome)
        }
    }

    /// A trace with how the attempt ended and no claims yet.
    fn ended(
        at: DateTime<Utc>,
        protocol: TraceProtocol,
        outcome: Result<&SsoOutcome, &LoginError>,
    ) -> Trace {
        let (result, code, reason) = match outcome {
            Ok(SsoOutcome::SignedIn { .. }) => (TraceResult::Success, "signed_in", None),
            Ok(SsoOutcome::Waiting(_)) => (TraceResult::Success, "waiting_room", None),
            Ok(SsoOutcome::Tested(_)) => (TraceResult::Success, "test_passed", None),
            Err(e) if e.is_unavailable() => {
                (TraceResult::Unavailable, e.code(), Some(e.to_string()))
            }
            Err(e) => (TraceResult::Refused, e.code(), Some(e.to_string())),
        };
        Trace {
            at,
            protocol,
            result,
            code: code.to_string(),
            reason: reason.map(|r| cut(&r, MAX_REASON)),
            issuer: None,
            destination: None,
            in_response_to: None,
            name_id: None,
            email: None,
            subject: None,
            signing_certificate: None,
            not_applicable: Vec::new(),
        }
    }
}

/// `s` shortened to `max` characters, marked with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_string(),
    }
}

fn key(account: &str) -> String {
    format!("traces:{account}")
}

/// The traces of every tenant, in the shared store.
#[derive(Clone)]
pub struct Traces {
    store: Arc<dyn Store>,
}

impl Traces {
    /// Traces kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Appends `trace` to `account`'s traces (the oldest beyond [`MAX_TRACES`] go).
    pub async fn record(&self, account: &str, trace: &Trace) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(trace).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store
            .push_capped(&key(account), bytes, MAX_TRACES, TRACE_TTL)
            .await
    }

    /// Appends `trace` as [`Self::record`] does, for a login's own path: the login's answer
    /// does not wait on, nor fail with, its trace, so a store failure is only logged.
    pub async fn keep(&self, account: &str, trace: &Trace) {
        if let Err(e) = self.record(account, trace).await {
            tracing::warn!(account, reason = %e, "login trace not recorded");
        }
    }

    /// `account`'s newest traces, at most `limit`, none older than [`TRACE_TTL`] at `now`.
    /// A record this version cannot read (written by another release) is skipped, not an
    /// error: one odd entry must not hide the rest from the administrator.
    pub async fn list(
        &self,
        account: &str,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Trace>, StoreError> {
        let oldest = now - chrono::Duration::from_std(TRACE_TTL).unwrap_or_default();
        let traces = self
            .store
            .list(&key(account))
            .await?
            .iter()
            .filter_map(|bytes| match serde_json::from_slice::<Trace>(bytes) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(account, reason = %e, "unreadable login trace skipped");
                    None
                }
            })
            .filter(|t| t.at > oldest)
            .take(limit)
            .collect();
        Ok(traces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::MemoryStore;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + seconds, 0).expect("time")
    }

    fn refused(at: DateTime<Utc>, facts: &ResponseFacts) -> Trace {
        Trace::of(at, Err(&LoginError::NoPendingRequest), Some(facts))
    }

    /// Per tenant, newest first, bounded, and a week old at most, whatever the store still
    /// holds.
    #[tokio::test]
    async fn traces_are_per_tenant_newest_first_bounded_and_a_week_long() {
        let traces = Traces::new(Arc::new(MemoryStore::default()));
        let facts = ResponseFacts::default();
        for i in 0..(MAX_TRACES as i64 + 5) {
            traces
                .record("a", &refused(at(i), &facts))
                .await
                .expect("record");
        }
        traces
            .record("b", &refused(at(0), &facts))
            .await
            .expect("record");
        let now = at(1000);
        let a = traces.list("a", 1000, now).await.expect("list");
        assert_eq!(a.len(), MAX_TRACES);
        assert_eq!(a[0].at, at(MAX_TRACES as i64 + 4));
        assert_eq!(a[MAX_TRACES - 1].at, at(5));
        assert_eq!(traces.list("a", 3, now).await.expect("list").len(), 3);
        assert_eq!(traces.list("b", 1000, now).await.expect("list").len(), 1);
        assert!(traces.list("c", 1000, now).await.expect("list").is_empty());
        // A week after the newest (plus a second), everything is too old to show.
        let week = TRACE_TTL.as_secs() as i64;
        let later = at(MAX_TRACES as i64 + 4 + week);
        assert_eq!(traces.list("a", 1000, later).await.expect("list").len(), 0);
        let just_before = at(10 + week);
        assert_eq!(
            traces
                .list("a", 1000, just_before)
                .await
                .expect("list")
                .len(),
            MAX_TRACES - 6
        );
    }

    /// A response's claims are cut to a bounded size; the reason is the log's and the code
    /// the error page's.
    #[test]
    fn a_trace_keeps_the_reason_and_bounds_every_field() {
        let long = "x".repeat(100_000);
        let facts = ResponseFacts {
            issuer: Some(long.clone()),
            destination: Some("https://sp/acs".into()),
            ..ResponseFacts::default()
        };
        let error = LoginError::Replay(long);
        let t = Trace::of(at(0), Err(&error), Some(&facts));
        assert_eq!(t.result, TraceResult::Refused);
        assert_eq!(t.code, "replayed_assertion");
        assert_eq!(
            t.issuer.as_deref().map(|s| s.chars().count()),
            Some(MAX_FIELD + 1)
        );
        assert!(
            t.reason.as_deref().is_some_and(
                |r| r.starts_with("assertion xxx") && r.chars().count() == MAX_REASON + 1
            )
        );
        assert_eq!(t.destination.as_deref(), Some("https://sp/acs"));
        assert_eq!(cut("é€x", 2), "é€…");
        assert_eq!(cut("é€", 2), "é€");
    }

    /// A trace written before the protocol existed still reads, as SAML, and a SAML trace
    /// names nothing as not applicable.
    #[test]
    fn older_traces_read_as_saml() {
        let mut json = serde_json::to_value(refused(at(0), &ResponseFacts::default())).unwrap();
        assert!(json.get("not_applicable").is_none());
        let map = json.as_object_mut().unwrap();
        map.remove("protocol");
        map.remove("subject");
        let back: Trace = serde_json::from_value(json).unwrap();
        assert_eq!(back.protocol, TraceProtocol::Saml);
        assert_eq!(back, refused(at(0), &ResponseFacts::default()));
    }
}

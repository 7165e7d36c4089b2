//! SAML Single Logout (SAML core 3.7, profiles 4.4), our side: the LogoutRequest we send
//! when a person signs out of a SAML session, the LogoutResponse we answer an IdP's
//! LogoutRequest with, and the checks every logout message arriving at our
//! SingleLogoutService passes before it may end anything. No HTTP server types: the web
//! layer hands over the raw query or the form fields, `login` decides what ends.
//!
//! # Layout
//! - [`send`]: building and signing our LogoutRequest and LogoutResponse for the IdP's
//!   SingleLogoutService (HTTP-Redirect preferred, else HTTP-POST).
//! - [`receive`]: decoding an incoming message of either binding ([`Received`]) and
//!   [`verify`], which checks it against the tenant's IdP in order: strict parse (no
//!   DTD), element and version, the signature with metadata keys only (the query
//!   signature of bindings 3.4.4.1, or the enveloped XML signature with the wrapping
//!   defences of `signature`), Issuer, Destination, IssueInstant, then the request's
//!   NameID and SessionIndexes or the response's InResponseTo and Status.
//!
//! Replay (a message ID seen before) and the binding of a LogoutResponse to this browser's
//! pending request are the caller's, as for logins.

pub mod receive;
pub mod send;

use std::time::Duration;

pub use receive::{Expected, Kind, Received, Verified, VerifiedRequest, VerifiedResponse, verify};
pub use send::{LogoutStatus, Subject, logout_request, logout_response};

/// How long after its IssueInstant a logout message is accepted (plus the clock skew): a
/// front-channel message crosses one browser redirect, seconds in practice. The replay
/// cache keeps each message ID at least this long.
pub const MESSAGE_LIFETIME: Duration = Duration::from_secs(5 * 60);

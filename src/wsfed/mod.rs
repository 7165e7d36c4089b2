//! WS-Federation passive requestor and WS-Trust 1.3 client core, for AD FS tenants
//! (`protocol = "wsfed"`), with no HTTP server types in it: the sign-in and sign-out URLs,
//! and `validate`, the one function that decides whether a `wresult` (a
//! `RequestSecurityTokenResponse` holding a SAML 1.1 or 2.0 assertion) is a login.
//!
//! Beside `saml` and built from its pieces rather than copies of them: one XML parser
//! (`saml::xml::parse`: UTF-8 only, no DTD, bounded complexity), the same wrapping defences
//! and signature shape rules (`saml::signature`), verification with the metadata's keys only
//! (the STS role's: `saml::IdpMetadata::parse_for`), and the same assertion rules for SAML 2.0
//! tokens (`saml::profile::check_bare_assertion`). What differs is WS-Federation's own: the
//! RSTR envelope, `AppliesTo`, and the SAML 1.1 assertion profile.
//!
//! # Layout
//! - [`error`]: `WsFedError`, the reasons of WS-Federation and WS-Trust refusals (the SAML
//!   ones are `SamlError`s inside it), each with a stable `code()`.
//! - [`request`]: the `wa=wsignin1.0` and `wa=wsignout1.0` URLs.
//! - [`token`]: `validate(wresult, &Expected, now)`: envelope, one assertion, signature,
//!   then the assertion's rules; `validate_soap`, the same for a WS-Trust answer.
//! - [`trust`]: the WS-Trust 1.3 `usernamemixed` client of device logins (`wstrust_url`):
//!   the `RequestSecurityToken` and its bounded HTTPS exchange.
//! - `saml11`: the SAML 1.1 assertion rules (AD FS's default token).

pub mod error;
pub mod request;
mod saml11;
pub mod token;
pub mod trust;

pub use error::WsFedError;
pub use token::{Carrier, Expected, validate, validate_as, validate_soap};

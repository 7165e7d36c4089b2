//! SAML 2.0 service-provider protocol core, with no HTTP in it: the SP key, IdP and SP
//! metadata, AuthnRequests for both bindings, and `validate`, the one function that decides
//! whether a SAML Response is a login.
//!
//! # Layout
//! - [`error`]: `SamlError`, one variant per refusal reason, each with a stable `code()`.
//! - [`xml`]: the single strict libxml2 entry point (no DTD) and namespace-aware helpers.
//! - [`keys`]: `SpKeys`, generated once or loaded; redirect-binding signatures.
//! - [`metadata`]: `IdpMetadata`, `IdpRegistry` (file, inline, refreshed URL), `sp_metadata`.
//! - [`request`]: AuthnRequest, HTTP-Redirect and HTTP-POST bindings.
//! - [`response`]: `validate(b64, &Expected, now)`, which runs every check below in spec
//!   order, and `peek_issuer`.
//! - `signature`: the XML-DSig wrapping defences (one assertion, unique IDs, signature
//!   shape and algorithms) and xmlsec verification with metadata keys only.
//! - `decrypt`: XML Encryption of an EncryptedAssertion (RSA-OAEP, AES-GCM).
//! - `profile`: Status and the Web SSO profile rules on verified nodes (Issuer,
//!   Destination, InResponseTo, bearer confirmation, Conditions, Audience, NameID, email).

mod decrypt;
pub mod error;
pub mod keys;
pub mod metadata;
mod profile;
pub mod request;
pub mod response;
mod signature;
pub mod xml;

pub use error::SamlError;
pub use keys::SpKeys;
pub use metadata::{IdpCert, IdpMetadata, IdpRegistry, Sp, sp_metadata};
pub use response::{Expected, VerifiedAssertion, peek_issuer, validate};

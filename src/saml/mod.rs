//! SAML 2.0 service-provider protocol core, with no HTTP server types in it: the SP key, IdP
//! and SP metadata, AuthnRequests for both bindings, and `validate`, the one function that
//! decides whether a SAML Response is a login.
//!
//! The one network client is [`fetch`], which reads `idp_metadata_url` over HTTPS (for the
//! registry's refreshers, for `realmgate check` and for the management API's check of a URL
//! being saved). It lives in its own file so parsing,
//! the registry and everything `validate` touches stay free of I/O.
//!
//! # Layout
//! - [`error`]: `SamlError`, one variant per refusal reason, each with a stable `code()`.
//! - [`xml`]: the single strict libxml2 entry point (no DTD) and namespace-aware helpers.
//! - [`keys`]: `SpKeys`, generated once or loaded; redirect-binding signatures.
//! - [`metadata`]: `IdpMetadata`, the IdP's metadata document (file, inline settings, or a
//!   fetched document).
//! - [`fetch`]: the HTTPS client for metadata URLs, `fetch_metadata` and its `FetchError`.
//! - [`registry`]: `IdpRegistry`, every tenant's IdP, with the refresher of each metadata URL.
//! - [`sp`]: `Sp`, our side, and `sp_metadata`, the document the IdP administrator imports.
//! - [`request`]: AuthnRequest, HTTP-Redirect and HTTP-POST bindings.
//! - [`logout`]: Single Logout: our signed LogoutRequest and LogoutResponse, and `verify`
//!   of the logout messages that reach our SingleLogoutService.
//! - [`response`]: `validate(b64, &Expected, now)`, which runs every check below in spec
//!   order, `validate_traced` (the same, with the response's claims), and `peek_issuer`.
//! - [`facts`]: `ResponseFacts`, what a response claims (Issuer, Destination, NameID,
//!   signing certificate), unverified, for the login traces.
//! - [`signature`]: the XML-DSig wrapping defences (one assertion, unique IDs, signature
//!   shape and algorithms) and xmlsec verification with metadata keys only; public because
//!   the WS-Federation core runs the same defences on its tokens.
//! - `decrypt`: XML Encryption of an EncryptedAssertion (RSA-OAEP, AES-GCM).
//! - [`profile`]: Status and the Web SSO profile rules on verified nodes (Issuer,
//!   Destination, InResponseTo, bearer confirmation, Conditions, Audience, NameID, email),
//!   and the same assertion rules for a bare assertion (a WS-Federation token).

mod decrypt;
pub mod error;
pub mod facts;
pub mod fetch;
pub mod keys;
pub mod logout;
pub mod metadata;
pub mod profile;
pub mod registry;
pub mod request;
pub mod response;
pub mod signature;
pub mod sp;
pub mod xml;

pub use error::SamlError;
pub use facts::{CertificateFacts, ResponseFacts};
pub use fetch::{
    ApiFetcher, CHECK_FETCH_TIMEOUT, FetchError, fetch_metadata, http_client, http_client_builder,
};
pub use keys::SpKeys;
pub use metadata::{IdpCert, IdpMetadata, SloService};
pub use registry::{IdpRegistry, UrlSource};
pub use response::{Expected, Traced, VerifiedAssertion, peek_issuer, validate, validate_traced};
pub use sp::{Sp, sp_metadata};

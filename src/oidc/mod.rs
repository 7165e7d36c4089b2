//! The OpenID Connect relying-party protocol core, towards a tenant's IdP (Entra ID v2.0,
//! Google Workspace, Okta, Keycloak), beside `saml`: the provider's configuration and key
//! set with their cache and bounded refresh ([`provider`]), the authorization request and
//! the code exchange ([`flow`]), and [`token::validate`], which runs every check of an ID
//! token in the order of OpenID Connect Core 1.0 §3.1.3.7 with `now` passed in. The JOSE
//! work is the `openidconnect` crate's; no server types here: `login` drives the round trip
//! and `web` only forwards the callback.

pub mod error;
mod fetch;
pub mod flow;
pub mod provider;
pub mod token;

pub use error::OidcError;
pub use fetch::client as http_client;
pub use flow::AuthRequest;
pub use provider::{Provider, Providers};
pub use token::{Expected, Identity, validate};

//! realmgate: an email-first home-realm discovery login gateway.

pub mod config;
pub mod discovery;
pub mod saml;

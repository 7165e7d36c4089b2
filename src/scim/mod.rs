//! SCIM 2.0 provisioning protocol core (RFC 7643, RFC 7644), with no HTTP server types in
//! it: the resources and their checks, the filter language, PATCH, and the discovery
//! documents. `web::scim` routes requests here and maps [`ScimError`] to its answer once;
//! the user operations decide what a change does (disabling ends sessions).
//!
//! Everything here is pure and bounded: filters and PATCH paths are parsed within fixed
//! limits, so a provisioning client (or whoever holds its token) cannot make a request
//! expensive.
//!
//! # Layout
//! - [`error`]: `ScimError`, each variant an RFC 7644 §3.12 status and `scimType`.
//! - [`resource`]: `ScimUser`, `ScimGroup`, `ListResponse` with `Page`, the POST/PUT
//!   checks, and the mapping to realmgate's users (`UserFacts`, `UserChange`).
//! - [`filter`]: `Filter::parse`, `matches`, and `lookup` for index-answerable filters.
//! - [`patch`]: `Patch::parse`, `apply_user`, `apply_group`, with Entra's request shapes
//!   (paths, values, user and group operations in files of their own).
//! - [`search`]: `SearchRequest`, the body of `POST /.search`.
//! - [`documents`]: `ServiceProviderConfig`, `ResourceTypes`, `Schemas`.

pub mod documents;
pub mod error;
pub mod filter;
pub mod patch;
pub mod resource;
pub mod search;

pub use error::ScimError;
pub use filter::{Filter, Lookup};
pub use patch::Patch;
pub use resource::{ListResponse, Page, ScimGroup, ScimUser, UserChange, UserFacts};

//! realmgate: an email-first home-realm discovery login gateway.
//!
//! # Layout
//! - `config`: defaults → `realmgate.toml` → `REALMGATE_*`; every problem reported at once.
//! - `discovery`: the `Email` type, tenant files and map, the cached directory, DNS proofs,
//!   and the domain-only routing decision.
//! - `accounts`: users (`UserStore`: SQLite, PostgreSQL), Argon2id passwords, the
//!   SSO identity → user decision (JIT, Waiting Room), CSV import.
//! - `saml`: the SAML 2.0 SP protocol core: SP keys and metadata, IdP metadata, AuthnRequest,
//!   and `response::validate`, which runs every check of a valid login in spec order.
//! - `oidc`: the OpenID Connect relying-party core towards a tenant's IdP: provider
//!   configuration and key set (cached, refreshed on an unknown `kid`), the authorization
//!   request and code exchange, and `token::validate` over the `openidconnect` crate.
//! - `wsfed`: the WS-Federation passive requestor and WS-Trust 1.3 client core (AD FS):
//!   sign-in and sign-out URLs, and `validate` of an RSTR's SAML 1.1 or 2.0 token, built
//!   from `saml`'s parser, wrapping defences, signature checks and assertion rules.
//! - `session`: the shared key-value `Store` (memory, Redis) and what lives in it:
//!   sessions, rate limits, one-time entries.
//! - `oauth`: OAuth 2.0 authorization server for native apps (PKCE) and device connectors:
//!   clients, codes, ES256 access tokens, rotating refresh tokens.
//! - `login`: turning a credential into a session (the SSO round trip, password login),
//!   as the `login::Login` service, which holds only the handles it reads.
//! - `audit`: the audit log (who changed what, before and after) in the users' database.
//! - `admin`: the management operations (API tokens, users, groups) that the API, the CLI
//!   and the console share; each takes an `Actor` and writes an audit event.
//! - `scim`: the SCIM 2.0 provisioning protocol core: Users and Groups, filters, PATCH
//!   with Entra's request shapes, the discovery documents.
//! - `web`: HTTP glue (routes, guards, pages, error mapping); no policy. The application
//!   state (`web::state::AppState`, behind `SharedState`) lives here, where it is served.
//! - `app`: start-up, building the state and the services in it (`app`), serving with
//!   its one graceful stop (`app::serve`), the one tenant loader, import and reloads
//!   (`app::tenants`).
//! - `telemetry`: logs and Prometheus metrics.
//! - `secrets`: random tokens and ids, and the one writer of secret files.
//! - `i18n`: the message catalogs (Fluent, `locales/`), the language of a request, and the
//!   templates that take their words from the catalogs (pages and mail).
//! - `mail`: the messages sent to people (invitation, password reset, Waiting Room,
//!   approval) and the `Mailer` that delivers them (SMTP, or the outbox directory).
//!
//! Dependencies point one way:
//! `main → app → web → {login, oauth, admin, scim} → {wsfed, saml, oidc, accounts,
//! discovery, session, audit, mail} → {config, telemetry, secrets, i18n}`. A module imports
//! only from modules to its right (within a group, in one deliberate direction:
//! `oauth → login`, `scim → admin`, `wsfed → saml`, `wsfed`/`saml`/`oidc`/`accounts →
//! discovery`, `audit → accounts` (its events live in the users' database), `mail →
//! discovery` (the `Email` it addresses), `telemetry`/`secrets → config`, `config → i18n`
//! (the default language is a catalog's)); only `web` and
//! `app` name the application state or HTTP types. `tests/layers.rs` keeps this true.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod config;
pub mod discovery;
pub mod i18n;
pub mod login;
pub mod mail;
pub mod oauth;
pub mod oidc;
pub mod saml;
pub mod scim;
pub mod secrets;
pub mod session;
pub mod telemetry;
pub mod web;
pub mod wsfed;

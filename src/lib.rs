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
//! - `session`: the shared key-value `Store` (memory, Redis) and what lives in it:
//!   sessions, rate limits, one-time entries.
//! - `oauth`: OAuth 2.0 authorization server for native apps (PKCE) and device connectors:
//!   clients, codes, ES256 access tokens, rotating refresh tokens.
//! - `web`: HTTP glue (routes, guards, pages, error mapping); no policy.
//! - `app`: shared state, start-up, reloads, `run(listener, state, shutdown)`.
//! - `telemetry`: logs and Prometheus metrics.
//!
//! Dependencies point one way: `web` → `app`'s state → `accounts`, `discovery`, `session`;
//! `accounts` and `saml` know `discovery`'s types; `session` depends on nothing of ours.

pub mod accounts;
pub mod app;
pub mod config;
pub mod discovery;
pub mod login;
pub mod oauth;
pub mod saml;
pub mod session;
pub mod telemetry;
pub mod web;

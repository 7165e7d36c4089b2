//! realmgate: an email-first home-realm discovery login gateway.
//!
//! # Layout
//! - `config`: defaults → `realmgate.toml` → `REALMGATE_*`; every problem reported at once.
//! - `discovery`: the `Email` type, tenant files and map, the cached directory, DNS proofs,
//!   and the domain-only routing decision.
//! - `web`: HTTP glue (routes, guards, pages, error mapping); no policy.
//! - `app`: shared state, start-up, reloads, `run(listener, state, shutdown)`.
//! - `telemetry`: logs and Prometheus metrics.
//!
//! Dependencies point one way: `web` → `app`'s state → `discovery`; `discovery` depends on
//! `config` only.

pub mod app;
pub mod config;
pub mod discovery;
pub mod telemetry;
pub mod web;

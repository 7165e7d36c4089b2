//! `GET /{account}/admin/traces`: the account's last SSO attempts (`login::traces`), newest
//! first, each with its stable code, the precise reason, and what the response claimed:
//! what the customer's IdP administrator needs to fix their side.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::Console;
use crate::login::traces::{MAX_TRACES, Trace, TraceResult};

/// `GET /{account}/admin/traces`.
pub async fn page(console: Console) -> Response {
    let traces = match console
        .state
        .login
        .traces
        .list(&console.tenant.account, MAX_TRACES, Utc::now())
        .await
    {
        Ok(traces) => traces,
        Err(e) => return console.problem(e.into(), &console.path("")),
    };
    let rows: Vec<_> = traces.iter().map(row).collect();
    console.render(
        StatusCode::OK,
        "console_traces",
        "traces",
        json!({"traces": rows, "sso": console.tenant.sso.is_some()}),
    )
}

/// A trace as the console shows it (here, and as a Test SSO's result).
pub fn row(t: &Trace) -> Value {
    json!({
        "at": t.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        "success": t.result == TraceResult::Success,
        // A success is a sign-in, a Waiting Room entry or a passed Test SSO (which signs
        // nobody in): each its own words.
        "waiting": t.code == "waiting_room",
        "tested": t.code == "test_passed",
        "unavailable": t.result == TraceResult::Unavailable,
        "code": t.code,
        "reason": t.reason,
        "issuer": t.issuer,
        "destination": t.destination,
        "in_response_to": t.in_response_to,
        "name_id": t.name_id,
        "email": t.email,
        "subject": t.subject,
        "certificate": t.signing_certificate,
    })
}

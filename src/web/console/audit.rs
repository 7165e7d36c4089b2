//! `GET /{account}/admin/audit`: the account's audit log, newest first, a page at a time
//! (`?before=ID` continues after the last event shown).

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::Console;
use crate::admin::AdminError;
use crate::web::error::WebError;

/// Events on one page.
pub const PAGE_SIZE: u32 = 50;

/// The page's query.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Show the events recorded before this one.
    before: Option<String>,
}

/// `GET /{account}/admin/audit`.
pub async fn page(console: Console, query: Result<Query<AuditQuery>, QueryRejection>) -> Response {
    let back = console.path("");
    let before = match query {
        Ok(Query(AuditQuery { before: None })) => None,
        Ok(Query(AuditQuery { before: Some(b) })) => match b.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return console.problem(WebError::BadRequest(format!("before {b:?}")), &back),
        },
        Err(e) => return console.problem(WebError::BadRequest(e.body_text()), &back),
    };
    let events = match console
        .state
        .admin
        .audit
        .recent(&console.tenant.account, before, PAGE_SIZE)
        .await
    {
        Ok(events) => events,
        Err(e) => return console.problem(AdminError::from(e).into(), &back),
    };
    let next = (events.len() == PAGE_SIZE as usize)
        .then(|| {
            events
                .last()
                .map(|e| format!("{}?before={}", console.path("/audit"), e.id))
        })
        .flatten();
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "before": e.before.as_ref().map(ToString::to_string),
                "after": e.after.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    console.render(
        StatusCode::OK,
        "console_audit",
        "audit",
        json!({
            "events": rows,
            "first_url": before.map(|_| console.path("/audit")),
            "next_url": next,
        }),
    )
}

//! `GET /{account}/admin`: the overview, with what waits for the administrator first.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::Console;
use crate::accounts::{Status, UserQuery};

/// `GET /{account}/admin`.
pub async fn page(console: Console) -> Response {
    let users = &console.state.admin.users;
    let account = &console.tenant.account;
    let count = |status: Option<Status>| UserQuery {
        status,
        limit: 0,
        ..UserQuery::default()
    };
    let waiting = match users.list(account, &count(Some(Status::Waiting))).await {
        Ok(p) => p.total,
        Err(e) => return console.problem(e.into(), "/"),
    };
    let all = match users.list(account, &count(None)).await {
        Ok(p) => p.total,
        Err(e) => return console.problem(e.into(), "/"),
    };
    let config = &console.state.config;
    let sso = console.tenant.sso.as_ref();
    console.render(
        StatusCode::OK,
        "console_home",
        "home",
        json!({
            "waiting": waiting,
            "users": all,
            "sso": sso.is_some(),
            "button": sso.map(|s| s.button.as_str()),
            "sign_on_url": config.url(&format!("/{account}")),
            "fail_safe_url": config.url(&format!("/{account}/no-sso")),
        }),
    )
}

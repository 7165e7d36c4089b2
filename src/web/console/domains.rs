//! The Domains section: the account's email domains with their DNS proof and the TXT
//! record to publish; add one, look its proof up now, remove one. Each is one call of the
//! tenant operations the API's `/api/v1/tenants/{account}/domains` routes use
//! ([`crate::admin::TenantAdmin`]), so a domain routes to SSO only once its proof holds,
//! a domain another tenant holds is refused without naming it, and a file's tenant is
//! read-only (the page names the file). Adding and removing need a recent sign-in.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Console, ConsoleForm, done, with_csrf};
use crate::discovery::TenantOrigin;
use crate::web::discover::encode;
use crate::web::error::WebError;

/// The notices a change redirects back with; anything else shows none.
const NOTICES: &[&str] = &[
    "added",
    "removed",
    "verified",
    "missing",
    "wrong_token",
    "lookup_failed",
];

/// The page's query: the notice of the change just made, and its domain.
#[derive(Debug, Deserialize, Default)]
pub struct DomainsQuery {
    done: Option<String>,
    domain: Option<String>,
}

/// `GET /{account}/admin/domains`.
pub async fn page(
    console: Console,
    query: Result<Query<DomainsQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return console.problem(WebError::BadRequest(e.body_text()), &console.path("")),
    };
    let account = &console.tenant.account;
    let domains = match console.state.tenant_admin.domains(account).await {
        Ok(d) => d,
        Err(e) => return console.problem(e.into(), &console.path("")),
    };
    let rows: Vec<Value> = domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "n": i,
                "domain": d.domain,
                "verified": d.verified,
                "verified_at": d.verified_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                "record_name": d.record_name,
                "record_value": d.record_value,
                "path": encode(&d.domain),
            })
        })
        .collect();
    let file = (console.tenant.origin != TenantOrigin::Api)
        .then(|| console.tenant.file.display().to_string());
    let done = query.done.as_deref().filter(|d| NOTICES.contains(d));
    console.render(
        StatusCode::OK,
        "console_domains",
        "domains",
        json!({
            "domains": rows,
            "read_only": file.is_some(),
            "file": file,
            "sso": console.tenant.sso.is_some(),
            "done": done,
            "done_domain": done.and(query.domain.as_deref()),
        }),
    )
}

/// The add-a-domain form.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

/// A form of one button: only the token.
#[derive(Debug, Deserialize)]
pub struct ButtonForm {
    #[serde(default)]
    csrf: String,
}

with_csrf!(AddForm, ButtonForm);

/// Back to the list with `notice` about `domain`, or the problem page.
fn answer(console: &Console, result: Result<(&'static str, String), WebError>) -> Response {
    let back = console.path("/domains");
    match result {
        Ok((notice, domain)) => done(&format!("{back}?domain={}", encode(&domain)), notice),
        Err(e) => console.problem(e, &back),
    }
}

/// The route's domain (`.../domains/{domain}/...`).
fn route_domain(console: &Console) -> Result<String, WebError> {
    console.param("domain").ok_or(WebError::NotFound)
}

/// `POST /{account}/admin/domains`.
pub async fn add(ConsoleForm { console, form }: ConsoleForm<AddForm>) -> Response {
    let result = async {
        console.admin.require_recent_sign_in(Utc::now())?;
        let added = console
            .state
            .tenant_admin
            .add_domain(
                &console.admin.actor(),
                &console.tenant.account,
                &form.domain,
            )
            .await?;
        Ok(("added", added.domain))
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/domains/{domain}/verify`: the TXT lookup, now.
pub async fn verify(ConsoleForm { console, .. }: ConsoleForm<ButtonForm>) -> Response {
    let result = async {
        let domain = route_domain(&console)?;
        let status = console
            .state
            .tenant_admin
            .verify(&console.admin.actor(), &console.tenant.account, &domain)
            .await?;
        Ok((status.outcome.unwrap_or("lookup_failed"), status.domain))
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/domains/{domain}/remove`.
pub async fn remove(ConsoleForm { console, .. }: ConsoleForm<ButtonForm>) -> Response {
    let result = async {
        let domain = route_domain(&console)?;
        console.admin.require_recent_sign_in(Utc::now())?;
        console
            .state
            .tenant_admin
            .remove_domain(&console.admin.actor(), &console.tenant.account, &domain)
            .await?;
        Ok(("removed", domain))
    }
    .await;
    answer(&console, result)
}

//! Test SSO from the console: `POST /{account}/admin/sso/test` starts a real SP-initiated
//! login of the account's IdP (the page's form opens it in a new window), marked as a test
//! (`login::sso_test`): the ACS then sends the window to `GET
//! /{account}/admin/sso/test/{test}`, the result, instead of signing anyone in. The result
//! shows the claims received, or the stable code and precise reason of the login trace; it
//! is found only by the session that started the test.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::json;

use super::users::ButtonForm;
use super::{Console, ConsoleForm};
use crate::login::SsoTest;
use crate::web::error::WebError;

/// Where the ACS sends a test's window: its result in the account's console.
pub fn result_path(test: &SsoTest) -> String {
    format!("/{}/admin/sso/test/{}", test.account, test.id)
}

/// `POST /{account}/admin/sso/test`: to the IdP, this browser bound to the test like any
/// login. Nothing changes, so no recent sign-in is needed; the form token is.
pub async fn start(
    headers: HeaderMap,
    ConsoleForm { console, .. }: ConsoleForm<ButtonForm>,
) -> Response {
    let state = &console.state;
    let (binding, set_cookie) = match crate::web::sso::binding(state, &headers) {
        Ok(b) => b,
        Err(e) => return console.problem(e, &console.path("/sso")),
    };
    let started = state
        .login
        .start_test(&console.tenant, &console.session, &binding, Utc::now())
        .await;
    match started {
        Ok((start, id)) => {
            tracing::info!(target: "audit", event = "sso_test_started", account = %console.tenant.account, by = %console.admin.user.email, test = %id);
            crate::web::sso::to_idp(state, start, set_cookie)
        }
        Err(e) => console.problem(e.into(), &console.path("/sso")),
    }
}

/// `GET /{account}/admin/sso/test/{test}`.
pub async fn result(console: Console) -> Response {
    let back = console.path("/sso");
    let id = console.params.get("test").cloned().unwrap_or_default();
    let found = console
        .state
        .login
        .test_result(&console.tenant.account, &id, &console.session)
        .await;
    let result = match found {
        Ok(Some(r)) => r,
        Ok(None) => return console.problem(WebError::NotFound, &back),
        Err(e) => return console.problem(e.into(), &back),
    };
    let attributes: Vec<_> = result
        .attributes
        .iter()
        .map(|(name, values)| json!({"name": name, "values": values}))
        .collect();
    let mut data = super::traces::row(&result.trace);
    data["attributes"] = json!(attributes);
    data["back_url"] = json!(back);
    data["traces_url"] = json!(console.path("/traces"));
    console.render(StatusCode::OK, "console_sso_test", "sso", data)
}

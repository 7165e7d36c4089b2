//! The account admin console, `/{account}/admin`: server-rendered pages for the account's
//! own administrators, over the management operations of [`crate::admin`] (the same ones,
//! and the same audit events, as the API and the CLI). This file is the guard every
//! console route goes through, the form extractor that checks the session's CSRF token,
//! and the page frame; one file per section beside it.
//!
//! The guard, in order: no session → the account's sign-in, then back here; a session of
//! another account, or of someone who is not (or no longer) an active admin of this one →
//! 403, the same page whether the account exists or not; then the tenant. Forms carry the
//! session's synchronizer token ([`crate::session::Session::csrf`]), checked before any
//! operation runs. Sensitive changes ask [`ConsoleAdmin::require_recent_sign_in`] and,
//! when the sign-in is too old, answer a page sending the admin to sign in again.
//!
//! # Layout
//! - [`home`]: the overview;
//! - [`users`]: the Waiting Room and the users;
//! - [`domains`]: the account's domains and their DNS proof;
//! - [`audit`]: the account's audit log;
//! - [`traces`]: the account's last SSO attempts;
//! - [`sso`]: the Single Sign-On settings;
//! - [`sso_test`]: Test SSO and its result.

pub mod audit;
pub mod domains;
pub mod home;
pub mod sso;
pub mod sso_test;
pub mod traces;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::discover::{account_tenant, encode};
use super::error::{PageError, WebError};
use super::state::SharedState;
use crate::admin::{AdminError, ConsoleAdmin};
use crate::discovery::Tenant;
use crate::session::Session;

/// A console request that passed the guard: an active admin of this account, signed in.
pub struct Console {
    /// The application state.
    pub state: SharedState,
    /// Who is acting, as stored now.
    pub admin: ConsoleAdmin,
    /// Their session (its form token).
    pub session: Session,
    /// The account administered.
    pub tenant: Arc<Tenant>,
    /// The route's path parameters (`account`, `id`).
    params: HashMap<String, String>,
}

/// The sections of the navigation, by the path under `/{account}/admin`.
const SECTIONS: &[(&str, &str)] = &[
    ("home", ""),
    ("users", "/users"),
    ("domains", "/domains"),
    ("sso", "/sso"),
    ("traces", "/traces"),
    ("audit", "/audit"),
];

impl Console {
    /// The console's path `rest` (`""`, `/users`, ...) of this account.
    pub fn path(&self, rest: &str) -> String {
        format!("/{}/admin{rest}", self.tenant.account)
    }

    /// Renders console page `template` as section `section`, with the frame's values
    /// (account, the admin, the form token, the navigation) added to `data`.
    pub fn render(
        &self,
        status: StatusCode,
        template: &str,
        section: &str,
        data: Value,
    ) -> Response {
        let nav: Vec<Value> = SECTIONS
            .iter()
            .map(|(name, rest)| {
                json!({
                    "name": name,
                    "key": format!("console-nav-{name}"),
                    "url": self.path(rest),
                    "current": *name == section,
                })
            })
            .collect();
        let mut page = json!({
            "account": self.tenant.account,
            "tenant_name": self.tenant.name,
            "me": self.admin.user.email.as_str(),
            "csrf": self.session.csrf,
            "nav": nav,
            "section": section,
            "base": self.path(""),
        });
        if let (Value::Object(page), Value::Object(data)) = (&mut page, data) {
            page.extend(data);
        }
        (status, self.state.pages.render_value(template, page)).into_response()
    }

    /// The page for a refused or failed operation: the stable code and what to do, inside
    /// the console's frame, with a way back to `back` (a console path). A sign-in too old
    /// for the change gets the page that asks for a fresh one.
    pub fn problem(&self, err: WebError, back: &str) -> Response {
        err.log(Some(&self.tenant.account));
        let stale = matches!(err, WebError::Admin(AdminError::StaleSignIn { .. }));
        let again = sign_in_path(&self.tenant, back);
        self.render(
            err.status(),
            "console_problem",
            "",
            json!({
                "code": err.code(),
                "message_key": err.message_key().0,
                "details": operation_words(&err),
                "stale": stale,
                "sign_in_url": again,
                "fail_safe_url": self.tenant.sso.as_ref().map(|_| format!(
                    "/{}/no-sso?return_to={}", self.tenant.account, encode(back)
                )),
                "back_url": back,
            }),
        )
    }

    /// The user id of the route (`.../users/{id}/...`); a malformed one is no user.
    pub fn user_id(&self) -> Result<i64, WebError> {
        self.params
            .get("id")
            .and_then(|id| id.parse().ok())
            .ok_or(WebError::NotFound)
    }

    /// The route's path parameter `name` (`domain`, ...), when it has one.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params.get(name).cloned()
    }

    /// Checks a submitted form token against the session's.
    fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if self.session.csrf_matches(submitted) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    /// The file of a console upload (`multipart/form-data`: field `csrf`, then field
    /// `file`), its token checked before the file is read: a forged upload costs no
    /// parsing. The body is bounded by the gateway's request limit.
    async fn upload(
        &self,
        upload: Result<Multipart, MultipartRejection>,
    ) -> Result<Option<Bytes>, WebError> {
        let bad = |e: &dyn std::fmt::Display| WebError::BadRequest(format!("the upload: {e}"));
        let mut upload = upload.map_err(|e| bad(&e))?;
        let mut csrf = None;
        let mut file = None;
        while let Some(field) = upload.next_field().await.map_err(|e| bad(&e))? {
            match field.name() {
                Some("csrf") => csrf = Some(field.text().await.map_err(|e| bad(&e))?),
                Some("file") => {
                    self.check_csrf(csrf.as_deref().unwrap_or_default())?;
                    file = Some(field.bytes().await.map_err(|e| bad(&e))?);
                }
                _ => {}
            }
        }
        self.check_csrf(csrf.as_deref().unwrap_or_default())?;
        Ok(file)
    }
}

/// The account's sign-in, coming back to `back` (a path of this gateway) afterwards.
fn sign_in_path(tenant: &Tenant, back: &str) -> String {
    format!("/{}?return_to={}", tenant.account, encode(back))
}

impl FromRequestParts<SharedState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let pages = state.pages.clone();
        let Ok(Path(params)) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await
        else {
            return Err(PageError(WebError::NotFound, pages).into_response());
        };
        let account = params.get("account").cloned().unwrap_or_default();
        let session = match super::account::current(state, &parts.headers).await {
            Ok(Some(session)) => session,
            Ok(None) => {
                // The account's own sign-in (its IdP, or its password step), then back to
                // the page asked for: a GET comes back to itself, a form to its section.
                let tenant = match account_tenant(state, &account).await {
                    Ok(t) => t,
                    Err(e) => return Err(PageError(e, pages).into_response()),
                };
                let back = if parts.method == axum::http::Method::GET {
                    parts
                        .uri
                        .path_and_query()
                        .map_or_else(|| format!("/{account}/admin"), |p| p.as_str().to_string())
                } else {
                    format!("/{}/admin", tenant.account)
                };
                return Err(Redirect::to(&sign_in_path(&tenant, &back)).into_response());
            }
            Err(e) => return Err(PageError(e, pages).into_response()),
        };
        // Before the tenant is looked up: a session of another account learns nothing,
        // not even whether this one exists.
        let admin = match state.admin.users.console_admin(&session, &account).await {
            Ok(admin) => admin,
            Err(e) => {
                let err = WebError::Admin(e);
                err.log(Some(&session.account));
                return Err(denied(state, &err));
            }
        };
        let tenant = match account_tenant(state, &account).await {
            Ok(t) => t,
            Err(e) => return Err(PageError(e, pages).for_account(Some(&account))),
        };
        Ok(Console {
            state: state.clone(),
            admin,
            session,
            tenant,
            params,
        })
    }
}

/// What the console adds under the catalog's words for a refused operation: the
/// operation's own words (which value, which rule, every problem of a tenant check),
/// since the reader administers this account. Never a backend's internals.
fn operation_words(err: &WebError) -> Vec<String> {
    match err {
        WebError::Admin(AdminError::NotAdmin(_) | AdminError::StaleSignIn { .. }) => Vec::new(),
        WebError::Admin(AdminError::InvalidTenant(list) | AdminError::Taken(list)) => list.clone(),
        WebError::Admin(e)
            if matches!(
                e.kind(),
                crate::admin::ErrorKind::Invalid
                    | crate::admin::ErrorKind::Forbidden
                    | crate::admin::ErrorKind::Conflict
                    | crate::admin::ErrorKind::ManagedInFile
            ) =>
        {
            vec![e.to_string()]
        }
        _ => Vec::new(),
    }
}

/// The 403 page of someone who may not use this console.
fn denied(state: &SharedState, err: &WebError) -> Response {
    (
        err.status(),
        state.pages.render(
            "console_denied",
            &json!({"code": err.code(), "message": err.message_key().0}),
        ),
    )
        .into_response()
}

/// A console form: what every console POST but the CSV upload takes. Extracting it runs
/// the guard, reads the form, and checks its `csrf` field against the session's token,
/// so no handler can reach an operation with a forged request.
pub struct ConsoleForm<T> {
    /// The guarded request.
    pub console: Console,
    /// The form, its token checked.
    pub form: T,
}

/// A form carrying the console's CSRF token.
pub trait WithCsrf {
    /// The submitted token.
    fn csrf(&self) -> &str;
}

impl<T> FromRequest<SharedState> for ConsoleForm<T>
where
    T: DeserializeOwned + WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let back = console.path("");
        let req = Request::from_parts(parts, body);
        let form = match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(form)) => form,
            Err(e) => return Err(console.problem(WebError::BadRequest(e.body_text()), &back)),
        };
        if let Err(e) = console.check_csrf(form.csrf()) {
            return Err(console.problem(e, &back));
        }
        Ok(ConsoleForm { console, form })
    }
}

/// Implements [`WithCsrf`] for form structs with a `csrf: String` field.
macro_rules! with_csrf {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::console::WithCsrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use with_csrf;

/// A redirect after a change, to `path` with `done` (one of the page's fixed notices).
pub fn done(path: &str, done: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}done={done}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::SECTIONS;
    use crate::i18n::{Catalog, Lang};

    #[test]
    fn every_section_has_its_name_in_every_language() {
        for lang in Lang::ALL {
            let keys = Catalog::keys(lang);
            for (name, _) in SECTIONS {
                let key = format!("console-nav-{name}");
                assert!(keys.contains(&key), "{}: {key}", lang.tag());
            }
        }
    }
}

//! The Users section: the Waiting Room queue first (approve, deny with a reason), then
//! every user of the account with search, status filter and pages; add a user, disable or
//! enable, grant or remove admin rights, invite someone by mail, CSV import with its
//! per-line report. Each change is one call of [`crate::admin::Users`]; granting admin
//! rights (by hand, by invitation or through an import, whose `admin` column may grant
//! them) needs a recent sign-in.

use axum::extract::Query;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Console, ConsoleForm, done, with_csrf};
use crate::accounts::{Cursor, NewUser, Origin, Status, User, UserQuery, email_key};
use crate::admin::UserPatch;
use crate::discovery::Email;
use crate::i18n::Lang;
use crate::web::error::WebError;

/// Users on one page of the list (and of the Waiting Room queue).
pub const PAGE_SIZE: u32 = 50;

/// The list's query: every field text, so a malformed value is this page's clear error
/// rather than the framework's bare 400.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    /// Text in the email or name.
    q: Option<String>,
    /// `waiting`, `active`, `disabled`, or empty for all.
    status: Option<String>,
    /// Show the users after this login address (the "Next page" link).
    after: Option<String>,
    /// Show the users before this login address (the "Previous page" link).
    before: Option<String>,
    /// The notice of the change just made.
    done: Option<String>,
}

/// The notices a change redirects back with; anything else shows none.
const NOTICES: &[&str] = &[
    "added",
    "invited",
    "approved",
    "denied",
    "disabled",
    "enabled",
    "admin_granted",
    "admin_removed",
];

/// `GET /{account}/admin/users`.
pub async fn page(console: Console, query: Result<Query<ListQuery>, QueryRejection>) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return console.problem(WebError::BadRequest(e.body_text()), &console.path("")),
    };
    match list(&console, &query).await {
        Ok(data) => console.render(StatusCode::OK, "console_users", "users", data),
        Err(e) => console.problem(e, &console.path("")),
    }
}

async fn list(console: &Console, query: &ListQuery) -> Result<Value, WebError> {
    let status = match non_empty(&query.status) {
        None => None,
        Some(s) => Some(s.parse::<Status>().map_err(|_| {
            WebError::BadRequest(format!("status {s:?}: use waiting, active or disabled"))
        })?),
    };
    let cursor = match (non_empty(&query.after), non_empty(&query.before)) {
        (None, None) => None,
        (Some(a), None) => Some(Cursor::After(edge(a)?)),
        (None, Some(b)) => Some(Cursor::Before(edge(b)?)),
        (Some(_), Some(_)) => {
            return Err(WebError::BadRequest("after and before: give one".into()));
        }
    };
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let users = &console.state.admin.users;
    let account = &console.tenant.account;
    let waiting_query = UserQuery {
        status: Some(Status::Waiting),
        limit: PAGE_SIZE,
        ..UserQuery::default()
    };
    // One user more than the page shows tells whether there is a page beyond it.
    let list_query = UserQuery {
        status,
        search: search.map(str::to_string),
        limit: PAGE_SIZE + 1,
        cursor: cursor.clone(),
        ..UserQuery::default()
    };
    // Two independent reads, on two of the pool's connections at once.
    let (waiting, mut found) = tokio::try_join!(
        users.list(account, &waiting_query),
        users.list(account, &list_query)
    )?;
    let beyond = found.users.len() > PAGE_SIZE as usize;
    if beyond {
        match cursor {
            Some(Cursor::Before(_)) => drop(found.users.remove(0)),
            _ => found.users.truncate(PAGE_SIZE as usize),
        }
    }
    // Walking forward there is always a way back, and the reverse; the far side is known
    // from the extra user.
    let (has_prev, has_next) = match cursor {
        None => (false, beyond),
        Some(Cursor::After(_)) => (true, beyond),
        Some(Cursor::Before(_)) => (beyond, true),
    };
    let link = |edge: Option<(&str, &User)>| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = search {
            q.append_pair("q", s);
        }
        if let Some(s) = status {
            q.append_pair("status", s.as_str());
        }
        if let Some((side, user)) = edge {
            q.append_pair(side, &email_key(&user.email));
        }
        match q.finish() {
            q if q.is_empty() => console.path("/users"),
            q => format!("{}?{q}", console.path("/users")),
        }
    };
    let prev_url = has_prev
        .then(|| found.users.first().map(|u| link(Some(("before", u)))))
        .flatten();
    let next_url = has_next
        .then(|| found.users.last().map(|u| link(Some(("after", u)))))
        .flatten();
    let me = console.admin.user.id;
    let words = RowWords::new(console);
    let statuses: Vec<Value> = [Status::Active, Status::Waiting, Status::Disabled]
        .into_iter()
        .map(|s| json!({"value": s.as_str(), "selected": status == Some(s)}))
        .collect();
    Ok(json!({
        "waiting": waiting.users.iter().map(|u| words.row(u, me, WAITING_WHO)).collect::<Vec<_>>(),
        "waiting_total": waiting.total,
        "waiting_more": waiting.total > u64::from(PAGE_SIZE),
        "waiting_url": format!("{}?status=waiting", console.path("/users")),
        "users": found.users.iter().map(|u| words.row(u, me, LIST_WHO)).collect::<Vec<_>>(),
        "words": words.words,
        "total": found.total,
        "q": search,
        "status": status.map(Status::as_str),
        "statuses": statuses,
        "first_url": prev_url.as_ref().map(|_| link(None)),
        "prev_url": prev_url,
        "next_url": next_url,
        "done": query.done.as_deref().filter(|d| NOTICES.contains(d)),
        "sso": console.tenant.sso.is_some(),
    }))
}

/// A query field's text, when it has any.
fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

/// A page link's login address, as the store's key; longer than any address is an error.
fn edge(text: &str) -> Result<String, WebError> {
    if text.len() > MAX_EDGE {
        return Err(WebError::BadRequest(format!(
            "page edge of {} bytes",
            text.len()
        )));
    }
    Ok(text.to_lowercase())
}

/// The longest login address a page link names (RFC 5321's path limit).
const MAX_EDGE: usize = 256;

/// The rows' words, formatted once per page rather than by the template once per row
/// (100 rows of a dozen catalog look-ups were most of the page's time): the same words
/// for every row, and each button's accessible name, whose message names the user
/// (`$email`), as the text around the email.
struct RowWords<'a> {
    console: &'a Console,
    /// Template name → the words, for `{{../words.NAME}}`.
    words: Value,
    /// Row field → (message key, text before the email, text after it); the texts are
    /// `None` when the message does not name the email exactly once (then formatted per
    /// row).
    who: Vec<(&'static str, &'static str, Around)>,
}

/// A `…-who` message's text before and after the email, when it names it once.
type Around = Option<(String, String)>;

/// The words every row shows: (template name, message key).
const ROW_WORDS: &[(&str, &str)] = &[
    ("approve", "console-users-approve"),
    ("deny", "console-users-deny"),
    ("reason", "console-users-reason"),
    ("status_active", "console-status-active"),
    ("status_waiting", "console-status-waiting"),
    ("status_disabled", "console-status-disabled"),
    ("role_admin", "console-users-role-admin"),
    ("role_user", "console-users-role-user"),
    ("never", "console-users-never"),
    ("you", "console-users-you"),
    ("disable", "console-users-disable"),
    ("enable", "console-users-enable"),
    ("unadmin", "console-users-unadmin"),
    ("make_admin", "console-users-make-admin"),
];

/// The accessible names that name the row's user: (row field, message key).
const WHO_WORDS: &[(&str, &str)] = &[
    ("approve_who", "console-users-approve-who"),
    ("deny_who", "console-users-deny-who"),
    ("disable_who", "console-users-disable-who"),
    ("enable_who", "console-users-enable-who"),
    ("unadmin_who", "console-users-unadmin-who"),
    ("make_admin_who", "console-users-make-admin-who"),
];

/// The accessible names a Waiting Room row's buttons use, and those of a list row.
const WAITING_WHO: &[&str] = &["approve_who", "deny_who"];
const LIST_WHO: &[&str] = &["disable_who", "enable_who", "unadmin_who", "make_admin_who"];

/// Stands for the email while a `…-who` message is formatted once: a control character,
/// which neither an email nor a catalog text holds.
const EMAIL_MARK: &str = "\u{1}";

impl<'a> RowWords<'a> {
    fn new(console: &'a Console) -> Self {
        let pages = &console.state.pages;
        let words = ROW_WORDS
            .iter()
            .map(|(name, key)| (name.to_string(), Value::String(pages.message(key, &[]))))
            .collect::<serde_json::Map<_, _>>();
        let who = WHO_WORDS
            .iter()
            .map(|(field, key)| {
                let text = pages.message(key, &[("email", EMAIL_MARK.into())]);
                let around = match text.split(EMAIL_MARK).collect::<Vec<_>>()[..] {
                    [before, after] => Some((before.to_string(), after.to_string())),
                    _ => None,
                };
                (*field, *key, around)
            })
            .collect();
        Self {
            console,
            words: Value::Object(words),
            who,
        }
    }

    /// A user as the list shows them, with the accessible names `who` (of [`WHO_WORDS`])
    /// of the row's buttons.
    fn row(&self, u: &User, me: i64, who: &[&str]) -> Value {
        let email = u.email.as_str();
        let mut row = json!({
            "id": u.id,
            "email": email,
            "name": u.name,
            "status": u.status.as_str(),
            "active": u.status == Status::Active,
            "disabled": u.status == Status::Disabled,
            "admin": u.admin,
            "created": when(u.created_at),
            "last_login": u.last_login_at.map(when),
            "me": u.id == me,
        });
        if let Value::Object(row) = &mut row {
            let status = &self.words[format!("status_{}", u.status.as_str())];
            row.insert("status_label".into(), status.clone());
            let fields = self.who.iter().filter(|(field, ..)| who.contains(field));
            for (field, key, around) in fields {
                let text = match around {
                    Some((before, after)) => format!("{before}{email}{after}"),
                    None => self
                        .console
                        .state
                        .pages
                        .message(key, &[("email", email.into())]),
                };
                row.insert(field.to_string(), Value::String(text));
            }
        }
        row
    }
}

/// A time as the pages print it.
fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The add-user form.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    /// A checkbox: present when ticked.
    admin: Option<String>,
}

/// A Waiting Room denial.
#[derive(Debug, Deserialize)]
pub struct DenyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Enable or disable.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
}

/// Grant or remove admin rights.
#[derive(Debug, Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    admin: String,
}

/// A form of one button: only the token.
#[derive(Debug, Deserialize)]
pub struct ButtonForm {
    #[serde(default)]
    csrf: String,
}

with_csrf!(AddForm, DenyForm, StatusForm, AdminForm, ButtonForm);

/// Answers a change: back to the list with its notice, or the problem page.
fn answer(console: &Console, result: Result<&'static str, WebError>) -> Response {
    let back = console.path("/users");
    match result {
        Ok(notice) => done(&back, notice),
        Err(e) => console.problem(e, &back),
    }
}

/// `POST /{account}/admin/users`: a user without a password (they sign in with SSO, or
/// are sent a link); granting admin rights at once needs a recent sign-in.
pub async fn add(ConsoleForm { console, form }: ConsoleForm<AddForm>) -> Response {
    let result = async {
        let admin = form.admin.is_some();
        if admin {
            console.admin.require_recent_sign_in(Utc::now())?;
        }
        let email = Email::parse(form.email.trim())?;
        let mut new = NewUser::new(&console.tenant.account, email, Origin::Cli, Utc::now());
        new.name = form.name.trim().to_string();
        new.admin = admin;
        console
            .state
            .admin
            .users
            .create(&console.admin.actor(), &console.tenant, new, None)
            .await?;
        Ok("added")
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/users/invite`: the invite operation (the user without a
/// password when new, and the invitation mail: where to sign in, or a set-password link
/// for a password account); an administrator invited as such needs a recent sign-in.
pub async fn invite(ConsoleForm { console, form }: ConsoleForm<AddForm>) -> Response {
    let result = async {
        let admin = form.admin.is_some();
        if admin {
            console.admin.require_recent_sign_in(Utc::now())?;
        }
        let email = Email::parse(form.email.trim())?;
        let mut new = NewUser::new(&console.tenant.account, email, Origin::Cli, Utc::now());
        new.name = form.name.trim().to_string();
        new.admin = admin;
        let actor = console.admin.actor();
        let users = &console.state.admin.users;
        // The invitee's language is not known before a sign-in of theirs: the default.
        let user = users
            .invite(&actor, &console.tenant, new, Lang::default())
            .await?;
        // An existing user keeps their record on an invitation: the flag is granted apart.
        if admin && !user.admin {
            let patch = UserPatch {
                admin: Some(true),
                ..UserPatch::default()
            };
            users
                .patch(&actor, &console.tenant.account, user.id, &patch)
                .await?;
        }
        Ok("invited")
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/users/{id}/approve`.
pub async fn approve(ConsoleForm { console, .. }: ConsoleForm<ButtonForm>) -> Response {
    let result = async {
        let id = console.user_id()?;
        let actor = console.admin.actor();
        let users = &console.state.admin.users;
        users.approve(&actor, &console.tenant.account, id).await?;
        console.state.forget_user_status(id).await;
        Ok("approved")
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/users/{id}/deny`.
pub async fn deny(ConsoleForm { console, form }: ConsoleForm<DenyForm>) -> Response {
    let result = async {
        let id = console.user_id()?;
        let actor = console.admin.actor();
        let users = &console.state.admin.users;
        users
            .deny(&actor, &console.tenant.account, id, Some(&form.reason))
            .await?;
        console.state.forget_user_status(id).await;
        Ok("denied")
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/users/{id}/status`: `active` or `disabled`. Disabling ends the
/// user's sessions, as through the API.
pub async fn set_status(ConsoleForm { console, form }: ConsoleForm<StatusForm>) -> Response {
    let result = async {
        let id = console.user_id()?;
        let (status, notice) = match form.status.as_str() {
            "active" => (Status::Active, "enabled"),
            "disabled" => (Status::Disabled, "disabled"),
            other => {
                return Err(WebError::BadRequest(format!(
                    "status {other:?}: use active or disabled"
                )));
            }
        };
        let patch = UserPatch {
            status: Some(status),
            ..UserPatch::default()
        };
        let actor = console.admin.actor();
        let users = &console.state.admin.users;
        users
            .patch(&actor, &console.tenant.account, id, &patch)
            .await?;
        console.state.forget_user_status(id).await;
        Ok(notice)
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/users/{id}/admin`: `true` grants admin rights, `false` removes
/// them; both need a recent sign-in.
pub async fn set_admin(ConsoleForm { console, form }: ConsoleForm<AdminForm>) -> Response {
    let result = async {
        let id = console.user_id()?;
        let (admin, notice) = match form.admin.as_str() {
            "true" => (true, "admin_granted"),
            "false" => (false, "admin_removed"),
            other => {
                return Err(WebError::BadRequest(format!(
                    "admin {other:?}: use true or false"
                )));
            }
        };
        console.admin.require_recent_sign_in(Utc::now())?;
        let patch = UserPatch {
            admin: Some(admin),
            ..UserPatch::default()
        };
        let actor = console.admin.actor();
        let users = &console.state.admin.users;
        users
            .patch(&actor, &console.tenant.account, id, &patch)
            .await?;
        Ok(notice)
    }
    .await;
    answer(&console, result)
}

/// `POST /{account}/admin/users/import`: a console upload ([`Console::upload`]) of the
/// CLI's CSV, answered with the per-line report.
pub async fn import(console: Console, upload: Result<Multipart, MultipartRejection>) -> Response {
    let back = console.path("/users");
    match import_upload(&console, upload).await {
        Ok(data) => console.render(StatusCode::OK, "console_import", "users", data),
        Err(e) => console.problem(e, &back),
    }
}

async fn import_upload(
    console: &Console,
    upload: Result<Multipart, MultipartRejection>,
) -> Result<Value, WebError> {
    let file = console.upload(upload).await?;
    // The file's admin column may grant admin rights.
    console.admin.require_recent_sign_in(Utc::now())?;
    let file = file.ok_or_else(|| WebError::BadRequest("no file was chosen".into()))?;
    let text = std::str::from_utf8(&file).map_err(|_| {
        crate::admin::AdminError::from(crate::accounts::AccountsError::Import(
            "the CSV is not UTF-8".into(),
        ))
    })?;
    let tenant = &console.tenant;
    let owner = |e: &Email| {
        tenant
            .owns_domain(e.domain())
            .then(|| tenant.account.clone())
    };
    let summary = console
        .state
        .admin
        .users
        .import(
            &console.admin.actor(),
            "console",
            text,
            &owner,
            Some(&tenant.account),
        )
        .await?;
    Ok(json!({
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "errors": summary.errors,
        "users_url": console.path("/users"),
    }))
}

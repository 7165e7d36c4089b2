//! `/Users`: the SCIM view of realmgate's users, and every write through the user
//! operations (`admin::users`), which check the tenant's domains and audit the change.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;

use super::query::{ListQuery, MAX_SCAN, list_query, matched};
use super::{Provisioner, ScimFailure, answer, created};
use crate::accounts::{NewUser, Origin, Status, User, UserQuery};
use crate::admin::{self, UserPatch};
use crate::discovery::Email;
use crate::scim::documents::MAX_RESULTS;
use crate::scim::{Filter, Lookup, Page, Patch, ScimError, ScimUser, UserFacts};
use crate::web::state::SharedState;

/// The SCIM view of a stored user. A Waiting Room user is not `active`: Entra shows them
/// as not yet enabled. realmgate keeps no change time of a user, so `meta.lastModified`
/// is the creation time.
fn user_view(u: &User, base: &str) -> ScimUser {
    ScimUser::from_facts(
        &UserFacts {
            id: u.id.to_string(),
            email: u.email.as_str().to_string(),
            name: u.name.clone(),
            name_parts: u.name_parts.clone(),
            emails: u.emails.clone(),
            active: u.status == Status::Active,
            external_id: u.external_id.clone(),
            created: u.created_at,
            last_modified: u.created_at,
        },
        base,
    )
}

fn user_id(id: &str) -> Result<i64, ScimError> {
    id.parse()
        .map_err(|_| ScimError::NotFound(format!("Users/{id}")))
}

/// `userName` as a login address: the tenant's domain rule is the user operations'.
fn user_name(text: &str) -> Result<Email, ScimError> {
    Email::parse(text).map_err(|e| {
        ScimError::InvalidValue(format!("userName {text:?} is not an email address: {e}"))
    })
}

/// `GET /Users`: `userName eq` and `externalId eq` are answered by the store's indexes,
/// other filters by a scan of at most [`MAX_SCAN`] users.
pub async fn list_users(
    State(state): State<SharedState>,
    who: Provisioner,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    users_listing(&state, &who, list_query(q)?).await
}

/// `POST /Users/.search`: the same query, from a SearchRequest body.
pub async fn search_users(
    State(state): State<SharedState>,
    who: Provisioner,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    users_listing(&state, &who, ListQuery::searched(&body)?).await
}

async fn users_listing(
    state: &SharedState,
    who: &Provisioner,
    q: ListQuery,
) -> Result<Response, ScimFailure> {
    let page = Page::new(q.start_index, q.count, MAX_RESULTS);
    let filter = q.filter.as_deref().map(Filter::parse).transpose()?;
    let mut query = UserQuery {
        limit: page.count.try_into().unwrap_or(u32::MAX),
        offset: (page.start_index - 1).try_into().unwrap_or(u64::MAX),
        ..UserQuery::default()
    };
    match filter.as_ref().map(|f| (f, f.lookup())) {
        Some((_, Some(Lookup::UserName(name)))) => match Email::parse(name) {
            Ok(email) => query.email = Some(email),
            Err(_) => return Ok(q.listed(page.envelope(0, Vec::<ScimUser>::new()))),
        },
        Some((_, Some(Lookup::ExternalId(id)))) => query.external_id = Some(id.to_string()),
        Some((f, None)) => {
            let matches = scan_users(state, who, Some(f)).await?;
            return Ok(q.listed(page.list(&matches)));
        }
        None => {}
    }
    let found = state.admin.users.list(&who.tenant.account, &query).await?;
    let views = found
        .users
        .iter()
        .map(|u| user_view(u, &who.base))
        .collect();
    Ok(q.listed(page.envelope(found.total.try_into().unwrap_or(usize::MAX), views)))
}

/// Every user of the account that `filter` matches (all without one), by a scan of at most
/// [`MAX_SCAN`] users.
pub(super) async fn scan_users(
    state: &SharedState,
    who: &Provisioner,
    filter: Option<&Filter>,
) -> Result<Vec<ScimUser>, ScimFailure> {
    let mut matches = Vec::new();
    let mut scan = UserQuery {
        limit: admin::users::MAX_PAGE,
        ..UserQuery::default()
    };
    loop {
        let found = state.admin.users.list(&who.tenant.account, &scan).await?;
        if found.total > MAX_SCAN {
            return Err(ScimError::TooMany(format!(
                "this filter is evaluated over every user and the account has more \
                 than {MAX_SCAN}: filter by userName eq or externalId eq"
            ))
            .into());
        }
        let n = found.users.len() as u64;
        matches.extend(
            found
                .users
                .iter()
                .map(|u| user_view(u, &who.base))
                .filter(|v| matched(filter, v)),
        );
        scan.offset += n;
        if n == 0 || scan.offset >= found.total {
            break;
        }
    }
    Ok(matches)
}

/// `POST /Users`: a pre-provisioned user, who is bound to the IdP subject at their first
/// SSO login as any user made by hand.
pub async fn create_user(
    State(state): State<SharedState>,
    who: Provisioner,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let sent = ScimUser::parse_new(&body)?;
    let change = sent.facts_change();
    let users = &state.admin.users;
    let actor = who.caller.actor();
    let account = &who.tenant.account;
    if let Some(external_id) = &change.external_id {
        external_id_free(&state, account, external_id, None).await?;
    }
    let mut new = NewUser::new(account, user_name(&change.email)?, Origin::Scim, Utc::now());
    new.name = sent.full_name();
    new.name_parts = change.name_parts;
    new.emails = change.emails;
    if !change.active {
        new.status = Status::Disabled;
    }
    let mut user = users.create(&actor, &who.tenant, new, None).await?;
    if change.external_id.is_some() {
        let patch = UserPatch {
            external_id: Some(change.external_id),
            ..UserPatch::default()
        };
        user = match users.patch(&actor, account, user.id, &patch).await {
            Ok(user) => user,
            Err(e) => {
                // Another request took the externalId since the check: undo the create
                // so a retry of this one can succeed.
                users.delete(&actor, account, user.id).await?;
                return Err(e.into());
            }
        };
    }
    let view = user_view(&user, &who.base);
    let location = view.meta.as_ref().and_then(|m| m.location.clone());
    Ok(created(&view, location.as_deref()))
}

/// 409 `uniqueness` when a user of `account` other than `except` has `external_id`.
async fn external_id_free(
    state: &SharedState,
    account: &str,
    external_id: &str,
    except: Option<i64>,
) -> Result<(), ScimFailure> {
    let query = UserQuery {
        external_id: Some(external_id.to_string()),
        limit: 2,
        ..UserQuery::default()
    };
    let found = state.admin.users.list(account, &query).await?;
    if found.users.iter().any(|u| Some(u.id) != except) {
        return Err(ScimError::Uniqueness(format!("externalId {external_id:?}")).into());
    }
    Ok(())
}

/// `GET /Users/{id}`.
pub async fn get_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    let q = list_query(q)?;
    let user = state
        .admin
        .users
        .get(&who.tenant.account, user_id(&id)?)
        .await?;
    Ok(answer(
        StatusCode::OK,
        &q.project(&user_view(&user, &who.base)),
    ))
}

/// `PUT /Users/{id}`: the whole user as sent.
pub async fn put_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let target = ScimUser::parse_new(&body)?;
    let before = state
        .admin
        .users
        .get(&who.tenant.account, user_id(&id)?)
        .await?;
    write_user(&state, &who, before, target).await
}

/// `PATCH /Users/{id}`, in Entra's shapes as the core accepts them.
pub async fn patch_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let patch = Patch::parse(&body)?;
    let before = state
        .admin
        .users
        .get(&who.tenant.account, user_id(&id)?)
        .await?;
    let target = patch.apply_user(user_view(&before, &who.base))?.checked()?;
    write_user(&state, &who, before, target).await
}

/// Makes `before` what `target` says, through the user operations. `active: true` on a
/// Waiting Room user approves them: Entra provisions a person because the customer's
/// administrator assigned them to the app, which is the approval the Waiting Room waits
/// for. `active: false` disables a waiting or active user.
async fn write_user(
    state: &SharedState,
    who: &Provisioner,
    before: User,
    target: ScimUser,
) -> Result<Response, ScimFailure> {
    let change = target.facts_change();
    let users = &state.admin.users;
    let actor = who.caller.actor();
    let account = &who.tenant.account;
    let email = user_name(&change.email)?;
    // Whether the client changed `emails` is judged against what it read: a rename alone
    // carries the old address's entry over (`accounts::rename`), which is not a change.
    let emails_sent = change.emails != before.emails;
    let before = if email.as_str() == before.email.as_str() {
        before
    } else {
        users.rename(&actor, &who.tenant, before.id, &email).await?
    };
    let mut patch = UserPatch::default();
    if change.name != before.name {
        patch.name = Some(change.name);
    }
    if change.name_parts != before.name_parts {
        patch.name_parts = Some(change.name_parts);
    }
    if emails_sent && change.emails != before.emails {
        patch.emails = Some(change.emails);
    }
    if change.external_id != before.external_id {
        if let Some(external_id) = &change.external_id {
            external_id_free(state, account, external_id, Some(before.id)).await?;
        }
        patch.external_id = Some(change.external_id);
    }
    let approve = change.active && before.status == Status::Waiting;
    match (change.active, before.status) {
        (true, Status::Disabled) => patch.status = Some(Status::Active),
        (false, Status::Active | Status::Waiting) => patch.status = Some(Status::Disabled),
        _ => {}
    }
    let mut after = before;
    let changed = patch.name.is_some()
        || patch.name_parts.is_some()
        || patch.emails.is_some()
        || patch.external_id.is_some()
        || patch.status.is_some();
    if changed {
        after = users.patch(&actor, account, after.id, &patch).await?;
    }
    if approve {
        after = users.approve(&actor, account, after.id).await?;
    }
    state.forget_user_status(after.id).await;
    Ok(answer(StatusCode::OK, &user_view(&after, &who.base)))
}

/// `DELETE /Users/{id}`.
pub async fn delete_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ScimFailure> {
    let id = user_id(&id)?;
    state
        .admin
        .users
        .delete(&who.caller.actor(), &who.tenant.account, id)
        .await?;
    state.forget_user_status(id).await;
    Ok(StatusCode::NO_CONTENT)
}

//! `/Groups`: accepted, listed and kept (`admin::groups`) so Entra's group assignment does
//! not fail; a group grants nothing in realmgate.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::query::{ListQuery, MAX_SCAN, list_query, matched};
use super::{Provisioner, ScimFailure, answer, created};
use crate::admin::{self, Group, GroupPatch};
use crate::scim::documents::MAX_RESULTS;
use crate::scim::resource::{self, GROUP_SCHEMA};
use crate::scim::{Filter, Page, Patch, ScimError, ScimGroup};
use crate::web::state::SharedState;

/// The SCIM view of a stored group.
fn group_view(g: &Group, base: &str) -> ScimGroup {
    ScimGroup {
        schemas: vec![GROUP_SCHEMA.into()],
        id: None,
        external_id: g.external_id.clone(),
        display_name: g.display_name.clone(),
        members: g
            .members
            .iter()
            .map(|m| resource::Member {
                value: m.value.clone(),
                display: m.display.clone(),
            })
            .collect(),
        meta: None,
    }
    .stored(&g.id, base, g.created_at, g.updated_at)
}

fn members(group: &ScimGroup) -> Vec<admin::Member> {
    group
        .members
        .iter()
        .map(|m| admin::Member {
            value: m.value.clone(),
            display: m.display.clone(),
        })
        .collect()
}

/// `GET /Groups`: without a filter paged by the store; with one, a scan of at most
/// [`MAX_SCAN`] groups (Entra asks `displayName eq` before creating a group).
pub async fn list_groups(
    State(state): State<SharedState>,
    who: Provisioner,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    groups_listing(&state, &who, list_query(q)?).await
}

/// `POST /Groups/.search`: the same query, from a SearchRequest body.
pub async fn search_groups(
    State(state): State<SharedState>,
    who: Provisioner,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    groups_listing(&state, &who, ListQuery::searched(&body)?).await
}

async fn groups_listing(
    state: &SharedState,
    who: &Provisioner,
    q: ListQuery,
) -> Result<Response, ScimFailure> {
    let page = Page::new(q.start_index, q.count, MAX_RESULTS);
    let Some(filter) = q.filter.as_deref().map(Filter::parse).transpose()? else {
        let (found, total) = state
            .admin
            .groups
            .list(
                &who.tenant.account,
                None,
                page.count.try_into().unwrap_or(u32::MAX),
                (page.start_index - 1).try_into().unwrap_or(u64::MAX),
            )
            .await?;
        let views = found.iter().map(|g| group_view(g, &who.base)).collect();
        return Ok(q.listed(page.envelope(total.try_into().unwrap_or(usize::MAX), views)));
    };
    let matches = scan_groups(state, who, Some(&filter)).await?;
    Ok(q.listed(page.list(&matches)))
}

/// Every group of the account that `filter` matches (all without one), by a scan of at
/// most [`MAX_SCAN`] groups.
pub(super) async fn scan_groups(
    state: &SharedState,
    who: &Provisioner,
    filter: Option<&Filter>,
) -> Result<Vec<ScimGroup>, ScimFailure> {
    let mut matches = Vec::new();
    let mut offset = 0;
    loop {
        let (found, total) = state
            .admin
            .groups
            .list(&who.tenant.account, None, admin::groups::MAX_PAGE, offset)
            .await?;
        if total > MAX_SCAN {
            return Err(ScimError::TooMany(format!(
                "the account has more than {MAX_SCAN} groups to filter"
            ))
            .into());
        }
        let n = found.len() as u64;
        matches.extend(
            found
                .iter()
                .map(|g| group_view(g, &who.base))
                .filter(|v| matched(filter, v)),
        );
        offset += n;
        if n == 0 || offset >= total {
            break;
        }
    }
    Ok(matches)
}

/// `POST /Groups`.
pub async fn create_group(
    State(state): State<SharedState>,
    who: Provisioner,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let group = ScimGroup::parse_new(&body)?;
    let stored = state
        .admin
        .groups
        .create(
            &who.caller.actor(),
            &who.tenant.account,
            &group.display_name,
            group.external_id.as_deref(),
            members(&group),
        )
        .await?;
    let view = group_view(&stored, &who.base);
    let location = view.meta.as_ref().and_then(|m| m.location.clone());
    Ok(created(&view, location.as_deref()))
}

/// `GET /Groups/{id}`.
pub async fn get_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    let q = list_query(q)?;
    let group = state.admin.groups.get(&who.tenant.account, &id).await?;
    Ok(answer(
        StatusCode::OK,
        &q.project(&group_view(&group, &who.base)),
    ))
}

/// `PUT /Groups/{id}`: the whole group as sent.
pub async fn put_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let target = ScimGroup::parse_new(&body)?;
    let after = write_group(&state, &who, &id, target).await?;
    Ok(answer(StatusCode::OK, &group_view(&after, &who.base)))
}

/// `PATCH /Groups/{id}`: Entra's member additions and removals, answered 204 without a
/// body (RFC 7644 §3.5.2 allows it; Microsoft asks for it, since a large group's members
/// are not worth sending back on every change).
pub async fn patch_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ScimFailure> {
    let patch = Patch::parse(&body)?;
    let before = state.admin.groups.get(&who.tenant.account, &id).await?;
    let target = patch
        .apply_group(group_view(&before, &who.base))?
        .checked()?;
    write_group(&state, &who, &id, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn write_group(
    state: &SharedState,
    who: &Provisioner,
    id: &str,
    target: ScimGroup,
) -> Result<Group, ScimFailure> {
    let patch = GroupPatch {
        display_name: Some(target.display_name.clone()),
        external_id: Some(target.external_id.clone()),
        members: Some(members(&target)),
        ..GroupPatch::default()
    };
    let after = state
        .admin
        .groups
        .patch(&who.caller.actor(), &who.tenant.account, id, &patch)
        .await?;
    Ok(after)
}

/// `DELETE /Groups/{id}`.
pub async fn delete_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ScimFailure> {
    state
        .admin
        .groups
        .delete(&who.caller.actor(), &who.tenant.account, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

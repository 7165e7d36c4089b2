//! The query of a list (RFC 7644 §3.4.2): `filter`, paging, and the attribute selection,
//! from the URL of a `GET` or the body of a `POST /.search` (§3.4.3), and the root search
//! over users and groups alike.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::groups::scan_groups;
use super::users::scan_users;
use super::{Provisioner, ScimFailure, answer};
use crate::scim::documents::MAX_RESULTS;
use crate::scim::resource;
use crate::scim::search::SearchRequest;
use crate::scim::{Filter, Page, ScimError};
use crate::web::state::SharedState;

/// Most users or groups a filter the store cannot answer by an index may scan: such a
/// filter is evaluated over every resource of the account, so it is bounded like the
/// filter itself.
pub(super) const MAX_SCAN: u64 = 10_000;

/// The query of a list or a read (RFC 7644 §3.4.2); a read takes only the attribute
/// selection.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub(super) filter: Option<String>,
    pub(super) start_index: Option<i64>,
    pub(super) count: Option<i64>,
    pub(super) attributes: Option<String>,
    pub(super) excluded_attributes: Option<String>,
}

impl ListQuery {
    /// The query a `/.search` body asks (RFC 7644 §3.4.3): the same parameters as `GET`,
    /// attribute lists as arrays.
    pub(super) fn searched(body: &[u8]) -> Result<Self, ScimFailure> {
        let r = SearchRequest::parse(body)?;
        let list = |names: Vec<String>| (!names.is_empty()).then(|| names.join(","));
        Ok(Self {
            filter: r.filter,
            start_index: r.start_index,
            count: r.count,
            attributes: list(r.attributes),
            excluded_attributes: list(r.excluded_attributes),
        })
    }

    /// `resource` with only the attributes asked for (RFC 7644 §3.4.2.5): `attributes`
    /// keeps the named ones, `excludedAttributes` drops them; `id` and `schemas` are
    /// always returned. Names are case-insensitive; `name.givenName` selects within
    /// `name`.
    pub(super) fn project<T: Serialize>(&self, resource: &T) -> Value {
        let mut v = serde_json::to_value(resource).unwrap_or(Value::Null);
        let Value::Object(map) = &mut v else {
            return v;
        };
        let names = |list: &Option<String>| -> Vec<(String, Option<String>)> {
            list.iter()
                .flat_map(|l| l.split(','))
                .map(|n| {
                    let n = n.trim().to_ascii_lowercase();
                    let n = n
                        .rsplit_once(':')
                        .map_or(n.as_str(), |(_, a)| a)
                        .to_string();
                    match n.split_once('.') {
                        Some((a, sub)) => (a.to_string(), Some(sub.to_string())),
                        None => (n, None),
                    }
                })
                .filter(|(a, _)| !a.is_empty())
                .collect()
        };
        let always = |k: &str| k == "id" || k == "schemas";
        let wanted = names(&self.attributes);
        if !wanted.is_empty() {
            map.retain(|k, _| {
                let k = k.to_ascii_lowercase();
                always(&k) || wanted.iter().any(|(a, _)| *a == k)
            });
        }
        for (attr, sub) in names(&self.excluded_attributes) {
            let key = map.keys().find(|k| k.eq_ignore_ascii_case(&attr)).cloned();
            let Some(key) = key.filter(|k| !always(k)) else {
                continue;
            };
            match (sub, map.get_mut(&key)) {
                (None, _) => {
                    map.remove(&key);
                }
                (Some(sub), Some(Value::Object(inner))) => {
                    inner.retain(|k, _| !k.eq_ignore_ascii_case(&sub));
                }
                _ => {}
            }
        }
        v
    }

    /// The envelope of `page` with each resource projected.
    pub(super) fn listed<T: Serialize>(&self, list: resource::ListResponse<T>) -> Response {
        let resources: Vec<Value> = list.resources.iter().map(|r| self.project(r)).collect();
        answer(
            StatusCode::OK,
            &resource::ListResponse {
                schemas: list.schemas,
                total_results: list.total_results,
                start_index: list.start_index,
                items_per_page: list.items_per_page,
                resources,
            },
        )
    }
}

pub(super) fn list_query(
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<ListQuery, ScimFailure> {
    q.map(|Query(q)| q)
        .map_err(|e| ScimError::InvalidValue(e.body_text()).into())
}

/// Whether `filter` (none: everything) matches the JSON of `resource`.
pub(super) fn matched<T: Serialize>(filter: Option<&Filter>, resource: &T) -> bool {
    filter.is_none_or(|f| serde_json::to_value(resource).is_ok_and(|j| f.matches(&j)))
}

/// `POST /.search` at the SCIM root: users and groups alike (RFC 7644 §3.4.3), users first,
/// each type scanned as its filtered `GET` would be.
pub async fn search_all(
    State(state): State<SharedState>,
    who: Provisioner,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let q = ListQuery::searched(&body)?;
    let page = Page::new(q.start_index, q.count, MAX_RESULTS);
    let filter = q.filter.as_deref().map(Filter::parse).transpose()?;
    let users = scan_users(&state, &who, filter.as_ref()).await?;
    let groups = scan_groups(&state, &who, filter.as_ref()).await?;
    let all: Vec<Value> = users
        .iter()
        .map(|u| serde_json::to_value(u).unwrap_or(Value::Null))
        .chain(
            groups
                .iter()
                .map(|g| serde_json::to_value(g).unwrap_or(Value::Null)),
        )
        .collect();
    Ok(q.listed(page.list(&all)))
}

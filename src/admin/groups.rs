//! SCIM groups, accepted and listed only: Microsoft Entra assigns groups to the app and
//! fails the provisioning cycle when the app refuses them, but a group grants nothing in
//! realmgate. Members are kept as sent (SCIM member objects) and are not checked against
//! the users: a member entry reaches no user of any account.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Actor, AdminError, record, stored_now};
use crate::accounts::Pool;
use crate::accounts::sql::with_pool;
use crate::audit::AuditLog;

/// One member as SCIM sends it: the member's id, and maybe its display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's SCIM id.
    pub value: String,
    /// Display name, when the client sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A group of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Random id (SCIM `id`).
    pub id: String,
    /// Tenant slug.
    pub account: String,
    /// SCIM `displayName`.
    pub display_name: String,
    /// The client's id for the group.
    pub external_id: Option<String>,
    /// Members, in the order they were added.
    pub members: Vec<Member>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Group {
    fn json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "display_name": self.display_name,
            "external_id": self.external_id,
            "members": self.members,
        })
    }
}

/// A change of one group; SCIM PATCH's `add`, `remove` and `replace` map onto it.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New external id; `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// Replaces every member (applied before `add` and `remove`).
    pub members: Option<Vec<Member>>,
    /// Members to add (one already there is not added twice).
    pub add: Vec<Member>,
    /// Member ids to remove.
    pub remove: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    account: String,
    display_name: String,
    external_id: Option<String>,
    members: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<GroupRow> for Group {
    type Error = AdminError;

    fn try_from(r: GroupRow) -> Result<Self, Self::Error> {
        let members = serde_json::from_str(&r.members)
            .map_err(|e| AdminError::Corrupt(format!("group {}: members: {e}", r.id)))?;
        Ok(Self {
            id: r.id,
            account: r.account,
            display_name: r.display_name,
            external_id: r.external_id,
            members,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

macro_rules! columns {
    () => {
        "id, account, display_name, external_id, members, created_at, updated_at"
    };
}
const INSERT: &str = concat!(
    "INSERT INTO scim_groups (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
);
const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM scim_groups WHERE account = $1 AND id = $2"
);
const SELECT_PAGE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM scim_groups WHERE account = $1 AND ($2 IS NULL OR display_name = $2)",
    " ORDER BY display_name, id LIMIT $3 OFFSET $4"
);
const COUNT_PAGE: &str =
    "SELECT COUNT(*) FROM scim_groups WHERE account = $1 AND ($2 IS NULL OR display_name = $2)";
const UPDATE: &str = "UPDATE scim_groups SET display_name = $1, external_id = $2, members = $3, \
     updated_at = $4 WHERE account = $5 AND id = $6";
const DELETE: &str = "DELETE FROM scim_groups WHERE account = $1 AND id = $2";

/// Most groups one [`Groups::list`] page holds.
pub const MAX_PAGE: u32 = 500;

/// The group table.
#[derive(Clone, Debug)]
pub struct Groups {
    pool: Pool,
    audit: AuditLog,
}

fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() {
        return Err(AdminError::Invalid("a group needs a displayName".into()));
    }
    Ok(())
}

fn members_json(members: &[Member]) -> String {
    json!(members).to_string()
}

impl Groups {
    /// The groups in `pool`, recording changes in `audit`.
    pub fn new(pool: Pool, audit: AuditLog) -> Self {
        Self { pool, audit }
    }

    /// Creates a group of `account`.
    pub async fn create(
        &self,
        actor: &Actor,
        account: &str,
        display_name: &str,
        external_id: Option<&str>,
        members: Vec<Member>,
    ) -> Result<Group, AdminError> {
        check_name(display_name)?;
        let now = stored_now();
        let group = Group {
            id: uuid::Uuid::new_v4().to_string(),
            account: account.to_string(),
            display_name: display_name.to_string(),
            external_id: external_id.map(str::to_string),
            members,
            created_at: now,
            updated_at: now,
        };
        let members = members_json(&group.members);
        with_pool!(self, p => sqlx::query(INSERT)
            .bind(&group.id)
            .bind(account)
            .bind(&group.display_name)
            .bind(group.external_id.as_deref())
            .bind(&members)
            .bind(now)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        record(
            &self.audit,
            actor,
            Some(account),
            "group_added",
            &group.id,
            None,
            Some(group.json()),
        )
        .await?;
        Ok(group)
    }

    /// The group `id` of `account`; another account's is [`AdminError::NotFound`].
    pub async fn get(&self, account: &str, id: &str) -> Result<Group, AdminError> {
        let row: Option<GroupRow> = with_pool!(self, p => sqlx::query_as::<_, GroupRow>(SELECT_ONE)
            .bind(account)
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.ok_or_else(|| AdminError::NotFound(format!("group {id} in account {account}")))?
            .try_into()
    }

    /// One page of `account`'s groups (optionally of one display name) and the total.
    pub async fn list(
        &self,
        account: &str,
        display_name: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Group>, u64), AdminError> {
        let limit = i64::from(limit.min(MAX_PAGE));
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let (rows, total): (Vec<GroupRow>, i64) = with_pool!(self, p => {
            let rows = sqlx::query_as::<_, GroupRow>(SELECT_PAGE)
                .bind(account)
                .bind(display_name)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?;
            let total: i64 = sqlx::query_scalar(COUNT_PAGE)
                .bind(account)
                .bind(display_name)
                .fetch_one(p)
                .await?;
            (rows, total)
        });
        let groups = rows
            .into_iter()
            .map(Group::try_from)
            .collect::<Result<_, _>>()?;
        Ok((groups, u64::try_from(total).unwrap_or(0)))
    }

    /// Applies `patch` to the group `id` of `account`.
    pub async fn patch(
        &self,
        actor: &Actor,
        account: &str,
        id: &str,
        patch: &GroupPatch,
    ) -> Result<Group, AdminError> {
        let before = self.get(account, id).await?;
        let mut after = before.clone();
        if let Some(name) = &patch.display_name {
            check_name(name)?;
            after.display_name = name.clone();
        }
        if let Some(external_id) = &patch.external_id {
            after.external_id = external_id.clone();
        }
        if let Some(members) = &patch.members {
            after.members = members.clone();
        }
        for member in &patch.add {
            if !after.members.iter().any(|m| m.value == member.value) {
                after.members.push(member.clone());
            }
        }
        after.members.retain(|m| !patch.remove.contains(&m.value));
        after.updated_at = stored_now();
        let members = members_json(&after.members);
        with_pool!(self, p => sqlx::query(UPDATE)
            .bind(&after.display_name)
            .bind(after.external_id.as_deref())
            .bind(&members)
            .bind(after.updated_at)
            .bind(account)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        record(
            &self.audit,
            actor,
            Some(account),
            "group_changed",
            id,
            Some(before.json()),
            Some(after.json()),
        )
        .await?;
        Ok(after)
    }

    /// Removes the group `id` of `account`.
    pub async fn delete(&self, actor: &Actor, account: &str, id: &str) -> Result<(), AdminError> {
        let before = self.get(account, id).await?;
        with_pool!(self, p => sqlx::query(DELETE)
            .bind(account)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        record(
            &self.audit,
            actor,
            Some(account),
            "group_deleted",
            id,
            Some(before.json()),
            None,
        )
        .await
    }
}

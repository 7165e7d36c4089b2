//! The SCIM resources realmgate serves (RFC 7643 §4), the list envelope (RFC 7644 §3.4.2),
//! the checks of a POST/PUT user, and the mapping to and from realmgate's users.
//!
//! `userName` is the login address; `name`, `displayName` and `emails` are kept as the
//! client sends them and read back unchanged. `emails` never logs anyone in and is never
//! mailed: the one rule tying it to `userName` is that a rename carries an entry naming
//! the old login address over to the new one (`accounts::rename`), and a user made
//! outside provisioning has its login address as primary work email.
//!
//! Attributes realmgate does not keep (the enterprise extension, `title`, `phoneNumbers`,
//! ...) are accepted and dropped: Entra's default attribute mapping sends them, and refusing
//! them would fail every provisioning cycle. The `Schemas` document lists only what is kept,
//! so a compliance checker never expects them back.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::error::ScimError;
use crate::accounts::{NameParts, UserEmail};

/// The core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension URN; accepted, not kept.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Most email addresses of one user: each is matched against every PATCH value filter.
pub const MAX_EMAILS: usize = 20;
/// The list envelope URN.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A SCIM User (RFC 7643 §4.1), limited to what realmgate keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    /// Schema URNs; always the core User schema on output.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// realmgate's user id; read-only, ignored in requests (RFC 7643 §3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The client's own id of the user (Entra: the object id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The email address the person logs in with.
    #[serde(default)]
    pub user_name: String,
    /// Name parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether the user may log in; absent in a request means true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Email addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<UserEmail>,
    /// Server-set metadata; read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// `name` (RFC 7643 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// The full name as displayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
}

/// `meta` (RFC 7643 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// `User` or `Group`.
    #[serde(default)]
    pub resource_type: String,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// RFC 3339 time of the last change; what `meta.lastModified gt` filters compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The resource's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A SCIM Group (RFC 7643 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimGroup {
    /// Schema URNs; always the core Group schema on output.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The server's id; read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The client's own id of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The group's name; required.
    #[serde(default)]
    pub display_name: String,
    /// Members, by user id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
    /// Server-set metadata; read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// One of a group's `members`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Member {
    /// The member's user id.
    #[serde(default)]
    pub value: String,
    /// The member's display name, as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// The list envelope of a query (RFC 7644 §3.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListResponse<T> {
    /// Always [`LIST_SCHEMA`].
    pub schemas: [&'static str; 1],
    /// Matches of the filter before paging.
    #[serde(rename = "totalResults")]
    pub total_results: usize,
    /// 1-based index of the first resource returned.
    #[serde(rename = "startIndex")]
    pub start_index: usize,
    /// Resources returned in this page.
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: usize,
    /// The page.
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

/// Paging of a query (RFC 7644 §3.4.2.4): out-of-range values are clamped, never refused,
/// as the RFC requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Most results to return.
    pub count: usize,
}

impl Page {
    /// From the `startIndex` and `count` query parameters; `max` is the
    /// ServiceProviderConfig's `filter.maxResults`.
    pub fn new(start_index: Option<i64>, count: Option<i64>, max: usize) -> Self {
        let start_index = start_index.map_or(1, |s| s.max(1)).try_into().unwrap_or(1);
        let count = count.map_or(max, |c| {
            c.clamp(0, max.try_into().unwrap_or(i64::MAX)) as usize
        });
        Self { start_index, count }
    }

    /// The envelope of this page of `all`, the complete list of matches.
    pub fn list<T: Clone>(&self, all: &[T]) -> ListResponse<T> {
        let resources: Vec<T> = all
            .iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .cloned()
            .collect();
        self.envelope(all.len(), resources)
    }

    /// The envelope of a page the glue fetched itself (an index lookup, a database query).
    pub fn envelope<T>(&self, total_results: usize, resources: Vec<T>) -> ListResponse<T> {
        ListResponse {
            schemas: [LIST_SCHEMA],
            total_results,
            start_index: self.start_index,
            items_per_page: resources.len(),
            resources,
        }
    }
}

/// Parses a JSON body as `T`, keeping serde's reason.
fn from_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ScimError> {
    serde_json::from_slice(body).map_err(ScimError::InvalidSyntax)
}

/// The [`MAX_EMAILS`] bound, for a new user and for a PATCH value.
pub(super) fn email_count(n: usize) -> Result<(), ScimError> {
    if n > MAX_EMAILS {
        return Err(ScimError::TooMany(format!(
            "{n} emails, at most {MAX_EMAILS}"
        )));
    }
    Ok(())
}

/// The rules of `emails` (RFC 7643 §2.4, §4.1.2): at most [`MAX_EMAILS`], each with a
/// value, and `primary` true on one at most.
pub(super) fn check_emails(emails: &[UserEmail]) -> Result<(), ScimError> {
    email_count(emails.len())?;
    if emails.iter().any(|e| e.value.trim().is_empty()) {
        return Err(ScimError::InvalidValue("emails[].value is required".into()));
    }
    if emails.iter().filter(|e| e.primary == Some(true)).count() > 1 {
        return Err(ScimError::InvalidValue(
            "primary is true on one email at most".into(),
        ));
    }
    Ok(())
}

fn require_schema(schemas: &[String], urn: &str) -> Result<(), ScimError> {
    if schemas.iter().any(|s| s.eq_ignore_ascii_case(urn)) {
        Ok(())
    } else {
        Err(ScimError::InvalidRequest(format!(
            "schemas must include {urn}"
        )))
    }
}

fn trimmed(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl ScimUser {
    /// The body of a POST or PUT of a user: the core schema named, `userName` present,
    /// `active` defaulted to true, the read-only `id` and `meta` dropped (RFC 7643 §3.1: a
    /// client cannot choose them). Whether `userName` is an address in the tenant's domains
    /// is the glue's check, which knows the tenant.
    pub fn parse_new(body: &[u8]) -> Result<Self, ScimError> {
        let user: Self = from_json(body)?;
        user.checked()
    }

    /// The checks of [`ScimUser::parse_new`], also run on the result of a PATCH.
    pub fn checked(mut self) -> Result<Self, ScimError> {
        require_schema(&self.schemas, USER_SCHEMA)?;
        self.user_name = self.user_name.trim().to_string();
        if self.user_name.is_empty() {
            return Err(ScimError::InvalidValue("userName is required".into()));
        }
        check_emails(&self.emails)?;
        self.external_id = trimmed(self.external_id);
        self.display_name = trimmed(self.display_name);
        self.active.get_or_insert(true);
        self.schemas = vec![USER_SCHEMA.into()];
        self.id = None;
        self.meta = None;
        Ok(self)
    }

    /// The display name of a new user: `displayName`, else `name.formatted`, else the
    /// given and family names. realmgate shows it on pages and in ID tokens, so a user
    /// provisioned without `displayName` is still named; later writes keep `displayName`
    /// exactly as sent.
    pub fn full_name(&self) -> String {
        if let Some(d) = &self.display_name {
            return d.clone();
        }
        let Some(name) = &self.name else {
            return String::new();
        };
        if let Some(f) = trimmed(name.formatted.clone()) {
            return f;
        }
        [&name.given_name, &name.family_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What realmgate keeps of this user, for the glue to write: every attribute as sent,
    /// so the client reads back what it wrote (an absent `displayName` is an empty name).
    pub fn facts_change(&self) -> UserChange {
        let name = self.name.clone().unwrap_or_default();
        UserChange {
            email: self.user_name.clone(),
            name: self.display_name.clone().unwrap_or_default(),
            name_parts: NameParts {
                given: name.given_name,
                family: name.family_name,
                formatted: name.formatted,
            },
            emails: self.emails.clone(),
            active: self.active.unwrap_or(true),
            external_id: self.external_id.clone(),
        }
    }

    /// The SCIM view of a stored user; `base` is the SCIM root of the tenant
    /// (`https://gw/scim/v2/contoso`), for `meta.location`.
    pub fn from_facts(user: &UserFacts, base: &str) -> Self {
        Self {
            schemas: vec![USER_SCHEMA.into()],
            id: Some(user.id.clone()),
            external_id: user.external_id.clone(),
            user_name: user.email.clone(),
            name: (!user.name_parts.is_empty()).then(|| Name {
                given_name: user.name_parts.given.clone(),
                family_name: user.name_parts.family.clone(),
                formatted: user.name_parts.formatted.clone(),
            }),
            display_name: (!user.name.is_empty()).then(|| user.name.clone()),
            active: Some(user.active),
            emails: user.emails.clone(),
            meta: Some(meta(
                "User",
                base,
                "Users",
                &user.id,
                user.created,
                user.last_modified,
            )),
        }
    }
}

impl ScimGroup {
    /// The body of a POST or PUT of a group: the core schema named, `displayName` present,
    /// read-only attributes dropped.
    pub fn parse_new(body: &[u8]) -> Result<Self, ScimError> {
        let group: Self = from_json(body)?;
        group.checked()
    }

    /// The checks of [`ScimGroup::parse_new`], also run on the result of a PATCH.
    pub fn checked(mut self) -> Result<Self, ScimError> {
        require_schema(&self.schemas, GROUP_SCHEMA)?;
        self.display_name = self.display_name.trim().to_string();
        if self.display_name.is_empty() {
            return Err(ScimError::InvalidValue("displayName is required".into()));
        }
        if self.members.iter().any(|m| m.value.is_empty()) {
            return Err(ScimError::InvalidValue(
                "members[].value is required".into(),
            ));
        }
        self.external_id = trimmed(self.external_id);
        self.schemas = vec![GROUP_SCHEMA.into()];
        self.id = None;
        self.meta = None;
        Ok(self)
    }

    /// This group as stored under `id`, with its `meta` for the answer.
    pub fn stored(
        mut self,
        id: &str,
        base: &str,
        created: DateTime<Utc>,
        last_modified: DateTime<Utc>,
    ) -> Self {
        self.meta = Some(meta("Group", base, "Groups", id, created, last_modified));
        self.id = Some(id.into());
        self
    }
}

fn meta(
    resource_type: &str,
    base: &str,
    endpoint: &str,
    id: &str,
    created: DateTime<Utc>,
    last_modified: DateTime<Utc>,
) -> Meta {
    Meta {
        resource_type: resource_type.into(),
        created: Some(created.to_rfc3339_opts(SecondsFormat::Secs, true)),
        last_modified: Some(last_modified.to_rfc3339_opts(SecondsFormat::Secs, true)),
        location: Some(format!("{}/{endpoint}/{id}", base.trim_end_matches('/'))),
    }
}

/// What the SCIM view needs of a realmgate user. The glue fills it from
/// `accounts::User`: `id.to_string()`, `email.as_str()`, `name`,
/// `status == Status::Active`, `external_id`, `created_at`, and the last change time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    /// The user's database id, as a string (SCIM ids are strings).
    pub id: String,
    /// The login address.
    pub email: String,
    /// The display name (`displayName`); may be empty.
    pub name: String,
    /// The parts of the name (`name`).
    pub name_parts: NameParts,
    /// The email addresses the client keeps (`emails`).
    pub emails: Vec<UserEmail>,
    /// Whether the user may log in (`Waiting` and `Disabled` are both inactive).
    pub active: bool,
    /// The client's id of the user, kept for `externalId eq` lookups.
    pub external_id: Option<String>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Time of the last change.
    pub last_modified: DateTime<Utc>,
}

/// What a SCIM write sets on a realmgate user; the glue applies it through the user
/// operations (disabling ends sessions there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    /// The login address (`userName`).
    pub email: String,
    /// The display name (`displayName`).
    pub name: String,
    /// The parts of the name (`name`).
    pub name_parts: NameParts,
    /// The email addresses (`emails`).
    pub emails: Vec<UserEmail>,
    /// Active or disabled.
    pub active: bool,
    /// `externalId`.
    pub external_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Microsoft's "Create User" request (Entra SCIM tutorial, user operations).
    const ENTRA_CREATE_USER: &str = r#"{
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
        }],
        "meta": {
            "resourceType": "User"
        },
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": []
    }"#;

    #[test]
    fn entra_create_user_parses() {
        let user = ScimUser::parse_new(ENTRA_CREATE_USER.as_bytes()).unwrap();
        assert_eq!(
            user.user_name,
            "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
        );
        assert_eq!(
            user.external_id.as_deref(),
            Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
        );
        assert_eq!(user.active, Some(true));
        assert_eq!(user.emails[0].kind.as_deref(), Some("work"));
        assert_eq!(user.meta, None, "meta is the server's");
        assert_eq!(user.full_name(), "givenName familyName");
    }

    #[test]
    fn enterprise_extension_is_accepted_and_dropped() {
        let body = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName":"a@contoso.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                {"employeeNumber":"7","manager":{"value":"x"}},
            "title":"Boss","phoneNumbers":[{"type":"work","value":"1"}]}"#;
        let user = ScimUser::parse_new(body.as_bytes()).unwrap();
        assert_eq!(user.schemas, [USER_SCHEMA]);
        let out = serde_json::to_value(&user).unwrap();
        assert!(out.get(ENTERPRISE_SCHEMA).is_none() && out.get("title").is_none());
    }

    #[test]
    fn new_user_checks() {
        let user = ScimUser::parse_new(
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":" a@b.c ","id":"99"}"#,
        )
        .unwrap();
        assert_eq!(user.active, Some(true), "active defaults to true");
        assert_eq!(user.user_name, "a@b.c");
        assert_eq!(user.id, None, "a client cannot choose the id");
        for (body, code) in [
            (
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}"#,
                "invalidValue",
            ),
            (
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"  "}"#,
                "invalidValue",
            ),
            (r#"{"userName":"a@b.c"}"#, "invalidSyntax"),
            (
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":7}"#,
                "invalidSyntax",
            ),
            (
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.c","active":"yes"}"#,
                "invalidSyntax",
            ),
            ("[", "invalidSyntax"),
        ] {
            let err = ScimUser::parse_new(body.as_bytes()).unwrap_err();
            assert_eq!(err.scim_type(), Some(code), "{body}: {err}");
        }
    }

    #[test]
    fn facts_round_trip() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let name_parts = NameParts {
            given: Some("Ann".into()),
            family: None,
            formatted: Some("Ann Lee".into()),
        };
        let emails = vec![UserEmail {
            value: "ann@home.example".into(),
            kind: Some("home".into()),
            primary: Some(false),
        }];
        let facts = UserFacts {
            id: "42".into(),
            email: "ann@contoso.com".into(),
            name: "Ann L.".into(),
            name_parts: name_parts.clone(),
            emails: emails.clone(),
            active: false,
            external_id: Some("ext".into()),
            created: t,
            last_modified: t,
        };
        let user = ScimUser::from_facts(&facts, "https://gw/scim/v2/contoso/");
        let meta = user.meta.clone().unwrap();
        assert_eq!(
            meta.location.as_deref(),
            Some("https://gw/scim/v2/contoso/Users/42")
        );
        assert_eq!(meta.last_modified.as_deref(), Some("2026-01-02T03:04:05Z"));
        let change = user.facts_change();
        assert_eq!(
            change,
            UserChange {
                email: facts.email,
                name: facts.name,
                name_parts,
                emails,
                active: false,
                external_id: facts.external_id
            }
        );
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(json["displayName"], "Ann L.");
        assert_eq!(
            json["name"],
            serde_json::json!({"givenName": "Ann", "formatted": "Ann Lee"})
        );
        assert_eq!(
            json["emails"],
            serde_json::json!([{"value": "ann@home.example", "type": "home", "primary": false}])
        );
    }

    /// RFC 7643 §2.4: `primary` is true on one value at most.
    #[test]
    fn one_primary_email_at_most() {
        let body =
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.c",
            "emails":[{"value":"a@b.c","primary":true},{"value":"x@y.z","primary":true}]}"#;
        let err = ScimUser::parse_new(body).unwrap_err();
        assert_eq!(err.scim_type(), Some("invalidValue"), "{err}");
        let body =
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.c",
            "emails":[{"value":"a@b.c","primary":true},{"value":"x@y.z","primary":false}]}"#;
        assert_eq!(ScimUser::parse_new(body).unwrap().emails.len(), 2);
    }

    #[test]
    fn paging_is_clamped() {
        let all: Vec<u32> = (1..=5).collect();
        let list = Page::new(Some(0), Some(2), 100).list(&all);
        assert_eq!(
            (list.start_index, list.items_per_page, list.total_results),
            (1, 2, 5)
        );
        assert_eq!(list.resources, [1, 2]);
        let list = Page::new(Some(4), Some(-3), 100).list(&all);
        assert_eq!((list.start_index, list.items_per_page), (4, 0));
        let list = Page::new(Some(4), None, 100).list(&all);
        assert_eq!(list.resources, [4, 5]);
        assert_eq!(Page::new(None, Some(1_000_000), 100).count, 100);
        let list = Page::new(Some(i64::MAX), None, 100).list(&all);
        assert!(list.resources.is_empty());
        let json = serde_json::to_value(Page::new(None, None, 10).list(&all)).unwrap();
        assert_eq!(json["schemas"][0], LIST_SCHEMA);
        assert!(json["Resources"].is_array() && json["totalResults"] == 5);
    }

    #[test]
    fn group_checks() {
        let g = ScimGroup::parse_new(
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}"#,
        )
        .unwrap();
        assert_eq!(g.display_name, "displayName");
        assert!(
            ScimGroup::parse_new(br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}"#)
                .is_err()
        );
    }
}

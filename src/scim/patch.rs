//! PATCH (RFC 7644 §3.5.2): the `Operations` of a request, parsed once, then applied to a
//! user or a group as a whole (every operation or none: the glue writes the result).
//!
//! Entra's shapes are accepted as Microsoft documents them: `op` in any case ("Replace"),
//! operations without `path` whose value object is keyed by attribute paths, `active` as a
//! boolean or the string "True"/"False", `emails[type eq "work"].value`, and group member
//! removal by a `members` value list as well as by `members[value eq "id"]`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, AttrPath, Filter, Literal, Op};
use super::resource::{
    ENTERPRISE_SCHEMA, Member, Name, ScimEmail, ScimGroup, ScimUser, email_count,
};

/// The `schemas` URN of a PATCH body.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations in one request; Entra sends one per changed attribute.
pub const MAX_OPERATIONS: usize = 100;

/// Core User attributes realmgate does not keep; changes to them are accepted and dropped
/// so Entra's default attribute mapping does not fail (see `resource`).
const UNKEPT_USER: &[&str] = &[
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "phonenumbers",
    "addresses",
    "ims",
    "photos",
    "roles",
    "entitlements",
    "x509certificates",
];
/// `name` sub-attributes realmgate does not keep.
const UNKEPT_NAME: &[&str] = &["middlename", "honorificprefix", "honorificsuffix"];

/// An operation's verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

/// Where an operation applies.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// No `path`: the value is an object keyed by attribute paths.
    Resource,
    /// An attribute of the enterprise extension: accepted, not kept.
    Extension,
    /// `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`.
    Attr {
        /// The attribute and sub-attribute, lower-case.
        path: AttrPath,
        /// The value filter of a multi-valued attribute.
        filter: Option<Filter>,
    },
}

/// One operation of a PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The verb.
    pub verb: Verb,
    /// The target.
    pub target: Target,
    /// The value; present for `add` and `replace`.
    pub value: Option<Value>,
}

/// A parsed PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    /// The operations, in request order.
    pub operations: Vec<Operation>,
}

fn get<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn request(reason: impl Into<String>) -> ScimError {
    ScimError::InvalidRequest(reason.into())
}

/// Parses a PATCH `path` (RFC 7644 §3.5.2 `PATH`).
pub fn parse_path(path: &str) -> Result<Target, ScimError> {
    if path.len() > filter::MAX_LEN {
        return Err(ScimError::InvalidPath(format!(
            "longer than {} bytes",
            filter::MAX_LEN
        )));
    }
    let bad = |e: ScimError| ScimError::InvalidPath(format!("{path:?}: {e}"));
    if path
        .get(..ENTERPRISE_SCHEMA.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENTERPRISE_SCHEMA))
    {
        return Ok(Target::Extension);
    }
    let Some(open) = path.find('[') else {
        return Ok(Target::Attr {
            path: filter::attr_path(path).map_err(bad)?,
            filter: None,
        });
    };
    let close = path
        .rfind(']')
        .filter(|&c| c > open)
        .ok_or_else(|| ScimError::InvalidPath(format!("{path:?}: unclosed '['")))?;
    let attr = filter::attr_path(&path[..open]).map_err(bad)?;
    if attr.sub.is_some() {
        return Err(ScimError::InvalidPath(format!(
            "{path:?}: filter on a sub-attribute"
        )));
    }
    let sub = match &path[close + 1..] {
        "" => None,
        rest => match rest.strip_prefix('.') {
            Some(s) => Some(filter::attr_path(s).map_err(bad)?.attr),
            None => return Err(ScimError::InvalidPath(format!("{path:?}: text after ']'"))),
        },
    };
    let filter = Filter::parse(&path[open + 1..close]).map_err(bad)?;
    Ok(Target::Attr {
        path: AttrPath {
            attr: attr.attr,
            sub,
        },
        filter: Some(filter),
    })
}

impl Patch {
    /// Parses a PATCH body: the PatchOp schema named, 1 to [`MAX_OPERATIONS`] operations,
    /// each with a known verb, a parseable path, and a value where the verb needs one.
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let body: Value = serde_json::from_slice(body).map_err(ScimError::InvalidSyntax)?;
        let body = body
            .as_object()
            .ok_or_else(|| request("not a JSON object"))?;
        let named = get(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_SCHEMA))
                })
            });
        if !named {
            return Err(request(format!("schemas must include {PATCH_SCHEMA}")));
        }
        let ops = get(body, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| request("Operations must be an array"))?;
        if ops.is_empty() {
            return Err(request("Operations is empty"));
        }
        if ops.len() > MAX_OPERATIONS {
            return Err(ScimError::TooMany(format!(
                "{} operations, at most {MAX_OPERATIONS}",
                ops.len()
            )));
        }
        let operations = ops.iter().map(operation).collect::<Result<_, _>>()?;
        Ok(Self { operations })
    }

    /// This patch applied to `user` (the stored user's SCIM view). `id` and `meta` are
    /// refused with `mutability`, unknown attributes with `invalidPath`; the result still
    /// has a `userName`.
    pub fn apply_user(&self, mut user: ScimUser) -> Result<ScimUser, ScimError> {
        for op in &self.operations {
            each_target(op, &mut |verb, target, value| {
                apply_user_attr(&mut user, verb, target, value)
            })?;
        }
        if user.user_name.trim().is_empty() {
            return Err(ScimError::InvalidValue("userName is required".into()));
        }
        Ok(user)
    }

    /// This patch applied to `group`: `displayName`, `externalId`, and `members` added,
    /// replaced or removed.
    pub fn apply_group(&self, mut group: ScimGroup) -> Result<ScimGroup, ScimError> {
        for op in &self.operations {
            each_target(op, &mut |verb, target, value| {
                apply_group_attr(&mut group, verb, target, value)
            })?;
        }
        if group.display_name.trim().is_empty() {
            return Err(ScimError::InvalidValue("displayName is required".into()));
        }
        Ok(group)
    }
}

fn operation(op: &Value) -> Result<Operation, ScimError> {
    let op = op
        .as_object()
        .ok_or_else(|| request("an operation is not an object"))?;
    let verb = match get(op, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => Verb::Add,
        Some("remove") => Verb::Remove,
        Some("replace") => Verb::Replace,
        other => return Err(request(format!("unknown op {other:?}"))),
    };
    let target = match get(op, "path") {
        None | Some(Value::Null) => Target::Resource,
        Some(Value::String(p)) if p.trim().is_empty() => Target::Resource,
        Some(Value::String(p)) => parse_path(p.trim())?,
        Some(_) => return Err(ScimError::InvalidPath("path is not a string".into())),
    };
    let value = get(op, "value").filter(|v| !v.is_null()).cloned();
    match (verb, &target, &value) {
        (Verb::Remove, Target::Resource, _) => {
            Err(ScimError::NoTarget("remove needs a path".into()))
        }
        (Verb::Add | Verb::Replace, _, None) => {
            Err(ScimError::InvalidValue(format!("{verb:?} needs a value")))
        }
        (Verb::Add | Verb::Replace, Target::Resource, Some(v)) if !v.is_object() => Err(
            ScimError::InvalidValue("an operation without path needs an object value".into()),
        ),
        _ => Ok(Operation {
            verb,
            target,
            value,
        }),
    }
}

/// Applies one verb to one attribute (with its value filter) of the resource.
type ApplyOne<'a> =
    dyn FnMut(Verb, (&AttrPath, Option<&Filter>), Option<&Value>) -> Result<(), ScimError> + 'a;

/// Calls `apply` once per attribute the operation names: a pathless operation's object keys
/// are paths themselves (`"name.givenName"`, an extension URN), as Entra sends them.
fn each_target(op: &Operation, apply: &mut ApplyOne<'_>) -> Result<(), ScimError> {
    match &op.target {
        Target::Extension => Ok(()),
        Target::Attr { path, filter } => apply(op.verb, (path, filter.as_ref()), op.value.as_ref()),
        Target::Resource => {
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::NoTarget("no path and no object value".into()));
            };
            for (key, value) in values {
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                match parse_path(key)? {
                    Target::Attr { path, filter } => {
                        apply(op.verb, (&path, filter.as_ref()), Some(value))?
                    }
                    Target::Extension | Target::Resource => {}
                }
            }
            Ok(())
        }
    }
}

fn string(path: &AttrPath, value: Option<&Value>) -> Result<String, ScimError> {
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ScimError::InvalidValue(format!(
            "{} must be a string",
            show(path)
        ))),
    }
}

/// A boolean, or Entra's string spelling of one ("True", "False").
fn boolean(path: &AttrPath, value: Option<&Value>) -> Result<bool, ScimError> {
    match value {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::InvalidValue(format!(
            "{} must be a boolean",
            show(path)
        ))),
    }
}

fn show(path: &AttrPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.attr),
        None => path.attr.clone(),
    }
}

fn unknown(path: &AttrPath) -> ScimError {
    ScimError::InvalidPath(format!("no attribute {}", show(path)))
}

fn read_only(path: &AttrPath) -> Result<(), ScimError> {
    match path.attr.as_str() {
        "id" | "meta" => Err(ScimError::Mutability(show(path))),
        _ => Ok(()),
    }
}

/// A single-valued string: set, or removed to `None`.
fn optional_string(
    slot: &mut Option<String>,
    verb: Verb,
    path: &AttrPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    *slot = match verb {
        Verb::Remove => None,
        _ => Some(string(path, value)?),
    };
    Ok(())
}

fn apply_user_attr(
    user: &mut ScimUser,
    verb: Verb,
    (path, filter): (&AttrPath, Option<&Filter>),
    value: Option<&Value>,
) -> Result<(), ScimError> {
    read_only(path)?;
    let attr = path.attr.as_str();
    if attr == "emails" {
        return apply_emails(&mut user.emails, verb, path, filter, value);
    }
    if filter.is_some() {
        return if UNKEPT_USER.contains(&attr) {
            Ok(())
        } else {
            Err(unknown(path))
        };
    }
    match (attr, path.sub.as_deref()) {
        ("username", None) => match verb {
            Verb::Remove => return Err(ScimError::InvalidValue("userName is required".into())),
            _ => user.user_name = string(path, value)?,
        },
        ("externalid", None) => optional_string(&mut user.external_id, verb, path, value)?,
        ("displayname", None) => optional_string(&mut user.display_name, verb, path, value)?,
        ("active", None) => match verb {
            Verb::Remove => return Err(ScimError::InvalidValue("active cannot be removed".into())),
            _ => user.active = Some(boolean(path, value)?),
        },
        ("name", None) => match verb {
            Verb::Remove => user.name = None,
            _ => {
                let new: Name = serde_json::from_value(value.cloned().unwrap_or_default())
                    .map_err(|e| ScimError::InvalidValue(format!("name: {e}")))?;
                let name = user.name.get_or_insert_with(Name::default);
                for (slot, new) in [
                    (&mut name.given_name, new.given_name),
                    (&mut name.family_name, new.family_name),
                    (&mut name.formatted, new.formatted),
                ] {
                    if new.is_some() {
                        *slot = new;
                    }
                }
            }
        },
        ("name", Some(sub)) => {
            let name = user.name.get_or_insert_with(Name::default);
            match sub {
                "givenname" => optional_string(&mut name.given_name, verb, path, value)?,
                "familyname" => optional_string(&mut name.family_name, verb, path, value)?,
                "formatted" => optional_string(&mut name.formatted, verb, path, value)?,
                s if UNKEPT_NAME.contains(&s) => {}
                _ => return Err(unknown(path)),
            }
        }
        ("schemas", None) => {}
        (a, _) if UNKEPT_USER.contains(&a) => {}
        _ => return Err(unknown(path)),
    }
    Ok(())
}

fn email_json(email: &ScimEmail) -> Value {
    serde_json::to_value(email).unwrap_or_default()
}

fn emails_value(value: Option<&Value>) -> Result<Vec<ScimEmail>, ScimError> {
    let items = match value {
        Some(Value::Array(items)) => items.clone(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        _ => {
            return Err(ScimError::InvalidValue(
                "emails must be a list of objects".into(),
            ));
        }
    };
    email_count(items.len())?;
    items
        .into_iter()
        .map(|v| {
            serde_json::from_value::<ScimEmail>(v)
                .map_err(|e| ScimError::InvalidValue(format!("emails: {e}")))
                .and_then(|e| {
                    if e.value.trim().is_empty() {
                        Err(ScimError::InvalidValue("emails[].value is required".into()))
                    } else {
                        Ok(e)
                    }
                })
        })
        .collect()
}

/// `emails`, `emails.sub`, `emails[filter]`, `emails[filter].sub`.
fn apply_emails(
    emails: &mut Vec<ScimEmail>,
    verb: Verb,
    path: &AttrPath,
    filter: Option<&Filter>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if filter.is_none() && path.sub.is_none() {
        match verb {
            Verb::Remove => emails.clear(),
            Verb::Replace => *emails = emails_value(value)?,
            Verb::Add => {
                for new in emails_value(value)? {
                    match emails
                        .iter_mut()
                        .find(|e| e.value.eq_ignore_ascii_case(&new.value))
                    {
                        Some(old) => *old = new,
                        None => emails.push(new),
                    }
                }
            }
        }
        return email_count(emails.len());
    }
    let selected = |emails: &[ScimEmail]| -> Vec<usize> {
        (0..emails.len())
            .filter(|&i| filter.is_none_or(|f| f.matches(&email_json(&emails[i]))))
            .collect()
    };
    let mut chosen = selected(emails);
    if chosen.is_empty() {
        match (verb, filter.and_then(type_of_filter)) {
            (Verb::Remove, _) => return Ok(()),
            // Adding `emails[type eq "work"].value` to a user without a work address
            // creates it, which is what Entra means by it.
            (Verb::Add, Some(kind)) => {
                emails.push(ScimEmail {
                    kind: Some(kind.to_string()),
                    ..ScimEmail::default()
                });
                chosen = vec![emails.len() - 1];
            }
            _ => {
                return Err(ScimError::NoTarget(format!(
                    "no email matches {}",
                    show(path)
                )));
            }
        }
    }
    match (verb, path.sub.as_deref()) {
        (Verb::Remove, None | Some("value")) => {
            let mut i = 0;
            emails.retain(|_| {
                i += 1;
                !chosen.contains(&(i - 1))
            });
        }
        (_, None) => {
            let new: Map<String, Value> = match value {
                Some(Value::Object(o)) => o.clone(),
                _ => {
                    return Err(ScimError::InvalidValue(
                        "emails[...] needs an object".into(),
                    ));
                }
            };
            for &i in &chosen {
                let mut merged = email_json(&emails[i]);
                if let Value::Object(m) = &mut merged {
                    m.extend(new.clone());
                }
                emails[i] = emails_value(Some(&merged))?.remove(0);
            }
        }
        (_, Some(sub)) => {
            for &i in &chosen {
                let email = &mut emails[i];
                match (sub, verb) {
                    ("value", _) => email.value = string(path, value)?,
                    ("type", _) => optional_string(&mut email.kind, verb, path, value)?,
                    ("primary", Verb::Remove) => email.primary = None,
                    ("primary", _) => email.primary = Some(boolean(path, value)?),
                    ("display", _) => {}
                    _ => return Err(unknown(path)),
                }
            }
        }
    }
    if emails.iter().any(|e| e.value.trim().is_empty()) {
        return Err(ScimError::InvalidValue("emails[].value is required".into()));
    }
    email_count(emails.len())
}

/// `x` of a filter `type eq "x"`.
fn type_of_filter(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare(AttrPath { attr, sub: None }, Op::Eq, Literal::Str(kind))
            if attr == "type" =>
        {
            Some(kind.as_str())
        }
        _ => None,
    }
}

fn members_value(value: Option<&Value>) -> Result<Vec<Member>, ScimError> {
    let items = match value {
        Some(Value::Array(items)) => items.clone(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        _ => {
            return Err(ScimError::InvalidValue(
                "members must be a list of objects".into(),
            ));
        }
    };
    items
        .into_iter()
        .map(|v| {
            let m: Member = serde_json::from_value(v)
                .map_err(|e| ScimError::InvalidValue(format!("members: {e}")))?;
            if m.value.is_empty() {
                return Err(ScimError::InvalidValue(
                    "members[].value is required".into(),
                ));
            }
            Ok(m)
        })
        .collect()
}

fn apply_group_attr(
    group: &mut ScimGroup,
    verb: Verb,
    (path, filter): (&AttrPath, Option<&Filter>),
    value: Option<&Value>,
) -> Result<(), ScimError> {
    read_only(path)?;
    match (path.attr.as_str(), path.sub.as_deref(), filter, verb) {
        ("displayname", None, None, Verb::Remove) => {
            Err(ScimError::InvalidValue("displayName is required".into()))
        }
        ("displayname", None, None, _) => {
            group.display_name = string(path, value)?;
            Ok(())
        }
        ("externalid", None, None, _) => optional_string(&mut group.external_id, verb, path, value),
        ("members", None, None, Verb::Add) => {
            // A set, not a scan per member: a large group gains members in large batches.
            let mut known: HashSet<String> =
                group.members.iter().map(|m| m.value.clone()).collect();
            for m in members_value(value)? {
                if known.insert(m.value.clone()) {
                    group.members.push(m);
                }
            }
            Ok(())
        }
        ("members", None, None, Verb::Replace) => {
            group.members = members_value(value)?;
            Ok(())
        }
        ("members", None, None, Verb::Remove) => {
            match value {
                // Entra removes members by listing them as the value.
                Some(v) => {
                    let gone: HashSet<String> = members_value(Some(v))?
                        .into_iter()
                        .map(|m| m.value)
                        .collect();
                    group.members.retain(|m| !gone.contains(&m.value));
                }
                None => group.members.clear(),
            }
            Ok(())
        }
        ("members", None, Some(f), Verb::Remove) => {
            group
                .members
                .retain(|m| !f.matches(&serde_json::to_value(m).unwrap_or_default()));
            Ok(())
        }
        ("members", ..) => Err(ScimError::InvalidPath(format!(
            "{verb:?} of {} is not supported",
            show(path)
        ))),
        ("schemas", None, None, _) => Ok(()),
        _ => Err(unknown(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::{GROUP_SCHEMA, USER_SCHEMA};

    fn user() -> ScimUser {
        ScimUser {
            schemas: vec![USER_SCHEMA.into()],
            id: Some("42".into()),
            external_id: Some("ext".into()),
            user_name: "ann@contoso.com".into(),
            name: Some(Name {
                given_name: Some("Ann".into()),
                family_name: Some("Lee".into()),
                formatted: None,
            }),
            display_name: Some("Ann Lee".into()),
            active: Some(true),
            emails: vec![ScimEmail {
                value: "ann@contoso.com".into(),
                kind: Some("work".into()),
                primary: Some(true),
            }],
            meta: None,
        }
    }

    fn patch(ops: &str) -> Result<Patch, ScimError> {
        Patch::parse(
            format!(r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{ops}}}"#)
                .as_bytes(),
        )
    }

    fn on_user(ops: &str) -> Result<ScimUser, ScimError> {
        patch(ops)?.apply_user(user())
    }

    fn group() -> ScimGroup {
        ScimGroup {
            schemas: vec![GROUP_SCHEMA.into()],
            id: Some("g1".into()),
            display_name: "Sales".into(),
            members: vec![Member {
                value: "a2a9".into(),
                display: None,
            }],
            ..ScimGroup::default()
        }
    }

    /// Microsoft's "Update User [Multi-valued properties]" request.
    #[test]
    fn entra_update_multi_valued() {
        let u = on_user(
            r#"[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
                {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]"#,
        )
        .unwrap();
        assert_eq!(u.emails[0].value, "updatedEmail@microsoft.com");
        assert_eq!(u.emails[0].kind.as_deref(), Some("work"));
        assert_eq!(
            u.name.unwrap().family_name.as_deref(),
            Some("updatedFamilyName")
        );
    }

    /// Microsoft's "Update User [Single-valued properties]" request.
    #[test]
    fn entra_update_single_valued() {
        let u = on_user(
            r#"[{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]"#,
        )
        .unwrap();
        assert_eq!(
            u.user_name,
            "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
        );
    }

    /// Microsoft's "Disable User" request, and the older string form of the same.
    #[test]
    fn entra_disable_user() {
        let u = on_user(r#"[{"op":"Replace","path":"active","value":false}]"#).unwrap();
        assert_eq!(u.active, Some(false));
        let u = on_user(r#"[{"op":"Replace","path":"active","value":"False"}]"#).unwrap();
        assert_eq!(u.active, Some(false));
        let mut off = user();
        off.active = Some(false);
        let u = patch(r#"[{"op":"replace","path":"active","value":"True"}]"#)
            .unwrap()
            .apply_user(off)
            .unwrap();
        assert_eq!(u.active, Some(true));
        let err = on_user(r#"[{"op":"Replace","path":"active","value":"no"}]"#).unwrap_err();
        assert_eq!(err.scim_type(), Some("invalidValue"));
    }

    /// Entra's operations without `path`: an object keyed by attribute paths.
    #[test]
    fn entra_no_path() {
        let u = on_user(
            r#"[{"op":"Replace","value":{"active":"False","displayName":"Ann B","name.givenName":"Anna",
                "externalId":"e2","emails[type eq \"work\"].value":"ab@contoso.com",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"},
                "title":"Boss"}}]"#,
        )
        .unwrap();
        assert_eq!(u.active, Some(false));
        assert_eq!(u.display_name.as_deref(), Some("Ann B"));
        assert_eq!(u.name.as_ref().unwrap().given_name.as_deref(), Some("Anna"));
        assert_eq!(u.name.as_ref().unwrap().family_name.as_deref(), Some("Lee"));
        assert_eq!(u.external_id.as_deref(), Some("e2"));
        assert_eq!(u.emails[0].value, "ab@contoso.com");
        let u = on_user(r#"[{"op":"add","value":{"name":{"formatted":"A L"}}}]"#).unwrap();
        let name = u.name.unwrap();
        assert_eq!(
            (name.formatted.as_deref(), name.given_name.as_deref()),
            (Some("A L"), Some("Ann"))
        );
    }

    #[test]
    fn entra_add_external_id_and_extension() {
        let mut plain = user();
        plain.external_id = None;
        let u = patch(
            r#"[{"op":"Add","path":"externalId","value":"0a21f0f2"},
                {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m"}},
                {"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"1"}]"#,
        )
        .unwrap()
        .apply_user(plain)
        .unwrap();
        assert_eq!(u.external_id.as_deref(), Some("0a21f0f2"));
    }

    #[test]
    fn emails_edge_cases() {
        let u = on_user(
            r#"[{"op":"add","path":"emails[type eq \"home\"].value","value":"a@home.example"}]"#,
        )
        .unwrap();
        assert_eq!(u.emails.len(), 2);
        assert_eq!(u.emails[1].kind.as_deref(), Some("home"));
        let err =
            on_user(r#"[{"op":"replace","path":"emails[type eq \"home\"].value","value":"x"}]"#)
                .unwrap_err();
        assert_eq!(err.scim_type(), Some("noTarget"));
        let u = on_user(r#"[{"op":"remove","path":"emails[type eq \"work\"]"}]"#).unwrap();
        assert!(u.emails.is_empty());
        let u = on_user(r#"[{"op":"remove","path":"emails[type eq \"home\"]"}]"#).unwrap();
        assert_eq!(u.emails.len(), 1, "removing nothing is not an error");
        let u = on_user(
            r#"[{"op":"add","path":"emails","value":[{"value":"ANN@contoso.com","type":"other"},{"value":"b@x.y"}]}]"#,
        )
        .unwrap();
        assert_eq!(
            u.emails.len(),
            2,
            "an address already there is updated, not doubled"
        );
        assert_eq!(u.emails[0].kind.as_deref(), Some("other"));
        let u = on_user(r#"[{"op":"replace","path":"emails[value eq \"ann@contoso.com\"].primary","value":"False"}]"#)
            .unwrap();
        assert_eq!(u.emails[0].primary, Some(false));
        let u = on_user(r#"[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"n@contoso.com"}}]"#)
            .unwrap();
        assert_eq!(
            (u.emails[0].value.as_str(), u.emails[0].primary),
            ("n@contoso.com", Some(true))
        );
        let err =
            on_user(r#"[{"op":"replace","path":"emails","value":[{"type":"work"}]}]"#).unwrap_err();
        assert_eq!(err.scim_type(), Some("invalidValue"));
        let twenty: Vec<String> = (0..20)
            .map(|i| format!(r#"{{"value":"a{i}@x.y"}}"#))
            .collect();
        let err = on_user(&format!(
            r#"[{{"op":"add","path":"emails","value":[{}]}}]"#,
            twenty.join(",")
        ))
        .unwrap_err();
        assert_eq!(err.scim_type(), Some("tooMany"), "21 addresses");
        let err =
            on_user(r#"[{"op":"add","path":"emails[type eq \"home\"].primary","value":true}]"#)
                .unwrap_err();
        assert_eq!(
            err.scim_type(),
            Some("invalidValue"),
            "an address without value"
        );
    }

    #[test]
    fn read_only_and_unknown() {
        for (ops, code) in [
            (
                r#"[{"op":"replace","path":"id","value":"7"}]"#,
                "mutability",
            ),
            (
                r#"[{"op":"replace","path":"meta.lastModified","value":"x"}]"#,
                "mutability",
            ),
            (r#"[{"op":"replace","value":{"id":"7"}}]"#, "mutability"),
            (
                r#"[{"op":"replace","path":"favouriteColour","value":"red"}]"#,
                "invalidPath",
            ),
            (
                r#"[{"op":"replace","path":"name.nickname","value":"x"}]"#,
                "invalidPath",
            ),
            (
                r#"[{"op":"replace","path":"emails[type eq \"work\"].colour","value":"x"}]"#,
                "invalidPath",
            ),
            (
                r#"[{"op":"replace","path":"emails[type eq ]","value":"x"}]"#,
                "invalidPath",
            ),
            (
                r#"[{"op":"replace","path":"emails[type eq \"work\"","value":"x"}]"#,
                "invalidPath",
            ),
            (
                r#"[{"op":"replace","path":"emails[type eq \"work\"]x","value":"x"}]"#,
                "invalidPath",
            ),
            (r#"[{"op":"replace","path":7,"value":"x"}]"#, "invalidPath"),
            (r#"[{"op":"remove"}]"#, "noTarget"),
            (r#"[{"op":"remove","path":"userName"}]"#, "invalidValue"),
            (
                r#"[{"op":"replace","path":"userName","value":" "}]"#,
                "invalidValue",
            ),
            (
                r#"[{"op":"replace","path":"userName","value":5}]"#,
                "invalidValue",
            ),
            (r#"[{"op":"replace","path":"userName"}]"#, "invalidValue"),
            (r#"[{"op":"replace","value":"x"}]"#, "invalidValue"),
            (
                r#"[{"op":"move","path":"userName","value":"x"}]"#,
                "invalidSyntax",
            ),
            (r#"[]"#, "invalidSyntax"),
            (r#"{}"#, "invalidSyntax"),
            (r#"[1]"#, "invalidSyntax"),
        ] {
            let err = on_user(ops).unwrap_err();
            assert_eq!(err.scim_type(), Some(code), "{ops}: {err}");
        }
        let no_schema =
            Patch::parse(br#"{"Operations":[{"op":"remove","path":"title"}]}"#).unwrap_err();
        assert_eq!(no_schema.scim_type(), Some("invalidSyntax"));
        let many = vec![r#"{"op":"remove","path":"title"}"#; MAX_OPERATIONS + 1].join(",");
        assert_eq!(
            on_user(&format!("[{many}]")).unwrap_err().scim_type(),
            Some("tooMany")
        );
    }

    /// A multi-byte character straddling the end of the schema URN prefix must not panic
    /// the prefix check (byte slicing inside a character).
    #[test]
    fn non_ascii_path_is_refused() {
        for path in [
            "urn:ietf:params:scim:schemas:core:2.0:Useé:userName",
            "urn:ietf:params:scim:schemas:core:2.0:User\u{e9}userName",
            "é[type eq \"work\"]",
        ] {
            assert_eq!(
                parse_path(path).unwrap_err().scim_type(),
                Some("invalidPath"),
                "{path}"
            );
        }
    }

    #[test]
    fn patch_is_all_or_nothing() {
        let ops = r#"[{"op":"replace","path":"displayName","value":"X"},{"op":"replace","path":"id","value":"7"}]"#;
        assert!(
            on_user(ops).is_err(),
            "a later refusal refuses the whole patch"
        );
    }

    #[test]
    fn case_insensitive_keys_and_names() {
        let u = Patch::parse(
            br#"{"SCHEMAS":["urn:ietf:params:scim:api:messages:2.0:patchop"],"operations":[{"OP":"REPLACE","Path":"DisplayName","Value":"Z"}]}"#,
        )
        .unwrap()
        .apply_user(user())
        .unwrap();
        assert_eq!(u.display_name.as_deref(), Some("Z"));
    }

    /// Microsoft's "Update Group [Add Members]", "[Remove Members]" and
    /// "[Non-member attributes]" requests.
    #[test]
    fn entra_group_requests() {
        let g = patch(r#"[{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]"#)
            .unwrap()
            .apply_group(group())
            .unwrap();
        assert_eq!(g.members.len(), 2);
        let g =
            patch(r#"[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"a2a9"}]}]"#)
                .unwrap()
                .apply_group(g)
                .unwrap();
        assert_eq!(
            g.members,
            [Member {
                value: "f648f8d5ea4e4cd38e9c".into(),
                display: None
            }]
        );
        let g = patch(r#"[{"op":"remove","path":"members[value eq \"f648f8d5ea4e4cd38e9c\"]"}]"#)
            .unwrap()
            .apply_group(g)
            .unwrap();
        assert!(g.members.is_empty());
        let g = patch(
            r#"[{"op":"Replace","path":"displayName","value":"1879db59updatedDisplayName"}]"#,
        )
        .unwrap()
        .apply_group(g)
        .unwrap();
        assert_eq!(g.display_name, "1879db59updatedDisplayName");
        let g = patch(r#"[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u1"}]}]"#)
            .unwrap()
            .apply_group(g)
            .unwrap();
        assert_eq!(g.members.len(), 1, "a member is listed once");
        for (ops, code) in [
            (
                r#"[{"op":"replace","path":"id","value":"x"}]"#,
                "mutability",
            ),
            (r#"[{"op":"remove","path":"displayName"}]"#, "invalidValue"),
            (
                r#"[{"op":"add","path":"members","value":[{"display":"x"}]}]"#,
                "invalidValue",
            ),
            (
                r#"[{"op":"add","path":"members[value eq \"x\"]","value":{}}]"#,
                "invalidPath",
            ),
            (
                r#"[{"op":"add","path":"owners","value":"x"}]"#,
                "invalidPath",
            ),
        ] {
            let err = patch(ops).unwrap().apply_group(group()).unwrap_err();
            assert_eq!(err.scim_type(), Some(code), "{ops}: {err}");
        }
    }
}

//! PATCH (RFC 7644 §3.5.2): the `Operations` of a request, parsed once, then applied to a
//! user or a group as a whole (every operation or none: the glue writes the result).
//!
//! Entra's shapes are accepted as Microsoft documents them: `op` in any case ("Replace"),
//! operations without `path` whose value object is keyed by attribute paths, `active` as a
//! boolean or the string "True"/"False", `emails[type eq "work"].value`, and group member
//! removal by a `members` value list as well as by `members[value eq "id"]`.
//!
//! `remove` (RFC 7644 §3.5.2.2) leaves an attribute unassigned; removing one the schema
//! declares required (`userName`, `active`, a group's `displayName`) or read-only (`id`,
//! `meta`) is refused with `mutability`, as that section requires.
//!
//! # Layout
//! - this file: the parsed [`Patch`] and its operations, and the walk over their targets;
//! - [`path`]: the `path` grammar (`attr.sub`, `attr[filter].sub`, extension URNs);
//! - [`values`]: the JSON value of an operation as a string, boolean, emails or members;
//! - [`user`]: the operations on a user's attributes, `emails` among them;
//! - [`group`]: the operations on a group's attributes and members.

mod group;
mod path;
mod user;
mod values;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{AttrPath, Filter};
use super::resource::{ScimGroup, ScimUser};

pub use path::parse_path;

/// The `schemas` URN of a PATCH body.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations in one request; Entra sends one per changed attribute.
pub const MAX_OPERATIONS: usize = 100;

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
                user::apply_attr(&mut user, verb, target, value)
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
                group::apply_attr(&mut group, verb, target, value)
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

#[cfg(test)]
pub(super) mod fixtures {
    //! The user and group the tests of every PATCH file start from.
    use super::*;
    use crate::accounts::UserEmail;
    use crate::scim::resource::{GROUP_SCHEMA, Member, Name, USER_SCHEMA};

    pub(in crate::scim) fn user() -> ScimUser {
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
            emails: vec![UserEmail {
                value: "ann@contoso.com".into(),
                kind: Some("work".into()),
                primary: Some(true),
            }],
            meta: None,
        }
    }

    pub(in crate::scim) fn patch(ops: &str) -> Result<Patch, ScimError> {
        Patch::parse(
            format!(r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{ops}}}"#)
                .as_bytes(),
        )
    }

    pub(in crate::scim) fn on_user(ops: &str) -> Result<ScimUser, ScimError> {
        patch(ops)?.apply_user(user())
    }

    pub(in crate::scim) fn group() -> ScimGroup {
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
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

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
            (r#"[{"op":"remove","path":"userName"}]"#, "mutability"),
            (r#"[{"op":"remove","path":"active"}]"#, "mutability"),
            (r#"[{"op":"Remove","path":"ACTIVE"}]"#, "mutability"),
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
}

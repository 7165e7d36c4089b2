//! PATCH operations on a group: `displayName`, `externalId`, and `members` added,
//! replaced or removed, by a value list (Entra) or a `members[value eq "id"]` filter.

use std::collections::HashSet;

use serde_json::Value;

use super::Verb;
use super::path::{read_only, required, show, unknown};
use super::values::{members_value, optional_string, string};
use crate::scim::error::ScimError;
use crate::scim::filter::{AttrPath, Filter};
use crate::scim::resource::ScimGroup;

/// Applies one verb to one attribute of `group`.
pub(super) fn apply_attr(
    group: &mut ScimGroup,
    verb: Verb,
    (path, filter): (&AttrPath, Option<&Filter>),
    value: Option<&Value>,
) -> Result<(), ScimError> {
    read_only(path)?;
    match (path.attr.as_str(), path.sub.as_deref(), filter, verb) {
        ("displayname", None, None, Verb::Remove) => Err(required("displayName")),
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
    use super::super::fixtures::*;
    use crate::scim::resource::Member;

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
            (r#"[{"op":"remove","path":"displayName"}]"#, "mutability"),
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

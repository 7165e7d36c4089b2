//! PATCH operations on a user's attributes: the single-valued ones, `name` and its parts,
//! and `emails` with its value filters. Attributes realmgate does not keep are accepted
//! and dropped (see `resource`).

use serde_json::{Map, Value};

use super::Verb;
use super::path::{read_only, required, show, unknown};
use super::values::{boolean, email_json, emails_value, optional_string, string};
use crate::accounts::UserEmail;
use crate::scim::error::ScimError;
use crate::scim::filter::{AttrPath, Filter, Literal, Op};
use crate::scim::resource::{Name, ScimUser, email_count};

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

/// Applies one verb to one attribute of `user`.
pub(super) fn apply_attr(
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
            Verb::Remove => return Err(required("userName")),
            _ => user.user_name = string(path, value)?,
        },
        ("externalid", None) => optional_string(&mut user.external_id, verb, path, value)?,
        ("displayname", None) => optional_string(&mut user.display_name, verb, path, value)?,
        ("active", None) => match verb {
            // Whether the person may log in is never left unsaid: the schema declares
            // `active` required, and removing a required attribute is `mutability`.
            Verb::Remove => return Err(required("active")),
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

/// [`change_emails`], then RFC 7644 §3.5.2: a value the operation makes primary makes the
/// values that were primary before it not primary.
fn apply_emails(
    emails: &mut Vec<UserEmail>,
    verb: Verb,
    path: &AttrPath,
    filter: Option<&Filter>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let was_primary: Vec<String> = emails
        .iter()
        .filter(|e| e.primary == Some(true))
        .map(|e| e.value.to_lowercase())
        .collect();
    change_emails(emails, verb, path, filter, value)?;
    if emails.iter().filter(|e| e.primary == Some(true)).count() > 1 {
        for e in emails.iter_mut() {
            if e.primary == Some(true) && was_primary.contains(&e.value.to_lowercase()) {
                e.primary = Some(false);
            }
        }
    }
    Ok(())
}

/// `emails`, `emails.sub`, `emails[filter]`, `emails[filter].sub`.
fn change_emails(
    emails: &mut Vec<UserEmail>,
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
    let selected = |emails: &[UserEmail]| -> Vec<usize> {
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
                emails.push(UserEmail {
                    kind: Some(kind.to_string()),
                    ..UserEmail::default()
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use crate::scim::resource::ScimUser;

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

    /// RFC 7644 §3.5.2.2: a removed attribute is unassigned, whatever its kind.
    #[test]
    fn remove_leaves_attributes_unassigned() {
        for (path, gone) in [
            (
                "name",
                (|u: &ScimUser| u.name.is_none()) as fn(&ScimUser) -> bool,
            ),
            ("displayName", |u| u.display_name.is_none()),
            ("externalId", |u| u.external_id.is_none()),
            ("emails", |u| u.emails.is_empty()),
            ("name.givenName", |u| {
                u.name.as_ref().is_some_and(|n| n.given_name.is_none())
                    && u.name.as_ref().unwrap().family_name.as_deref() == Some("Lee")
            }),
            (r#"emails[value eq "ann@contoso.com"]"#, |u| {
                u.emails.is_empty()
            }),
            ("title", |u| u.user_name == "ann@contoso.com"),
        ] {
            let u = on_user(&format!(
                r#"[{{"op":"remove","path":{}}}]"#,
                serde_json::json!(path)
            ))
            .unwrap();
            assert!(gone(&u), "{path}: {u:?}");
        }
    }

    /// RFC 7644 §3.5.2: a new primary value demotes the one before it; two new ones at once
    /// are refused by the checks of the result (`ScimUser::checked`).
    #[test]
    fn a_new_primary_email_demotes_the_old_one() {
        let u = on_user(
            r#"[{"op":"add","path":"emails","value":[{"value":"a@home.example","primary":true}]}]"#,
        )
        .unwrap();
        assert_eq!(
            u.emails
                .iter()
                .map(|e| (e.value.as_str(), e.primary))
                .collect::<Vec<_>>(),
            [
                ("ann@contoso.com", Some(false)),
                ("a@home.example", Some(true))
            ]
        );
        let u = on_user(
            r#"[{"op":"add","path":"emails","value":[{"value":"a@x.y","primary":true},{"value":"b@x.y","primary":true}]}]"#,
        )
        .unwrap();
        assert_eq!(
            u.checked().unwrap_err().scim_type(),
            Some("invalidValue"),
            "two new primaries"
        );
    }
}

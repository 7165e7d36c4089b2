//! The JSON `value` of an operation, read as the attribute it targets expects: a string,
//! a boolean (Entra's "True"/"False" too), a list of emails or of group members.

use serde_json::Value;

use super::Verb;
use super::path::show;
use crate::accounts::UserEmail;
use crate::scim::error::ScimError;
use crate::scim::filter::AttrPath;
use crate::scim::resource::{Member, email_count};

pub(super) fn string(path: &AttrPath, value: Option<&Value>) -> Result<String, ScimError> {
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ScimError::InvalidValue(format!(
            "{} must be a string",
            show(path)
        ))),
    }
}

/// A boolean, or Entra's string spelling of one ("True", "False").
pub(super) fn boolean(path: &AttrPath, value: Option<&Value>) -> Result<bool, ScimError> {
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

/// A single-valued string: set, or removed to `None`.
pub(super) fn optional_string(
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

pub(super) fn email_json(email: &UserEmail) -> Value {
    serde_json::to_value(email).unwrap_or_default()
}

pub(super) fn emails_value(value: Option<&Value>) -> Result<Vec<UserEmail>, ScimError> {
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
            serde_json::from_value::<UserEmail>(v)
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

pub(super) fn members_value(value: Option<&Value>) -> Result<Vec<Member>, ScimError> {
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

//! The PATCH `path` grammar (RFC 7644 §3.5.2 `PATH`): an attribute, a sub-attribute, a
//! value filter on a multi-valued attribute, or an attribute of the enterprise extension
//! (accepted, not kept), bounded in length like a filter.

use super::Target;
use crate::scim::error::ScimError;
use crate::scim::filter::{self, AttrPath, Filter};
use crate::scim::resource::ENTERPRISE_SCHEMA;

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

pub(super) fn show(path: &AttrPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.attr),
        None => path.attr.clone(),
    }
}

pub(super) fn unknown(path: &AttrPath) -> ScimError {
    ScimError::InvalidPath(format!("no attribute {}", show(path)))
}

pub(super) fn read_only(path: &AttrPath) -> Result<(), ScimError> {
    match path.attr.as_str() {
        "id" | "meta" => Err(ScimError::Mutability(show(path))),
        _ => Ok(()),
    }
}

/// The refusal of a `remove` of a required attribute (RFC 7644 §3.5.2.2: `mutability`).
pub(super) fn required(attr: &str) -> ScimError {
    ScimError::Mutability(format!("{attr} is required and cannot be removed"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

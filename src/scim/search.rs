//! `POST /.search` (RFC 7644 §3.4.3): a query sent as a JSON body instead of URL
//! parameters, so a filter holding personal data (an email) stays out of URLs and logs.
//! It asks exactly what `GET` asks, and is answered by the same code.

use serde::Deserialize;

use super::error::ScimError;

/// The SearchRequest message URN.
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A SearchRequest body, limited to what a `GET` query can say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Must name [`SEARCH_SCHEMA`].
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Attributes to return (the query's `attributes`).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Attributes not to return (`excludedAttributes`).
    #[serde(default)]
    pub excluded_attributes: Vec<String>,
    /// The filter (`filter`).
    #[serde(default)]
    pub filter: Option<String>,
    /// 1-based index of the first result (`startIndex`).
    #[serde(default)]
    pub start_index: Option<i64>,
    /// Most results (`count`).
    #[serde(default)]
    pub count: Option<i64>,
    /// Sorting is not offered (ServiceProviderConfig `sort.supported` is false): a request
    /// for it is refused rather than answered unsorted as if it had been honoured.
    #[serde(default)]
    pub sort_by: Option<String>,
}

impl SearchRequest {
    /// Parses a body: JSON, the SearchRequest schema named, no `sortBy`.
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let request: Self = serde_json::from_slice(body).map_err(ScimError::InvalidSyntax)?;
        if !request
            .schemas
            .iter()
            .any(|s| s.eq_ignore_ascii_case(SEARCH_SCHEMA))
        {
            return Err(ScimError::InvalidRequest(format!(
                "schemas must include {SEARCH_SCHEMA}"
            )));
        }
        if request.sort_by.is_some() {
            return Err(ScimError::InvalidValue("sorting is not supported".into()));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_request_parses_and_refuses_what_get_cannot_say() {
        let r = SearchRequest::parse(
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "attributes":["userName","name.givenName"],"excludedAttributes":["emails"],
                "filter":"userName eq \"a@b.c\"","startIndex":2,"count":5}"#,
        )
        .unwrap();
        assert_eq!(r.attributes, ["userName", "name.givenName"]);
        assert_eq!(r.filter.as_deref(), Some(r#"userName eq "a@b.c""#));
        assert_eq!((r.start_index, r.count), (Some(2), Some(5)));
        for (body, code) in [
            (r#"{"filter":"x"}"#, "invalidSyntax"),
            ("[", "invalidSyntax"),
            (
                r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":"userName"}"#,
                "invalidSyntax",
            ),
            (
                r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"sortBy":"userName"}"#,
                "invalidValue",
            ),
        ] {
            let e = SearchRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.scim_type(), Some(code), "{body}: {e}");
        }
    }
}

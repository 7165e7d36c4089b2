//! The discovery documents (RFC 7644 §4, RFC 7643 §5-7): what the server supports, its
//! resource types, and the schema of each. Compliance checkers such as scim2-tester read
//! `Schemas` to decide which attributes to write and expect back, so it lists exactly what
//! realmgate keeps (see `resource`), with the RFC 7643 characteristics of each.

use serde_json::{Value, json};

use super::resource::{GROUP_SCHEMA, ListResponse, Page, USER_SCHEMA};

/// `filter.maxResults`: the largest page a query returns.
pub const MAX_RESULTS: usize = 100;

fn location(base: &str, rest: &str) -> String {
    format!("{}/{rest}", base.trim_end_matches('/'))
}

fn list(items: Vec<Value>) -> ListResponse<Value> {
    Page::new(None, None, MAX_RESULTS).envelope(items.len(), items)
}

/// `GET /ServiceProviderConfig`; `base` is the tenant's SCIM root.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "An API token of scope scim for the account, as Authorization: Bearer",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": location(base, "ServiceProviderConfig")
        }
    })
}

/// `GET /ResourceTypes/{name}`: `User` or `Group`.
pub fn resource_type(base: &str, name: &str) -> Option<Value> {
    let (endpoint, schema, description) = match name {
        "User" => ("/Users", USER_SCHEMA, "People who log in through realmgate"),
        "Group" => (
            "/Groups",
            GROUP_SCHEMA,
            "Groups of users, accepted and listed",
        ),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": location(base, &format!("ResourceTypes/{name}"))}
    }))
}

/// `GET /ResourceTypes`.
pub fn resource_types(base: &str) -> ListResponse<Value> {
    list(
        ["User", "Group"]
            .iter()
            .filter_map(|n| resource_type(base, n))
            .collect(),
    )
}

/// One attribute definition (RFC 7643 §7). `unique` is `server` or `none`.
struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    unique: &'static str,
    sub: Vec<Attr>,
    canonical: &'static [&'static str],
}

fn attr(name: &'static str, kind: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        unique: "none",
        sub: Vec::new(),
        canonical: &[],
    }
}

impl Attr {
    fn json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "description": self.name,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": "default",
            "uniqueness": self.unique,
        });
        if !self.sub.is_empty() {
            v["subAttributes"] = self.sub.iter().map(Attr::json).collect();
        }
        if !self.canonical.is_empty() {
            v["canonicalValues"] = json!(self.canonical);
        }
        v
    }
}

fn user_attributes() -> Vec<Attr> {
    vec![
        Attr {
            required: true,
            unique: "server",
            ..attr("userName", "string")
        },
        Attr {
            case_exact: true,
            ..attr("externalId", "string")
        },
        Attr {
            sub: vec![
                attr("formatted", "string"),
                attr("familyName", "string"),
                attr("givenName", "string"),
            ],
            ..attr("name", "complex")
        },
        attr("displayName", "string"),
        // Required: whether a person may log in is always known. A POST without it still
        // creates an active user (Entra always sends it), but a PATCH cannot remove it.
        Attr {
            required: true,
            ..attr("active", "boolean")
        },
        Attr {
            multi: true,
            sub: vec![
                attr("value", "string"),
                Attr {
                    canonical: &["work", "home", "other"],
                    ..attr("type", "string")
                },
                attr("primary", "boolean"),
            ],
            ..attr("emails", "complex")
        },
    ]
}

fn group_attributes() -> Vec<Attr> {
    vec![
        Attr {
            required: true,
            ..attr("displayName", "string")
        },
        Attr {
            case_exact: true,
            ..attr("externalId", "string")
        },
        Attr {
            multi: true,
            sub: vec![
                Attr {
                    case_exact: true,
                    mutability: "immutable",
                    ..attr("value", "string")
                },
                Attr {
                    mutability: "readOnly",
                    ..attr("display", "string")
                },
            ],
            ..attr("members", "complex")
        },
    ]
}

/// `GET /Schemas/{id}`: the User or Group schema definition.
pub fn schema(base: &str, id: &str) -> Option<Value> {
    let (name, attributes) = if id.eq_ignore_ascii_case(USER_SCHEMA) {
        ("User", user_attributes())
    } else if id.eq_ignore_ascii_case(GROUP_SCHEMA) {
        ("Group", group_attributes())
    } else {
        return None;
    };
    let id = if name == "User" {
        USER_SCHEMA
    } else {
        GROUP_SCHEMA
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": format!("{name} as realmgate keeps it"),
        "attributes": attributes.iter().map(Attr::json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": location(base, &format!("Schemas/{id}"))}
    }))
}

/// `GET /Schemas`.
pub fn schemas(base: &str) -> ListResponse<Value> {
    list(
        [USER_SCHEMA, GROUP_SCHEMA]
            .iter()
            .filter_map(|id| schema(base, id))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://gw.example/scim/v2/contoso";

    #[test]
    fn service_provider_config_says_what_is_supported() {
        let c = service_provider_config(BASE);
        assert_eq!(c["patch"]["supported"], true);
        assert_eq!(
            c["filter"],
            json!({"supported": true, "maxResults": MAX_RESULTS})
        );
        for off in ["bulk", "sort", "etag", "changePassword"] {
            assert_eq!(c[off]["supported"], false, "{off}");
        }
        assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            c["meta"]["location"],
            format!("{BASE}/ServiceProviderConfig")
        );
    }

    #[test]
    fn resource_types_and_schemas() {
        let types = serde_json::to_value(resource_types(&format!("{BASE}/"))).unwrap();
        assert_eq!(types["totalResults"], 2);
        assert_eq!(types["Resources"][0]["schema"], USER_SCHEMA);
        assert_eq!(types["Resources"][1]["endpoint"], "/Groups");
        assert_eq!(
            types["Resources"][0]["meta"]["location"],
            format!("{BASE}/ResourceTypes/User")
        );
        assert!(resource_type(BASE, "Device").is_none());

        let user = schema(BASE, &USER_SCHEMA.to_uppercase()).unwrap();
        assert_eq!(user["id"], USER_SCHEMA);
        let attrs = user["attributes"].as_array().unwrap();
        let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!(
            (
                &user_name["required"],
                &user_name["uniqueness"],
                &user_name["caseExact"]
            ),
            (&json!(true), &json!("server"), &json!(false))
        );
        let active = attrs.iter().find(|a| a["name"] == "active").unwrap();
        assert_eq!(active["required"], true, "a PATCH cannot remove it");
        let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"].as_array().unwrap().len(), 3);
        assert_eq!(
            serde_json::to_value(schemas(BASE)).unwrap()["totalResults"],
            2
        );
        assert!(
            schema(
                BASE,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            )
            .is_none()
        );
    }
}

//! SCIM 2.0 provisioning end to end against the real gateway: Microsoft Entra's documented
//! request shapes (Entra SCIM tutorial and "Known issues" pages, the tutorial's examples
//! replayed from `tests/testdata/scim/entra/`), the token rules of every route, and
//! scim2-tester, a compliance checker nobody here wrote. Every scenario runs on SQLite and
//! on PostgreSQL (`TEST_POSTGRES_URL`; required under CI, skipped with a message otherwise).

mod common;

use std::process::Command;

use common::api::token;
use common::{TestApp, spawn_app};
use realmgate::accounts::{NewUser, Origin, Status};
use realmgate::admin::Scope;
use realmgate::config::Config;
use realmgate::discovery::Email;
use serde_json::{Value, json};

/// Each named scenario (an `async fn(&TestApp)`) as two tests, `NAME::sqlite` and
/// `NAME::postgresql`, the gateway's configuration adjusted by the optional `tweak`.
macro_rules! on_both_databases {
    ($($scenario:ident $(with $tweak:expr)?;)+) => {$(
        mod $scenario {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                let app = spawn_app(|_c: &mut Config| { $( ($tweak)(_c); )? }).await;
                super::$scenario(&app).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgresql() {
                let Some(schema) = common::pg_schema().await else {
                    return;
                };
                let url = schema.url.clone();
                let app = spawn_app(move |c: &mut Config| {
                    $( ($tweak)(c); )?
                    c.database_url = Some(url);
                })
                .await;
                super::$scenario(&app).await;
                drop(app);
                schema.drop().await;
            }
        }
    )+};
}

on_both_databases! {
    entra_user_lifecycle;
    active_true_approves_a_waiting_user;
    entra_groups;
    search_asks_in_a_body_what_get_asks_in_the_url;
    tokens_reach_only_their_account_and_scope
        with |c: &mut Config| c.lockout_after_failures = 100;
    ids_of_another_account_are_absent;
    disabling_or_deleting_ends_the_session;
    entra_documented_requests;
    scim2_tester_finds_no_failures_in_users;
}

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A SCIM client of one tenant.
struct Scim {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    /// The client of a new account token of scope `scim` named `name`.
    async fn provisioning(app: &TestApp, name: &str, account: &str) -> Self {
        Self::new(
            app,
            account,
            &token(app, name, Some(account), Scope::Scim).await,
        )
    }

    fn new(app: &TestApp, account: &str, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: app.at(&format!("/scim/v2/{account}")),
            token: token.to_string(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        if status != 204 {
            assert_eq!(
                res.headers()["content-type"],
                "application/scim+json",
                "{path}"
            );
        }
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
}

/// Microsoft's "Create User" request, with an address of the tenant.
fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

fn replace(path: Option<&str>, value: Value) -> Value {
    let mut op = json!({"op": "Replace", "value": value});
    if let Some(path) = path {
        op["path"] = json!(path);
    }
    json!({"schemas": [PATCH_OP], "Operations": [op]})
}

/// The stored user of SCIM id `id`.
async fn stored(app: &TestApp, id: &str) -> realmgate::accounts::User {
    let id: i64 = id.parse().unwrap();
    app.state.users.by_id(id).await.unwrap().unwrap()
}

async fn status_of(app: &TestApp, id: &str) -> Option<Status> {
    let id: i64 = id.parse().unwrap();
    app.state.users.by_id(id).await.unwrap().map(|u| u.status)
}

async fn entra_user_lifecycle(app: &TestApp) {
    let scim = Scim::provisioning(app, "entra", "contoso").await;

    let (status, user) = scim
        .post("/Users", entra_user("ann@contoso.com", "0a21f0f2-ann"))
        .await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().unwrap().to_string();
    assert_eq!(user["userName"], "ann@contoso.com");
    assert_eq!(user["externalId"], "0a21f0f2-ann");
    assert_eq!(user["active"], true);
    assert_eq!(user["displayName"], "givenName familyName");
    assert_eq!(status_of(app, &id).await, Some(Status::Active));
    let row = stored(app, &id).await;
    assert_eq!(row.origin, Origin::Scim, "a SCIM user is not the CLI's");

    // Entra's matching query, in another case, and by externalId.
    for filter in [
        r#"userName eq "ANN@contoso.com""#,
        r#"externalId eq "0a21f0f2-ann""#,
    ] {
        let (status, list) = scim
            .get(&format!("/Users?filter={}", urlencode(filter)))
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["totalResults"], 1, "{filter}: {list}");
        assert_eq!(list["Resources"][0]["id"], id.as_str());
    }
    let (_, none) = scim
        .get(&format!(
            "/Users?filter={}",
            urlencode(r#"userName eq "bob@contoso.com""#)
        ))
        .await;
    assert_eq!(none["totalResults"], 0);
    assert_eq!(none["Resources"], json!([]));

    // attributes and excludedAttributes (RFC 7644 §3.4.2.5); id is always returned.
    let (_, list) = scim.get("/Users?excludedAttributes=name,emails").await;
    let listed = &list["Resources"][0];
    assert!(
        listed.get("name").is_none() && listed.get("emails").is_none(),
        "{list}"
    );
    assert_eq!(listed["userName"], "ann@contoso.com");
    let (_, one) = scim.get(&format!("/Users/{id}?attributes=userName")).await;
    assert_eq!(
        one.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "schemas", "userName"],
        "{one}"
    );

    // The same userName or externalId again: 409 uniqueness.
    for body in [
        entra_user("Ann@Contoso.com", "another"),
        entra_user("ann2@contoso.com", "0a21f0f2-ann"),
    ] {
        let (status, err) = scim.post("/Users", body).await;
        assert_eq!(status, 409, "{err}");
        assert_eq!(err["scimType"], "uniqueness");
        assert_eq!(err["schemas"][0], ERROR);
    }
    // An address outside the tenant's domains, and a userName that is no address.
    for name in ["ann@fabrikam.com", "Test_User_ab6490ee"] {
        let (status, err) = scim.post("/Users", entra_user(name, name)).await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["scimType"], "invalidValue");
    }

    let at = format!("/Users/{id}");
    // Entra disables with the string "False" and, in the fixed behaviour, the boolean.
    for value in [json!("False"), json!(true), json!(false)] {
        let (status, user) = scim
            .patch(&at, replace(Some("active"), value.clone()))
            .await;
        assert_eq!(status, 200, "{user}");
        let active = value == json!(true);
        assert_eq!(user["active"], active);
        let want = if active {
            Status::Active
        } else {
            Status::Disabled
        };
        assert_eq!(status_of(app, &id).await, Some(want), "{value}");
    }
    let (_, user) = scim
        .patch(&at, replace(Some("active"), json!("True")))
        .await;
    assert_eq!(user["active"], true);

    // emails[type eq "work"].value, and an operation without path keyed by attribute paths.
    let (status, user) = scim
        .patch(
            &at,
            replace(
                Some(r#"emails[type eq "work"].value"#),
                json!("ann@contoso.com"),
            ),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    let (status, user) = scim
        .patch(
            &at,
            replace(
                None,
                json!({"displayName": "Ann Lee", "externalId": "ann-new", "name.givenName": "Ann"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["displayName"], "Ann Lee");
    assert_eq!(user["externalId"], "ann-new");
    let row = stored(app, &id).await;
    assert_eq!(row.name, "Ann Lee");
    assert_eq!(row.external_id.as_deref(), Some("ann-new"));

    // A rename changes the login address, within the tenant's domains and to nobody
    // else's; the IdP subject the user is bound to stays theirs.
    let ann_id: i64 = id.parse().unwrap();
    assert!(
        app.state
            .users
            .bind_subject(ann_id, "subject-ann")
            .await
            .unwrap()
    );
    let (status, user) = scim
        .patch(&at, replace(Some("userName"), json!("ann.lee@contoso.com")))
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["userName"], "ann.lee@contoso.com");
    assert_eq!(
        user["emails"],
        json!([{"value": "ann.lee@contoso.com", "type": "work", "primary": true}]),
        "the email that was the login address follows it"
    );
    let bound = app
        .state
        .users
        .by_subject("contoso", "subject-ann")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (bound.id, bound.email.as_str()),
        (ann_id, "ann.lee@contoso.com")
    );
    let other = NewUser::new(
        "contoso",
        Email::parse("taken@contoso.com").unwrap(),
        Origin::Cli,
        chrono::Utc::now(),
    );
    app.state.users.add(other).await.unwrap();
    for (address, want) in [
        ("ann@fabrikam.com", (400, Some("invalidValue"))),
        ("TAKEN@contoso.com", (409, Some("uniqueness"))),
        ("not an address", (400, Some("invalidValue"))),
    ] {
        let (status, err) = scim
            .patch(&at, replace(Some("userName"), json!(address)))
            .await;
        assert_eq!((status, err["scimType"].as_str()), want, "{address}: {err}");
    }
    let row = stored(app, &id).await;
    assert_eq!(row.email.as_str(), "ann.lee@contoso.com");

    // Every change is audited under the token's name.
    let events = app
        .state
        .admin
        .audit
        .list(Some("contoso"), None, 100)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "user_disabled" && e.actor == "entra")
    );
    let renamed = events
        .iter()
        .find(|e| e.action == "user_renamed")
        .expect("the rename is audited");
    assert_eq!(renamed.before.as_ref().unwrap()["email"], "ann@contoso.com");
    assert_eq!(
        renamed.after.as_ref().unwrap()["email"],
        "ann.lee@contoso.com"
    );
    assert!(
        events
            .iter()
            .filter(|e| e.action.starts_with("user_"))
            .all(|e| e.actor == "entra"),
        "{events:?}"
    );

    let (status, _) = scim.send(reqwest::Method::DELETE, &at, None).await;
    assert_eq!(status, 204);
    assert_eq!(status_of(app, &id).await, None);
    let (status, err) = scim.get(&at).await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["status"], "404");
}

/// Entra assigning a Waiting Room user to the app is the administrator's approval.
async fn active_true_approves_a_waiting_user(app: &TestApp) {
    let scim = Scim::provisioning(app, "entra", "contoso").await;
    let mut new = NewUser::new(
        "contoso",
        Email::parse("wait@contoso.com").unwrap(),
        Origin::Jit,
        chrono::Utc::now(),
    );
    new.status = Status::Waiting;
    let waiting = app.state.users.add(new).await.unwrap();
    let at = format!("/Users/{}", waiting.id);
    let (_, user) = scim.get(&at).await;
    assert_eq!(user["active"], false, "a waiting user is not active");
    let (status, user) = scim.patch(&at, replace(Some("active"), json!(true))).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["active"], true);
    assert_eq!(
        status_of(app, &waiting.id.to_string()).await,
        Some(Status::Active)
    );
    let events = app
        .state
        .admin
        .audit
        .list(Some("contoso"), None, 10)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "user_approved" && e.actor == "entra")
    );
}

async fn entra_groups(app: &TestApp) {
    let scim = Scim::provisioning(app, "entra", "contoso").await;
    let (_, user) = scim
        .post("/Users", entra_user("gus@contoso.com", "gus"))
        .await;
    let user_id = user["id"].as_str().unwrap();
    let (status, group) = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "externalId": "8aa1a0c0", "displayName": "Sales",
                   "meta": {"resourceType": "Group"}}),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let at = format!("/Groups/{}", group["id"].as_str().unwrap());
    let add = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": "members", "value": [{"value": user_id}]}]});
    let (status, _) = scim.patch(&at, add).await;
    assert_eq!(status, 204, "a group PATCH answers without a body");
    let (_, group) = scim.get(&at).await;
    assert_eq!(group["members"][0]["value"], user_id, "{group}");
    let (status, list) = scim
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            urlencode(r#"displayName eq "Sales""#)
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["totalResults"], 1);
    let (_, all) = scim.get("/Groups").await;
    assert_eq!(all["totalResults"], 1);
    let remove = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Remove", "path": format!("members[value eq \"{user_id}\"]")}]});
    let (status, _) = scim.patch(&at, remove).await;
    assert_eq!(status, 204);
    let (_, group) = scim.get(&at).await;
    assert!(group.get("members").is_none(), "{group}");
    let (status, _) = scim.send(reqwest::Method::DELETE, &at, None).await;
    assert_eq!(status, 204);
}

/// Every route, with a body where it takes one.
fn routes(user: &str, group: &str) -> Vec<(reqwest::Method, String, Option<Value>)> {
    use reqwest::Method;
    let u = format!("/Users/{user}");
    let g = format!("/Groups/{group}");
    let patch = replace(Some("active"), json!(false));
    vec![
        (Method::GET, "/Users".into(), None),
        (
            Method::POST,
            "/Users".into(),
            Some(entra_user("x@contoso.com", "x")),
        ),
        (Method::GET, u.clone(), None),
        (
            Method::PUT,
            u.clone(),
            Some(entra_user("own@contoso.com", "own")),
        ),
        (Method::PATCH, u.clone(), Some(patch.clone())),
        (Method::DELETE, u, None),
        (Method::GET, "/Groups".into(), None),
        (
            Method::POST,
            "/Groups".into(),
            Some(json!({"schemas": [GROUP], "displayName": "x"})),
        ),
        (Method::GET, g.clone(), None),
        (
            Method::PUT,
            g.clone(),
            Some(json!({"schemas": [GROUP], "displayName": "y"})),
        ),
        (
            Method::PATCH,
            g.clone(),
            Some(replace(Some("displayName"), json!("z"))),
        ),
        (Method::DELETE, g, None),
        (Method::GET, "/ServiceProviderConfig".into(), None),
        (Method::GET, "/ResourceTypes".into(), None),
        (Method::GET, "/ResourceTypes/User".into(), None),
        (Method::GET, "/Schemas".into(), None),
        (Method::GET, format!("/Schemas/{USER}"), None),
        (Method::POST, "/Bulk".into(), Some(json!({}))),
        (Method::POST, "/.search".into(), Some(search(None, &[]))),
        (
            Method::POST,
            "/Users/.search".into(),
            Some(search(None, &[])),
        ),
        (
            Method::POST,
            "/Groups/.search".into(),
            Some(search(None, &[])),
        ),
    ]
}

/// A SearchRequest body (RFC 7644 §3.4.3).
fn search(filter: Option<&str>, attributes: &[&str]) -> Value {
    let mut body = json!({"schemas": [SEARCH], "attributes": attributes});
    if let Some(f) = filter {
        body["filter"] = json!(f);
    }
    body
}

/// `POST /.search` asks in a body what `GET` asks in the URL, per resource type and at the
/// root over users and groups; a body that is not a SearchRequest, or asks to sort, is a 400.
async fn search_asks_in_a_body_what_get_asks_in_the_url(app: &TestApp) {
    let scim = Scim::provisioning(app, "entra", "contoso").await;
    for (name, ext) in [("ann@contoso.com", "e-ann"), ("bob@contoso.com", "e-bob")] {
        let (status, body) = scim.post("/Users", entra_user(name, ext)).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _) = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Sales"}),
        )
        .await;
    assert_eq!(status, 201);

    let (status, list) = scim
        .post(
            "/Users/.search",
            search(Some(r#"userName eq "bob@contoso.com""#), &["userName"]),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["totalResults"], 1);
    let bob = &list["Resources"][0];
    assert_eq!(bob["userName"], "bob@contoso.com");
    assert!(
        bob.get("externalId").is_none() && bob["id"].is_string(),
        "{bob}"
    );
    // A filter no index answers, and paging, as in GET.
    let mut body = search(Some(r#"externalId sw "e-""#), &[]);
    body["count"] = json!(1);
    body["startIndex"] = json!(2);
    let (status, list) = scim.post("/Users/.search", body).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        (list["totalResults"].as_u64(), list["itemsPerPage"].as_u64()),
        (Some(2), Some(1))
    );
    let (_, list) = scim
        .post(
            "/Groups/.search",
            search(Some(r#"displayName eq "Sales""#), &[]),
        )
        .await;
    assert_eq!(list["Resources"][0]["displayName"], "Sales", "{list}");
    // The root searches both types.
    let (status, list) = scim.post("/.search", search(None, &[])).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["totalResults"], 3, "{list}");
    let (_, list) = scim
        .post(
            "/.search",
            search(Some(r#"displayName eq "Sales""#), &["displayName"]),
        )
        .await;
    assert_eq!(list["totalResults"], 1, "{list}");
    assert_eq!(list["Resources"][0]["schemas"][0], GROUP);

    let mut sorted = search(None, &[]);
    sorted["sortBy"] = json!("userName");
    for (body, scim_type) in [
        (json!({"filter": "userName pr"}), "invalidSyntax"),
        (sorted, "invalidValue"),
        (search(Some("userName zz 1"), &[]), "invalidFilter"),
    ] {
        let (status, err) = scim.post("/Users/.search", body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["scimType"], scim_type, "{body}: {err}");
    }
}

/// Every route with two bad tokens is more misses than the lockout allows (see
/// `failed_lookups_are_rate_limited`): the scenario runs with a higher lockout.
async fn tokens_reach_only_their_account_and_scope(app: &TestApp) {
    let own = Scim::provisioning(app, "entra", "contoso").await;
    let (_, user) = own
        .post("/Users", entra_user("own@contoso.com", "own"))
        .await;
    let (_, group) = own
        .post("/Groups", json!({"schemas": [GROUP], "displayName": "Own"}))
        .await;
    let (user, group) = (user["id"].as_str().unwrap(), group["id"].as_str().unwrap());
    let other = token(app, "fab", Some("fabrikam"), Scope::Scim).await;
    let admin = token(app, "ops", Some("contoso"), Scope::Admin).await;
    let operator = token(app, "all", None, Scope::Scim).await;
    let cases = [
        (other.as_str(), 404),
        (admin.as_str(), 403),
        (operator.as_str(), 403),
        ("rg_not-a-token", 401),
        ("", 401),
    ];
    for (value, want) in cases {
        let client = Scim::new(app, "contoso", value);
        for (method, path, body) in routes(user, group) {
            let (status, err) = client.send(method.clone(), &path, body).await;
            assert_eq!(status, want, "{method} {path} with {value:?}: {err}");
            assert_eq!(err["schemas"][0], ERROR, "{method} {path}");
            assert_eq!(err["status"], want.to_string());
        }
    }
    // An absent account answers like another's.
    let (status, _) = Scim::new(app, "nosuch", &other).get("/Users").await;
    assert_eq!(status, 404);
    // Nothing changed through the refused requests.
    assert_eq!(status_of(app, user).await, Some(Status::Active));
    let (status, _) = own.get(&format!("/Groups/{group}")).await;
    assert_eq!(status, 200);
    let (status, _) = own.get("/ServiceProviderConfig").await;
    assert_eq!(status, 200);
}

/// `active: false` ends a signed-in user's session at once on the instance that got it
/// (other instances: within the 30 s status cache), and so does DELETE.
async fn disabling_or_deleting_ends_the_session(app: &TestApp) {
    let scim = Scim::provisioning(app, "entra", "fabrikam").await;
    for (address, end) in [
        (
            "carol@fabrikam.com",
            Some(replace(Some("active"), json!("False"))),
        ),
        ("dave@fabrikam.com", None),
    ] {
        let user = common::add_active(app, "fabrikam", address, "correct horse").await;
        let client = app.client();
        let login = common::password_login(
            app,
            &client,
            &[("email", address), ("password", "correct horse")],
        )
        .await;
        assert_eq!(login.status(), 303);
        let verify = || async {
            client
                .get(app.at("/auth/verify"))
                .send()
                .await
                .unwrap()
                .status()
        };
        assert_eq!(
            verify().await,
            200,
            "the status cache now holds the user as active"
        );
        let at = format!("/Users/{}", user.id);
        let (status, _) = match end {
            Some(disable) => scim.patch(&at, disable).await,
            None => scim.send(reqwest::Method::DELETE, &at, None).await,
        };
        assert!(matches!(status, 200 | 204), "{address}: {status}");
        assert_eq!(verify().await, 401, "{address}: the session ends");
    }
}

/// Failed token lookups lock the client address out, as the management API's do.
/// The lockout lives in the session store, not in the users' database: SQLite only.
#[tokio::test]
async fn failed_lookups_are_rate_limited() {
    let app = spawn_app(|_| {}).await;
    let good = token(&app, "entra", Some("contoso"), Scope::Scim).await;
    let bad = Scim::new(&app, "contoso", "rg_guess");
    for _ in 0..5 {
        assert_eq!(bad.get("/Users").await.0, 401);
    }
    let (status, err) = bad.get("/Users").await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["schemas"][0], ERROR);
    let (status, _) = Scim::new(&app, "contoso", &good).get("/Users").await;
    assert_eq!(
        status, 429,
        "a locked-out address is refused even with a good token"
    );
}

/// scim2-tester's checks against the live gateway: no Users check may fail (ERROR or
/// CRITICAL); the checks it skips are the ones the server says it does not support.
async fn scim2_tester_finds_no_failures_in_users(app: &TestApp) {
    let py = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python3");
    if !common::require_program(py) {
        return;
    }
    let has_tester = Command::new(py)
        .args(["-c", "import scim2_tester, httpx2"])
        .status()
        .unwrap()
        .success();
    if !has_tester {
        assert!(
            !common::under_ci(),
            "scim2-tester is required under CI (tests/idp/requirements.txt)"
        );
        eprintln!("skipped: scim2-tester is not installed in .venv");
        return;
    }
    let value = token(app, "scim2-tester", Some("contoso"), Scope::Scim).await;
    let base = app.at("/scim/v2/contoso");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/idp/scim_check.py"
            ))
            .args([&base, &value, "contoso.com"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scim2-tester failed to run: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let users: Vec<&Value> = results
        .iter()
        .filter(|r| r["resource_type"] == "User")
        .collect();
    assert!(
        users.len() >= 4,
        "scim2-tester ran no Users checks: {stdout}"
    );
    let failed: Vec<&&Value> = users
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("ERROR" | "CRITICAL")))
        .collect();
    let passed = users.iter().filter(|r| r["status"] == "SUCCESS").count();
    assert!(
        passed >= 20,
        "scim2-tester passed only {passed} Users checks: {stdout}"
    );
    assert!(
        failed.is_empty(),
        "scim2-tester Users failures: {failed:#?}"
    );
}

/// An account's token names the resources of its own account only: the ids of another
/// account's user and group answer 404 on every route that takes an id, as an absent id
/// would, and nothing of the other account changes.
async fn ids_of_another_account_are_absent(app: &TestApp) {
    let fabrikam = Scim::provisioning(app, "fab", "fabrikam").await;
    let (status, user) = fabrikam
        .post("/Users", entra_user("erin@fabrikam.com", "erin"))
        .await;
    assert_eq!(status, 201, "{user}");
    let (status, group) = fabrikam
        .post("/Groups", json!({"schemas": [GROUP], "displayName": "Fab"}))
        .await;
    assert_eq!(status, 201, "{group}");
    let (user, group) = (user["id"].as_str().unwrap(), group["id"].as_str().unwrap());
    let contoso = Scim::provisioning(app, "entra", "contoso").await;
    for (method, path, body) in routes(user, group)
        .into_iter()
        .filter(|(_, path, _)| path.contains(user) || path.contains(group))
    {
        let (status, err) = contoso.send(method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {err}");
        assert_eq!(err["schemas"][0], ERROR, "{method} {path}");
    }
    let (status, still) = fabrikam.get(&format!("/Users/{user}")).await;
    assert_eq!((status, &still["active"]), (200, &json!(true)), "{still}");
    assert_eq!(still["userName"], "erin@fabrikam.com");
    let (status, still) = fabrikam.get(&format!("/Groups/{group}")).await;
    assert_eq!(
        (status, &still["displayName"]),
        (200, &json!("Fab")),
        "{still}"
    );
}

/// One of Microsoft's documented bodies in `tests/testdata/scim/entra/` (see its README).
fn entra(name: &str) -> Value {
    let path = format!(
        "{}/tests/testdata/scim/entra/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Where `ours` lacks an attribute of Microsoft's documented answer `doc`, or has it with
/// another JSON type: objects are compared key by key (in any letter case), lists by their
/// first item. An empty list is an unassigned attribute (RFC 7643 §2.5), which may be
/// absent; `unkept` names attributes realmgate accepts and drops.
fn shape_gaps(doc: &Value, ours: &Value, at: &str, unkept: &[&str], gaps: &mut Vec<String>) {
    match (doc, ours) {
        (Value::Object(doc), Value::Object(ours)) => {
            for (key, want) in doc {
                if unkept.contains(&key.as_str()) {
                    continue;
                }
                let here = format!("{at}.{key}");
                match ours.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                    Some((_, got)) => shape_gaps(want, got, &here, unkept, gaps),
                    None if want.as_array().is_some_and(Vec::is_empty) => {}
                    None => gaps.push(format!("{here} is missing")),
                }
            }
        }
        (Value::Array(doc), Value::Array(ours)) => {
            if let Some(want) = doc.first() {
                match ours.first() {
                    Some(got) => shape_gaps(want, got, &format!("{at}[0]"), unkept, gaps),
                    None => gaps.push(format!("{at} is empty")),
                }
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Null, Value::Null) => {}
        (want, got) => gaps.push(format!("{at}: documented {want}, answered {got}")),
    }
}

/// Asserts the answer has the documented answer's shape (see [`shape_gaps`]).
fn assert_shape(name: &str, ours: &Value, unkept: &[&str]) {
    let mut gaps = Vec::new();
    shape_gaps(&entra(name), ours, "", unkept, &mut gaps);
    assert!(gaps.is_empty(), "{name}: {gaps:#?}\nanswered: {ours:#}");
}

/// The attributes of a user that the requests decide (not `id`, `meta`).
fn user_values(user: &Value) -> Value {
    json!({
        "userName": user["userName"],
        "externalId": user["externalId"],
        "name": user["name"],
        "active": user["active"],
        "emails": user["emails"],
    })
}

/// Microsoft's documented requests of Entra provisioning, replayed in the order of the
/// tutorial, each answered as documented (status, shape, and what the request decides).
async fn entra_documented_requests(app: &TestApp) {
    let scim = Scim::provisioning(app, "entra", "contoso").await;

    // Create User: the documented answer is the request, with id and meta.
    let (status, created) = scim.post("/Users", entra("create-user.request")).await;
    assert_eq!(status, 201, "{created}");
    assert_shape("create-user.response", &created, &[]);
    assert_eq!(
        user_values(&created),
        user_values(&entra("create-user.response"))
    );
    let id = created["id"].as_str().unwrap().to_string();
    let at = format!("/Users/{id}");

    // Get User, found and not found (Microsoft's id is no id of realmgate's).
    let (status, got) = scim.get(&at).await;
    assert_eq!(status, 200, "{got}");
    assert_shape("get-user.response", &got, &[]);
    assert_eq!(user_values(&got), user_values(&created));
    let (status, missing) = scim.get("/Users/5171a35d82074e068ce2").await;
    assert_eq!(status, 404, "{missing}");
    assert_shape("get-user-not-found.response", &missing, &[]);
    let (status, missing) = scim.get("/Users/999999999").await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["status"], "404");

    // Get User by query, and with zero results.
    let user_name = created["userName"].as_str().unwrap();
    let (status, list) = scim
        .get(&format!(
            "/Users?filter={}",
            urlencode(&format!("userName eq \"{user_name}\""))
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_shape("get-user-by-query.response", &list, &[]);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], id.as_str());
    let (status, none) = scim
        .get(&format!(
            "/Users?filter={}",
            urlencode(r#"userName eq "non-existent user""#)
        ))
        .await;
    assert_eq!(status, 200, "{none}");
    assert_shape("get-user-by-query-zero-results.response", &none, &[]);
    assert_eq!(
        (&none["totalResults"], &none["Resources"]),
        (&json!(0), &json!([]))
    );

    // Update User [Multi-valued properties]: the work email and the family name.
    let (status, updated) = scim
        .patch(&at, entra("update-user-multi-valued.request"))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_shape("update-user-multi-valued.response", &updated, &[]);
    let documented = entra("update-user-multi-valued.response");
    assert_eq!(updated["emails"], documented["emails"]);
    assert_eq!(
        updated["name"]["familyName"],
        documented["name"]["familyName"]
    );
    assert_eq!(
        updated["name"]["givenName"],
        documented["name"]["givenName"]
    );
    assert_eq!(updated["userName"], user_name, "the login address stays");

    // Update User [Single-valued properties]: a new login address; the emails, which were
    // not the old address, stay as they are.
    let (status, renamed) = scim
        .patch(&at, entra("update-user-single-valued.request"))
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_shape("update-user-single-valued.response", &renamed, &[]);
    assert_eq!(
        renamed["userName"],
        entra("update-user-single-valued.response")["userName"]
    );
    assert_eq!(renamed["emails"], updated["emails"]);
    let row = stored(app, &id).await;
    assert_eq!(
        row.email.as_str(),
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@contoso.com"
    );

    // Disable User.
    let (status, disabled) = scim.patch(&at, entra("disable-user.request")).await;
    assert_eq!(status, 200, "{disabled}");
    assert_shape("disable-user.response", &disabled, &["addresses"]);
    assert_eq!(disabled["active"], false);
    assert_eq!(status_of(app, &id).await, Some(Status::Disabled));

    // Delete User.
    let (status, body) = scim.send(reqwest::Method::DELETE, &at, None).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(status_of(app, &id).await, None);

    // Create Group, Get Group, Get Group by displayName.
    let (status, group) = scim.post("/Groups", entra("create-group.request")).await;
    assert_eq!(status, 201, "{group}");
    assert_shape("create-group.response", &group, &[]);
    let documented = entra("create-group.response");
    assert_eq!(
        (&group["displayName"], &group["externalId"]),
        (&documented["displayName"], &documented["externalId"])
    );
    let at = format!("/Groups/{}", group["id"].as_str().unwrap());
    let (status, got) = scim.get(&format!("{at}?excludedAttributes=members")).await;
    assert_eq!(status, 200, "{got}");
    assert_shape("get-group.response", &got, &[]);
    assert!(got.get("members").is_none(), "{got}");
    let (status, list) = scim
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            urlencode(r#"displayName eq "displayName""#)
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_shape("get-group-by-displayname.response", &list, &[]);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], group["id"]);

    // Update Group: a non-member attribute, then a member added and removed; each 204.
    let members = |g: &Value| g.get("members").cloned().unwrap_or(json!([]));
    for (request, check) in [
        (
            "update-group-non-member-attributes.request",
            (|g: &Value| {
                g["displayName"] == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
            }) as fn(&Value) -> bool,
        ),
        ("update-group-add-members.request", |g| {
            g["members"] == json!([{"value": "f648f8d5ea4e4cd38e9c"}])
        }),
        ("update-group-remove-members.request", |g| {
            g.get("members").is_none()
        }),
    ] {
        let (status, body) = scim.patch(&at, entra(request)).await;
        assert_eq!((status, &body), (204, &Value::Null), "{request}");
        let (_, now) = scim.get(&at).await;
        assert!(check(&now), "{request}: {now}, members {}", members(&now));
    }

    // Delete Group.
    let (status, _) = scim.send(reqwest::Method::DELETE, &at, None).await;
    assert_eq!(status, 204);
    let (status, _) = scim.get(&at).await;
    assert_eq!(status, 404);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

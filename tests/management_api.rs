//! The management API over HTTP against the real gateway and a real database (SQLite, and
//! PostgreSQL in one case): bearer-token refusals, account isolation on every route, the
//! user operations end to end (a disabled user's session ends), import and the audit log.

mod common;

use common::api::{audit_events, call, json_of, token};
use common::{add_active, add_user, password_login, spawn_app};
use realmgate::accounts::Status;
use realmgate::admin::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn no_token_or_an_unknown_one_is_401_and_guessing_is_rate_limited() {
    let app = spawn_app(|c| {
        c.login_attempts_per_minute = 3;
        c.lockout_after_failures = 3;
    })
    .await;
    let res = call(&app, Method::GET, "/api/v1/tenants", None, None).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        json_of(res, StatusCode::UNAUTHORIZED).await["error"],
        "unauthorized"
    );
    let res = call(
        &app,
        Method::GET,
        "/api/v1/tenants",
        Some("Basic abc"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let bad = "rg_not-a-real-token";
    let first = call(&app, Method::GET, "/api/v1/audit", Some(bad), None).await;
    assert_eq!(first.headers()["www-authenticate"], "Bearer");
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let mut limited = None;
    for _ in 0..10 {
        let res = call(&app, Method::GET, "/api/v1/audit", Some(bad), None).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = limited.expect("wrong tokens must be rate limited");
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        limited.json::<Value>().await.unwrap()["error"],
        "rate_limited"
    );
}

#[tokio::test]
async fn a_valid_token_is_not_throttled_by_the_guessing_limit() {
    let app = spawn_app(|c| {
        c.login_attempts_per_minute = 3;
        c.lockout_after_failures = 3;
    })
    .await;
    let op = token(&app, "busy-integration", None, Scope::Admin).await;
    for _ in 0..10 {
        let res = call(&app, Method::GET, "/api/v1/tenants", Some(&op), None).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_scim_token_is_forbidden_here() {
    let app = spawn_app(|_| {}).await;
    let scim = token(&app, "entra", Some("fabrikam"), Scope::Scim).await;
    for (method, path) in [
        (Method::GET, "/api/v1/tenants"),
        (Method::GET, "/api/v1/tenants/fabrikam/users"),
        (Method::POST, "/api/v1/tenants/fabrikam/users/invite"),
        (Method::POST, "/api/v1/tenants/fabrikam/users/1/deny"),
    ] {
        let res = call(&app, method, path, Some(&scim), None).await;
        assert_eq!(
            json_of(res, StatusCode::FORBIDDEN).await["error"],
            "forbidden"
        );
    }
}

#[tokio::test]
async fn an_account_token_sees_nothing_of_another_account_on_any_route() {
    let app = spawn_app(|_| {}).await;
    let own = token(&app, "fabrikam-hr", Some("fabrikam"), Scope::Admin).await;
    let theirs = add_active(&app, "contoso", "dan@contoso.com", "pw-dan-123456").await;
    let id = theirs.id;
    let user = json!({"email": "eve@contoso.com"});
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/tenants/contoso".into(), None),
        (Method::GET, "/api/v1/tenants/contoso/users".into(), None),
        (
            Method::POST,
            "/api/v1/tenants/contoso/users".into(),
            Some(user),
        ),
        (
            Method::GET,
            format!("/api/v1/tenants/contoso/users/{id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/tenants/contoso/users/{id}"),
            Some(json!({"status": "disabled"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenants/contoso/users/{id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/tenants/contoso/users/{id}/approve"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/tenants/contoso/users/import".into(),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/tenants/contoso/users/{id}/deny"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/tenants/contoso/users/invite".into(),
            Some(json!({"email": "eve@contoso.com"})),
        ),
        (Method::GET, "/api/v1/audit?account=contoso".into(), None),
        (
            Method::GET,
            "/api/v1/tenants/contoso/login-traces".into(),
            None,
        ),
        // The other account's user through this token's own account: absent as well.
        (
            Method::GET,
            format!("/api/v1/tenants/fabrikam/users/{id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/tenants/fabrikam/users/{id}"),
            Some(json!({"status": "disabled"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenants/fabrikam/users/{id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/tenants/fabrikam/users/{id}/deny"),
            Some(json!({"reason": "not ours"})),
        ),
    ];
    let absent = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/tenants/no-such-account",
            Some(&own),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    for (method, path, body) in routes {
        let res = call(&app, method.clone(), &path, Some(&own), body).await;
        let body = json_of(res, StatusCode::NOT_FOUND).await;
        assert_eq!(body["error"], absent["error"], "{method} {path}");
    }
    // Nothing changed: the user is still there and active, and nobody was invited.
    let still = app.state.users.by_id(id).await.unwrap().unwrap();
    assert_eq!(still.status, Status::Active);
    let eve = realmgate::discovery::Email::parse("eve@contoso.com").unwrap();
    assert!(
        app.state
            .users
            .by_email("contoso", &eve)
            .await
            .unwrap()
            .is_none()
    );
    // The listing shows only the token's account.
    let list = json_of(
        call(&app, Method::GET, "/api/v1/tenants", Some(&own), None).await,
        StatusCode::OK,
    )
    .await;
    let accounts: Vec<&str> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["fabrikam"]);
}

#[tokio::test]
async fn the_operator_token_reaches_every_account_and_shows_tenants_as_files() {
    let app = spawn_app(|_| {}).await;
    let op = token(&app, "ops", None, Scope::Admin).await;
    let list = json_of(
        call(&app, Method::GET, "/api/v1/tenants", Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["tenants"].as_array().unwrap().len(), 3, "{list}");
    let contoso = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/tenants/contoso",
            Some(&op),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(contoso["source"], "file");
    assert_eq!(contoso["domains"], json!(["contoso.com", "contoso.co.uk"]));
    assert_eq!(contoso["include_subdomains"], true);
    assert_eq!(contoso["sso"]["button"], "Log In with Microsoft");
    assert_eq!(contoso["sso"]["jit"], "waiting_room");
    for account in ["contoso", "fabrikam"] {
        let res = call(
            &app,
            Method::GET,
            &format!("/api/v1/tenants/{account}/users"),
            Some(&op),
            None,
        )
        .await;
        assert_eq!(json_of(res, StatusCode::OK).await["total"], 0);
    }
}

#[tokio::test]
async fn users_created_disabled_and_deleted_through_the_api_lose_their_session_and_are_audited() {
    let app = spawn_app(|_| {}).await;
    let op = token(&app, "hr-system", None, Scope::Admin).await;
    let created = json_of(
        call(
            &app,
            Method::POST,
            "/api/v1/tenants/fabrikam/users",
            Some(&op),
            Some(json!({"email": "Grace@Fabrikam.com", "name": "Grace"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["status"], "active");
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/tenants/fabrikam/users/{id}");
    let got = json_of(
        call(&app, Method::GET, &path, Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["email"], "Grace@fabrikam.com");
    assert!(got.get("password_hash").is_none());

    // Give her a password (the API sets none) and a session that forward-auth trusts.
    let hash = app
        .state
        .login
        .passwords
        .hash("grace-pw-123456")
        .await
        .unwrap();
    app.state
        .users
        .set_password_hash(id, Some(&hash))
        .await
        .unwrap();
    let browser = app.client();
    let res = password_login(
        &app,
        &browser,
        &[
            ("email", "grace@fabrikam.com"),
            ("password", "grace-pw-123456"),
        ],
    )
    .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let verify = || async {
        browser
            .get(app.at("/auth/verify"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(verify().await, StatusCode::OK);

    let patched = json_of(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&op),
            Some(json!({"status": "disabled"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["status"], "disabled");
    // At once, not after the 30 s active-user cache.
    assert_eq!(verify().await, StatusCode::UNAUTHORIZED);

    let res = call(&app, Method::DELETE, &path, Some(&op), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = call(&app, Method::GET, &path, Some(&op), None).await;
    assert_eq!(
        json_of(res, StatusCode::NOT_FOUND).await["error"],
        "not_found"
    );

    let audit = audit_events(&app, &op, "fabrikam").await;
    let events: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("user_added", "hr-system"),
            ("user_disabled", "hr-system"),
            ("user_deleted", "hr-system")
        ]
    );
    // `since` after everything: nothing.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let res = reqwest::Client::new()
        .get(app.at("/api/v1/audit"))
        .query(&[("since", later.as_str())])
        .bearer_auth(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, StatusCode::OK).await["events"], json!([]));
}

#[tokio::test]
async fn approve_import_and_refusals_with_their_codes() {
    let app = spawn_app(|_| {}).await;
    let own = token(&app, "fabrikam-admin", Some("fabrikam"), Scope::Admin).await;
    // An event of another account, which this token's audit must not show.
    token(&app, "contoso-admin", Some("contoso"), Scope::Admin).await;
    let waiting = add_user(
        &app,
        "fabrikam",
        "wait@fabrikam.com",
        None,
        false,
        Status::Waiting,
    )
    .await;
    let listed = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/tenants/fabrikam/users?status=waiting",
            Some(&own),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["total"], 1);
    let approved = json_of(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/tenants/fabrikam/users/{}/approve", waiting.id),
            Some(&own),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(approved["status"], "active");

    let csv = "email,name,admin\nann@fabrikam.com,Ann,true\nbob@contoso.com,Bob,false\n";
    let res = reqwest::Client::new()
        .post(app.at("/api/v1/tenants/fabrikam/users/import"))
        .bearer_auth(&own)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let report = json_of(res, StatusCode::OK).await;
    assert_eq!(report["created"], 1, "{report}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert!(
        errors[0].as_str().unwrap().starts_with("line 3"),
        "{report}"
    );

    // A domain outside the tenant: 400 with the problem.
    let res = call(
        &app,
        Method::POST,
        "/api/v1/tenants/fabrikam/users",
        Some(&own),
        Some(json!({"email": "mallory@contoso.com"})),
    )
    .await;
    let body = json_of(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "invalid");
    let problems = body["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("contoso.com")),
        "{body}"
    );
    // A duplicate email: 409.
    let res = call(
        &app,
        Method::POST,
        "/api/v1/tenants/fabrikam/users",
        Some(&own),
        Some(json!({"email": "ANN@fabrikam.com"})),
    )
    .await;
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["error"],
        "conflict"
    );
    // No password through the API; a bad status filter.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/tenants/fabrikam/users",
            Some(json!({"email": "x@fabrikam.com", "password": "p"})),
        ),
        (
            Method::GET,
            "/api/v1/tenants/fabrikam/users?status=asleep",
            None,
        ),
        (Method::GET, "/api/v1/audit?since=yesterday", None),
    ] {
        let res = call(&app, method, path, Some(&own), body).await;
        assert_eq!(
            json_of(res, StatusCode::BAD_REQUEST).await["error"],
            "invalid",
            "{path}"
        );
    }
    // The account token's audit is its account's, with its name as the actor.
    let audit = json_of(
        call(&app, Method::GET, "/api/v1/audit", Some(&own), None).await,
        StatusCode::OK,
    )
    .await;
    let events = audit["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["account"] == "fabrikam"), "{audit}");
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e["actor"] == "fabrikam-admin")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user_approved", "users_imported"]);
}

#[tokio::test]
async fn the_api_works_over_postgresql() {
    let Some(schema) = common::pg_schema().await else {
        return;
    };
    let url = schema.url.clone();
    let app = spawn_app(move |c| c.database_url = Some(url)).await;
    let op = token(&app, "ops-pg", None, Scope::Admin).await;
    let created = json_of(
        call(
            &app,
            Method::POST,
            "/api/v1/tenants/fabrikam/users",
            Some(&op),
            Some(json!({"email": "pg@fabrikam.com", "admin": true})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/tenants/fabrikam/users/{}", created["id"]);
    let got = json_of(
        call(&app, Method::GET, &path, Some(&op), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got, created);
    // Stored as made through the API (migration 0005 allows it on PostgreSQL too).
    assert_eq!(created["origin"], "api");
    let res = call(
        &app,
        Method::POST,
        "/api/v1/tenants/fabrikam/users",
        Some(&op),
        Some(json!({"email": "PG@fabrikam.com"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let audit = audit_events(&app, &op, "fabrikam").await;
    assert_eq!(audit[0]["actor"], "ops-pg");
    assert_eq!(audit[0]["action"], "user_added");
    drop(app);
    schema.drop().await;
}

/// Deny and invite, the console's Waiting Room and invitation operations through the API:
/// the person is mailed, every change is audited with the token's name, and each refusal
/// (not waiting, a reason too long, a bad body, a foreign domain, a disabled user) changes
/// nothing.
#[tokio::test]
async fn deny_and_invite_mail_the_person_and_are_audited() {
    let app = spawn_app(|_| {}).await;
    let own = token(&app, "fabrikam-hr", Some("fabrikam"), Scope::Admin).await;
    let waiting =
        |email: &'static str| add_user(&app, "fabrikam", email, None, false, Status::Waiting);
    let wait = waiting("wait@fabrikam.com").await;
    let quiet = waiting("quiet@fabrikam.com").await;
    let long = waiting("long@fabrikam.com").await;
    let deny = |id: i64| format!("/api/v1/tenants/fabrikam/users/{id}/deny");

    let denied = json_of(
        call(
            &app,
            Method::POST,
            &deny(wait.id),
            Some(&own),
            Some(json!({"reason": "not on staff"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(denied["status"], "disabled");
    // Without a body: denied without a reason.
    let denied = json_of(
        call(&app, Method::POST, &deny(quiet.id), Some(&own), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(denied["status"], "disabled");
    // Not waiting any more: 409.
    let res = call(&app, Method::POST, &deny(wait.id), Some(&own), None).await;
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["error"],
        "conflict"
    );
    // A reason too long, and a body that is not the object: 400, the user still waits.
    for body in [
        json!({"reason": "x".repeat(501)}),
        json!({"why": "no"}),
        json!("no"),
    ] {
        let res = call(
            &app,
            Method::POST,
            &deny(long.id),
            Some(&own),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            json_of(res, StatusCode::BAD_REQUEST).await["error"],
            "invalid",
            "{body}"
        );
    }
    let still = app.state.users.by_id(long.id).await.unwrap().unwrap();
    assert_eq!(still.status, Status::Waiting);

    let invite = |body: Value, lang: &'static str| {
        reqwest::Client::new()
            .post(app.at("/api/v1/tenants/fabrikam/users/invite"))
            .bearer_auth(&own)
            .header("accept-language", lang)
            .json(&body)
            .send()
    };
    let res = invite(
        json!({"email": "new@fabrikam.com", "name": "New Person", "admin": true}),
        "fr-CA, en;q=0.5",
    )
    .await
    .unwrap();
    let invited = json_of(res, StatusCode::OK).await;
    assert_eq!(invited["status"], "active");
    assert_eq!(invited["admin"], true);
    assert_eq!(invited["origin"], "api");
    assert_eq!(invited["name"], "New Person");
    let user = app
        .state
        .users
        .by_id(invited["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(user.password_hash.is_none());
    // Outside the tenant's domains, or a disabled user: refused, nothing sent.
    let res = invite(json!({"email": "x@contoso.com"}), "en")
        .await
        .unwrap();
    assert_eq!(
        json_of(res, StatusCode::BAD_REQUEST).await["error"],
        "invalid"
    );
    let res = invite(json!({"email": "wait@fabrikam.com"}), "en")
        .await
        .unwrap();
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["error"],
        "conflict"
    );

    // The invitation (in French, with its set-password link) and the denial were mailed.
    let mail = common::mail::wait_for(&app.data.join("outbox"), 3).await;
    let to = |who: &str| {
        mail.iter()
            .find(|m| m.contains(&format!("To: {who}")))
            .cloned()
    };
    let invitation = to("new@fabrikam.com").expect("the invitation");
    assert!(invitation.contains("7 jours"), "{invitation}");
    assert!(
        common::mail::link(&invitation, "/password/set").is_some(),
        "{invitation}"
    );
    assert!(
        to("wait@fabrikam.com").is_some_and(|m| m.contains("not on staff")),
        "{mail:?}"
    );
    assert!(to("x@contoso.com").is_none());

    let audit = json_of(
        call(&app, Method::GET, "/api/v1/audit", Some(&own), None).await,
        StatusCode::OK,
    )
    .await;
    let mine: Vec<&Value> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "fabrikam-hr")
        .collect();
    let actions: Vec<&str> = mine.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user_denied", "user_denied", "user_invited"]);
    assert_eq!(mine[0]["after"]["reason"], "not on staff");
    assert_eq!(mine[1]["after"]["reason"], Value::Null);
}

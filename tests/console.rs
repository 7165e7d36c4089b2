//! The account admin console `/{account}/admin` over the real gateway: who gets in (an
//! active admin of that account only; anonymous → the account's sign-in and back), the
//! session-bound CSRF token on every form, the recent sign-in rule for sensitive changes,
//! and the Users and Audit sections doing their changes through the management operations
//! (the same audit events as the API).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::console::{Signed, events, sign_in};
use common::{TestApp, add_user, csrf_of, spawn_app};
use realmgate::accounts::{Status, User};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION};

async fn admin_of(app: &TestApp, account: &str, email: &str) -> User {
    add_user(app, account, email, None, true, Status::Active).await
}

async fn user_of(app: &TestApp, account: &str, email: &str, status: Status) -> User {
    add_user(app, account, email, None, false, status).await
}

async fn stored(app: &TestApp, user: &User) -> Option<User> {
    app.state.users.by_id(user.id).await.unwrap()
}

async fn by_email(app: &TestApp, account: &str, email: &str) -> User {
    let email = realmgate::discovery::Email::parse(email).unwrap();
    app.state
        .users
        .by_email(account, &email)
        .await
        .unwrap()
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()[LOCATION].to_str().unwrap().to_string()
}

/// A `multipart/form-data` body of text fields, in order: what a browser sends for the
/// import form (the file part named `file`).
fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----realmgate-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!("--{boundary}\r\n"));
        if *name == "file" {
            body.push_str(
                "Content-Disposition: form-data; name=\"file\"; filename=\"users.csv\"\r\nContent-Type: text/csv\r\n\r\n",
            );
        } else {
            body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            ));
        }
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

async fn upload(
    app: &TestApp,
    who: &Signed,
    account: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (content_type, body) = multipart(fields);
    who.client
        .post(app.at(&format!("/{account}/admin/users/import")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Every console route as `src/web/mod.rs` registers it: (method, path template). Read
/// from the source so a route added later without being in these tests fails them.
fn console_routes() -> Vec<(String, String)> {
    let src = include_str!("../src/web/mod.rs");
    let start = src
        .find("fn console_routes()")
        .expect("console_routes in web/mod.rs");
    let body = &src[start..start + src[start..].find("\n}\n").unwrap()];
    let mut routes = Vec::new();
    for route in body.split(".route(").skip(1) {
        let path = route.split('"').nth(1).unwrap().to_string();
        for method in ["get", "post"] {
            if route.contains(&format!("{method}(")) {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 14, "{routes:?}");
    routes
}

/// A route template filled in for `account`, user `id` and the domain `victim.test`.
fn fill(path: &str, account: &str, id: i64) -> String {
    path.replace("{account}", account)
        .replace("{id}", &id.to_string())
        .replace("{domain}", "victim.test")
}

/// A request on a console route with a valid-looking body for its form, sent by `who`
/// with `csrf` as the token.
async fn hit(
    app: &TestApp,
    who: &reqwest::Client,
    method: &str,
    path: &str,
    csrf: &str,
) -> reqwest::Response {
    if method == "GET" {
        return who.get(app.at(path)).send().await.unwrap();
    }
    if path.ends_with("/import") || path.ends_with("/sso/metadata") {
        let (content_type, body) = multipart(&[
            ("csrf", csrf),
            ("file", "email,name,admin\nnew@fabrikam.com,New,true\n"),
        ]);
        return who
            .post(app.at(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
    }
    let form: &[(&str, &str)] = if path.ends_with("/status") {
        &[("status", "disabled")]
    } else if path.ends_with("/admin") {
        &[("admin", "true")]
    } else if path.ends_with("/deny") {
        &[("reason", "no")]
    } else if path.ends_with("/users") || path.ends_with("/invite") {
        &[("email", "new@fabrikam.com"), ("name", "New")]
    } else if path.ends_with("/domains") {
        &[("domain", "new.victim.test")]
    } else {
        &[]
    };
    let mut form = form.to_vec();
    form.push(("csrf", csrf));
    who.post(app.at(path)).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn anonymous_visitors_sign_in_to_the_account_then_come_back() {
    let app = spawn_app(|_| {}).await;
    let password = "correct horse battery";
    add_user(
        &app,
        "fabrikam",
        "boss@fabrikam.com",
        Some(password),
        true,
        Status::Active,
    )
    .await;
    let browser = app.client();
    let res = browser
        .get(app.at("/fabrikam/admin/users?q=ann"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert_eq!(
        to,
        "/fabrikam?return_to=%2Ffabrikam%2Fadmin%2Fusers%3Fq%3Dann"
    );
    // The account's password step carries the way back through the sign-in.
    let html = browser
        .get(app.at(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        common::unescape(&html).contains("name=\"return_to\" value=\"http://127.0.0.1"),
        "{html}"
    );
    let token = csrf_of(&html);
    let back = app.at("/fabrikam/admin/users?q=ann");
    let res = browser
        .post(app.at("/login/password"))
        .form(&[
            ("email", "boss@fabrikam.com"),
            ("password", password),
            ("csrf", &token),
            ("return_to", &back),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), back);
    let res = browser.get(&back).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("<h1>Users</h1>") && html.contains("boss@fabrikam.com"));

    // An SSO account's sign-in is its IdP, carrying the way back too.
    let res = app
        .client()
        .get(app.at("/contoso/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/contoso?return_to=%2Fcontoso%2Fadmin");
    let res = app
        .client()
        .get(app.at(&location(&res)))
        .send()
        .await
        .unwrap();
    assert!(location(&res).starts_with("/sso/contoso/start?return_to="));

    // A form posted without a session changes nothing and leads to the sign-in.
    let before = events(&app, "fabrikam").await.len();
    let res = app
        .client()
        .post(app.at("/fabrikam/admin/users"))
        .form(&[("email", "x@fabrikam.com"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/fabrikam?return_to=%2Ffabrikam%2Fadmin");
    assert_eq!(events(&app, "fabrikam").await.len(), before);
    // An unknown account is not found, for anonymous visitors as on its Sign-on URL.
    let res = app
        .client()
        .get(app.at("/nowhere/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_active_admins_of_the_account_get_in() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let ann = user_of(&app, "fabrikam", "ann@fabrikam.com", Status::Active).await;
    let now = Utc::now();

    let (status, html) = sign_in(&app, &boss, now)
        .await
        .get(&app, "/fabrikam/admin")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Overview</h1>"), "{html}");

    let signed = sign_in(&app, &ann, now).await;
    for path in [
        "/fabrikam/admin",
        "/fabrikam/admin/users",
        "/fabrikam/admin/audit",
    ] {
        let (status, html) = signed.get(&app, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("<code>forbidden</code>"), "{html}");
        assert!(html.contains("You are not an administrator of this account."));
    }
    let res = signed
        .post(
            &app,
            &format!("/fabrikam/admin/users/{}/admin", ann.id),
            &[("admin", "true")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!stored(&app, &ann).await.unwrap().admin);

    // Rights are read at every request: a demoted admin is out at the next click.
    let boss_browser = sign_in(&app, &boss, now).await;
    app.state
        .users
        .set_profile(boss.id, &boss.name, false)
        .await
        .unwrap();
    assert_eq!(
        boss_browser.get(&app, "/fabrikam/admin").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_admin_of_one_account_reaches_nothing_of_another_on_any_route() {
    let app = spawn_app(|_| {}).await;
    let contoso_admin = admin_of(&app, "contoso", "boss@contoso.com").await;
    let fabrikam_admin = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let victim = user_of(&app, "fabrikam", "wes@fabrikam.com", Status::Waiting).await;
    let intruder = sign_in(&app, &contoso_admin, Utc::now()).await;
    let before = events(&app, "fabrikam").await.len();
    let mut refused = 0;
    for (method, template) in console_routes() {
        for account in ["fabrikam", "nowhere"] {
            let path = fill(&template, account, victim.id);
            let res = hit(
                &app,
                &intruder.client,
                &method,
                &path,
                &intruder.session.csrf,
            )
            .await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
            let html = res.text().await.unwrap();
            assert!(
                html.contains("<code>forbidden</code>"),
                "{method} {path}: {html}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 28);
    assert_eq!(stored(&app, &victim).await, Some(victim.clone()));
    assert_eq!(events(&app, "fabrikam").await.len(), before);
    assert!(
        app.state
            .users
            .by_email(
                "fabrikam",
                &realmgate::discovery::Email::parse("new@fabrikam.com").unwrap()
            )
            .await
            .unwrap()
            .is_none()
    );

    // In their own console, another account's user id is no user.
    for template in console_routes()
        .iter()
        .filter(|(m, p)| m == "POST" && p.contains("{id}"))
        .map(|(_, p)| p)
    {
        let path = fill(template, "contoso", victim.id);
        let res = hit(
            &app,
            &intruder.client,
            "POST",
            &path,
            &intruder.session.csrf,
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(stored(&app, &victim).await, Some(victim.clone()));
    assert_eq!(events(&app, "fabrikam").await.len(), before);
    // The account's own admin does reach it.
    let own = sign_in(&app, &fabrikam_admin, Utc::now()).await;
    assert_eq!(
        own.get(&app, "/fabrikam/admin/users").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_foreign_csrf_token() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let wes = user_of(&app, "fabrikam", "wes@fabrikam.com", Status::Waiting).await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    // The token of another session of the same admin: a page seen elsewhere.
    let other = sign_in(&app, &boss, Utc::now()).await;
    let (_, html) = me.get(&app, "/fabrikam/admin/users").await;
    assert_eq!(
        csrf_of(&html),
        me.session.csrf,
        "the forms carry the session's token"
    );
    let before = events(&app, "fabrikam").await.len();
    let posts: Vec<_> = console_routes()
        .into_iter()
        .filter(|(m, _)| m == "POST")
        .collect();
    assert!(posts.len() >= 6);
    for (_, template) in &posts {
        let path = fill(template, "fabrikam", wes.id);
        for token in ["", "forged", other.session.csrf.as_str()] {
            let res = hit(&app, &me.client, "POST", &path, token).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
            assert!(
                res.text()
                    .await
                    .unwrap()
                    .contains("<code id=\"code\">csrf_failed</code>")
            );
        }
    }
    assert_eq!(stored(&app, &wes).await, Some(wes.clone()));
    assert_eq!(events(&app, "fabrikam").await.len(), before);
}

#[tokio::test]
async fn sensitive_changes_ask_for_a_fresh_sign_in() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "contoso", "boss@contoso.com").await;
    let ann = user_of(&app, "contoso", "ann@contoso.com", Status::Active).await;
    let stale = sign_in(&app, &boss, Utc::now() - Duration::minutes(20)).await;
    // Reading and ordinary changes still work.
    assert_eq!(
        stale.get(&app, "/contoso/admin/users").await.0,
        StatusCode::OK
    );
    let res = stale
        .post(
            &app,
            &format!("/contoso/admin/users/{}/status", ann.id),
            &[("status", "disabled")],
        )
        .await;
    assert_eq!(location(&res), "/contoso/admin/users?done=disabled");
    let res = stale
        .post(
            &app,
            &format!("/contoso/admin/users/{}/status", ann.id),
            &[("status", "active")],
        )
        .await;
    assert_eq!(location(&res), "/contoso/admin/users?done=enabled");

    let before = events(&app, "contoso").await.len();
    let make_admin = format!("/contoso/admin/users/{}/admin", ann.id);
    let res = stale.post(&app, &make_admin, &[("admin", "true")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = common::unescape(&res.text().await.unwrap());
    assert!(html.contains("reauthentication_required"), "{html}");
    assert!(
        html.contains("href=\"/contoso?return_to=%2Fcontoso%2Fadmin%2Fusers\""),
        "{html}"
    );
    // An SSO account's admin may be here because SSO is broken: the fail-safe comes back too.
    assert!(html.contains("href=\"/contoso/no-sso?return_to=%2Fcontoso%2Fadmin%2Fusers\""));
    let res = stale
        .post(
            &app,
            "/contoso/admin/users",
            &[("email", "eve@contoso.com"), ("admin", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = upload(
        &app,
        &stale,
        "contoso",
        &[
            ("csrf", &stale.session.csrf),
            ("file", "email,admin\nann@contoso.com,true\n"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("reauthentication_required")
    );
    assert!(!stored(&app, &ann).await.unwrap().admin);
    assert_eq!(events(&app, "contoso").await.len(), before);

    // The fail-safe page keeps the way back in its form.
    let res = app
        .client()
        .get(app.at("/contoso/no-sso?return_to=%2Fcontoso%2Fadmin%2Fusers"))
        .send()
        .await
        .unwrap();
    let html = common::unescape(&res.text().await.unwrap());
    assert!(
        html.contains("name=\"return_to\" value=\"http://127.0.0.1"),
        "{html}"
    );

    // Signed in again: the same change goes through, audited with the admin's name.
    let fresh = sign_in(&app, &boss, Utc::now()).await;
    let res = fresh.post(&app, &make_admin, &[("admin", "true")]).await;
    assert_eq!(location(&res), "/contoso/admin/users?done=admin_granted");
    assert!(stored(&app, &ann).await.unwrap().admin);
    let last = events(&app, "contoso").await.pop().unwrap();
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.target.as_str()
        ),
        ("user:boss@contoso.com", "user_changed", "ann@contoso.com")
    );
}

#[tokio::test]
async fn an_admin_keeps_their_own_rights_and_the_account_its_last_admin() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    for (path, field) in [
        (
            format!("/fabrikam/admin/users/{}/admin", boss.id),
            ("admin", "false"),
        ),
        (
            format!("/fabrikam/admin/users/{}/status", boss.id),
            ("status", "disabled"),
        ),
    ] {
        let res = me.post(&app, &path, &[field]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("cannot remove their own administrator rights"),
            "{html}"
        );
    }
    assert_eq!(stored(&app, &boss).await, Some(boss.clone()));

    // The management API obeys the same rule: the last admin stays.
    let (_, token) = app
        .state
        .admin
        .tokens
        .create(
            &realmgate::admin::Actor::Cli,
            "hr",
            Some("fabrikam"),
            realmgate::admin::Scope::Admin,
        )
        .await
        .unwrap();
    let api = reqwest::Client::new();
    let res = api
        .patch(app.at(&format!("/api/v1/tenants/fabrikam/users/{}", boss.id)))
        .bearer_auth(&token)
        .json(&serde_json::json!({"admin": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = api
        .delete(app.at(&format!("/api/v1/tenants/fabrikam/users/{}", boss.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(stored(&app, &boss).await, Some(boss.clone()));

    // With a second admin, one can remove the other's rights.
    let ann = admin_of(&app, "fabrikam", "ann@fabrikam.com").await;
    let res = me
        .post(
            &app,
            &format!("/fabrikam/admin/users/{}/admin", ann.id),
            &[("admin", "false")],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=admin_removed");
    assert!(!stored(&app, &ann).await.unwrap().admin);
}

#[tokio::test]
async fn the_waiting_room_comes_first_and_each_decision_is_audited() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let wes = user_of(&app, "fabrikam", "wes@fabrikam.com", Status::Waiting).await;
    let zed = user_of(&app, "fabrikam", "zed@fabrikam.com", Status::Waiting).await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let (_, html) = me.get(&app, "/fabrikam/admin/users").await;
    let queue = html.find("id=\"waiting\"").expect("the queue");
    let all = html.find("id=\"users\"").expect("the list");
    assert!(queue < all, "the Waiting Room comes first");
    assert!(
        html[queue..all].contains("wes@fabrikam.com")
            && html[queue..all].contains("zed@fabrikam.com")
    );
    assert!(html.contains("Waiting Room (2)"));

    let res = me
        .post(
            &app,
            &format!("/fabrikam/admin/users/{}/approve", wes.id),
            &[],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=approved");
    assert_eq!(stored(&app, &wes).await.unwrap().status, Status::Active);
    let res = me
        .post(
            &app,
            &format!("/fabrikam/admin/users/{}/deny", zed.id),
            &[("reason", "not one of ours")],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=denied");
    assert_eq!(stored(&app, &zed).await.unwrap().status, Status::Disabled);
    let (_, html) = me.get(&app, "/fabrikam/admin/users?done=denied").await;
    assert!(html.contains("id=\"waiting-empty\"") && html.contains("The request was denied"));
    // A notice is one of the page's own: nothing else is echoed.
    let (_, html) = me.get(&app, "/fabrikam/admin/users?done=%3Cb%3Ehi").await;
    assert!(!html.contains("id=\"notice\"") && !html.contains("<b>hi"));

    // Only a waiting user can be denied.
    let res = me
        .post(
            &app,
            &format!("/fabrikam/admin/users/{}/deny", wes.id),
            &[("reason", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(stored(&app, &wes).await.unwrap().status, Status::Active);

    let log = events(&app, "fabrikam").await;
    let decisions: Vec<_> = log
        .iter()
        .filter(|e| e.actor == "user:boss@fabrikam.com")
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        decisions,
        [
            ("user_approved", "wes@fabrikam.com"),
            ("user_denied", "zed@fabrikam.com")
        ]
    );
    let denied = log.iter().find(|e| e.action == "user_denied").unwrap();
    assert_eq!(denied.after.as_ref().unwrap()["reason"], "not one of ours");
    assert_eq!(denied.before.as_ref().unwrap()["status"], "waiting");
}

/// The `href` of the link `id` on a page, with the template's escapes undone.
fn link(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = html[..at].rfind("href=\"").expect("an href before the id") + 6;
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&amp;", "&")
        .replace("&#x3D;", "=")
        .replace("&#x2F;", "/")
}

#[tokio::test]
async fn the_user_list_searches_filters_and_pages() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    for i in 0..119 {
        let status = if i % 10 == 0 {
            Status::Disabled
        } else {
            Status::Active
        };
        user_of(
            &app,
            "fabrikam",
            &format!("user-{i:03}@fabrikam.com"),
            status,
        )
        .await;
    }
    user_of(&app, "contoso", "user-999@contoso.com", Status::Active).await;
    let seen = by_email(&app, "fabrikam", "user-001@fabrikam.com").await;
    let login_at = "2026-11-30T08:15:00Z".parse::<DateTime<Utc>>().unwrap();
    app.state
        .users
        .record_login(seen.id, login_at)
        .await
        .unwrap();
    let me = sign_in(&app, &boss, Utc::now()).await;
    let rows = |html: &str| html.matches("<tr id=\"user-").count();

    let (status, html) = me.get(&app, "/fabrikam/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("All users (120)"), "120 with the admin");
    assert_eq!(rows(&html), 50);
    assert!(!html.contains("id=\"prev\"") && !html.contains("id=\"first\""));
    assert!(
        html.contains("2026-11-30 08:15 UTC"),
        "the last sign-in is shown"
    );
    assert!(html.contains("<td>Never</td>"));
    assert!(!html.contains("user-999@contoso.com"));
    // Pages are walked by the last and first address shown (keyset), both ways.
    let (_, second) = me.get(&app, &link(&html, "next")).await;
    assert_eq!(rows(&second), 50);
    assert!(second.contains("user-049@fabrikam.com") && second.contains("user-098@fabrikam.com"));
    assert!(!second.contains("user-048@fabrikam.com") && !second.contains("user-099@fabrikam.com"));
    let (_, third) = me.get(&app, &link(&second, "next")).await;
    assert_eq!(rows(&third), 20);
    assert!(third.contains("id=\"prev\"") && !third.contains("id=\"next\""));
    assert!(
        third.contains("All users (120)"),
        "the count is the whole list's"
    );
    let (_, back) = me.get(&app, &link(&third, "prev")).await;
    assert_eq!(rows(&back), 50);
    assert!(back.contains("user-049@fabrikam.com") && back.contains("user-098@fabrikam.com"));
    let (_, back) = me.get(&app, &link(&back, "prev")).await;
    assert_eq!(rows(&back), 50);
    assert!(back.contains("boss@fabrikam.com") && !back.contains("id=\"prev\""));
    assert_eq!(link(&third, "first"), "/fabrikam/admin/users");
    // The filter goes along with the page links.
    let (_, disabled) = me.get(&app, "/fabrikam/admin/users?status=disabled").await;
    assert_eq!(rows(&disabled), 12);
    assert!(!disabled.contains("id=\"next\""));
    let (_, after) = me
        .get(
            &app,
            "/fabrikam/admin/users?status=disabled&after=user-050%40fabrikam.com",
        )
        .await;
    assert_eq!(rows(&after), 6, "user-060 to user-110");
    assert!(after.contains("user-060@fabrikam.com") && !after.contains("user-050@fabrikam.com"));
    assert!(after.contains("All users (12)"));

    let (_, html) = me.get(&app, "/fabrikam/admin/users?q=USER-07").await;
    assert!(
        html.contains("All users (10)"),
        "search ignores letter case"
    );
    let (_, html) = me
        .get(&app, "/fabrikam/admin/users?q=user-0&status=disabled")
        .await;
    assert!(html.contains("All users (10)"), "{html}");
    assert!(html.contains("<option value=\"disabled\" selected>"));
    // LIKE's wildcards are searched for literally.
    let (_, html) = me.get(&app, "/fabrikam/admin/users?q=user_0").await;
    assert!(html.contains("All users (0)") && html.contains("id=\"no-users\""));

    let long = format!("?after={}", "a".repeat(300));
    for bad in ["?status=gone", "?after=a&before=b", long.as_str()] {
        let (status, html) = me.get(&app, &format!("/fabrikam/admin/users{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(html.contains("bad_request"));
    }
}

#[tokio::test]
async fn users_are_added_imported_and_disabled_through_the_operations() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let res = me
        .post(
            &app,
            "/fabrikam/admin/users",
            &[
                ("email", "grace@fabrikam.com"),
                ("name", "Grace Hopper"),
                ("admin", "1"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=added");
    let grace = app
        .state
        .users
        .by_email(
            "fabrikam",
            &realmgate::discovery::Email::parse("grace@fabrikam.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(grace.admin && grace.password_hash.is_none() && grace.status == Status::Active);

    for (email, code) in [
        ("eve@contoso.com", "invalid"),
        ("GRACE@fabrikam.com", "conflict"),
        ("nope", "invalid_email"),
    ] {
        let res = me
            .post(&app, "/fabrikam/admin/users", &[("email", email)])
            .await;
        assert!(res.status().is_client_error(), "{email}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!(">{code}</code>")), "{email}: {html}");
    }

    let csv = "email,name,admin\nada@fabrikam.com,Ada,false\nmal@contoso.com,Mal,false\nnot-an-email,X,false\n";
    let res = upload(
        &app,
        &me,
        "fabrikam",
        &[("csrf", &me.session.csrf), ("file", csv)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("<span id=\"created\">1</span>"), "{html}");
    assert!(
        html.contains("<li>line 3: ") && html.contains("contoso.com"),
        "{html}"
    );
    assert!(html.contains("line 4:"));
    let res = upload(&app, &me, "fabrikam", &[("csrf", &me.session.csrf)]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Disabling ends the user's session at once.
    let ada = app
        .state
        .users
        .by_email(
            "fabrikam",
            &realmgate::discovery::Email::parse("ada@fabrikam.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let ada_browser = sign_in(&app, &ada, Utc::now()).await;
    let url = app.at("/auth/verify");
    let verify = |c: reqwest::Client| {
        let url = url.clone();
        async move { c.get(url).send().await.unwrap().status() }
    };
    assert_eq!(verify(ada_browser.client.clone()).await, StatusCode::OK);
    let res = me
        .post(
            &app,
            &format!("/fabrikam/admin/users/{}/status", ada.id),
            &[("status", "disabled")],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=disabled");
    assert_eq!(
        verify(ada_browser.client.clone()).await,
        StatusCode::UNAUTHORIZED
    );

    let actions: Vec<_> = events(&app, "fabrikam")
        .await
        .into_iter()
        .filter(|e| e.actor == "user:boss@fabrikam.com")
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["user_added", "users_imported", "user_disabled"]);
}

#[tokio::test]
async fn the_audit_page_shows_the_accounts_events_newest_first_by_pages() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let other = user_of(&app, "contoso", "eve@contoso.com", Status::Active).await;
    let actor = realmgate::admin::Actor::Token("hr".into());
    let ann = user_of(&app, "fabrikam", "ann@fabrikam.com", Status::Active).await;
    for i in 0..60 {
        let patch = realmgate::admin::UserPatch {
            name: Some(format!("Ann {i}")),
            ..Default::default()
        };
        app.state
            .admin
            .users
            .patch(&actor, "fabrikam", ann.id, &patch)
            .await
            .unwrap();
    }
    let contoso_patch = realmgate::admin::UserPatch {
        name: Some("Secret".into()),
        ..Default::default()
    };
    app.state
        .admin
        .users
        .patch(&actor, "contoso", other.id, &contoso_patch)
        .await
        .unwrap();
    let me = sign_in(&app, &boss, Utc::now()).await;
    let (status, html) = me.get(&app, "/fabrikam/admin/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<tr id=\"event-").count(), 50);
    assert!(!html.contains("eve@contoso.com") && !html.contains("Secret"));
    let ids: Vec<i64> = html
        .split("<tr id=\"event-")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(html.contains("Ann 59&quot;"));
    let next = common::unescape(&html);
    let at = next.find("id=\"older\"").unwrap();
    let href = next[..at].rsplit("href=\"").next().unwrap();
    let href = &href[..href.find('"').unwrap()];
    let (_, html) = me.get(&app, href).await;
    assert_eq!(html.matches("<tr id=\"event-").count(), 10);
    assert!(
        html.contains("Ann 9&quot;") && !html.contains("Ann 10&quot;"),
        "{html}"
    );
    assert!(!html.contains("id=\"older\"") && html.contains("id=\"newest\""));
    let (status, _) = me.get(&app, "/fabrikam/admin/audit?before=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_traces_page_shows_the_accounts_own_sso_attempts() {
    use realmgate::login::traces::{Trace, TraceResult};
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "contoso", "boss@contoso.com").await;
    let trace = |account: &str, code: &str| Trace {
        at: Utc::now(),
        result: match code {
            "signed_in" | "waiting_room" | "test_passed" => TraceResult::Success,
            _ => TraceResult::Refused,
        },
        code: code.into(),
        reason: Some(format!("{account}: signature verification failed")),
        issuer: Some(format!("https://idp.{account}.example/")),
        destination: None,
        in_response_to: None,
        name_id: None,
        email: Some(format!("ann@{account}.com")),
        signing_certificate: None,
        protocol: Default::default(),
        subject: None,
        not_applicable: Vec::new(),
    };
    let traces = &app.state.login.traces;
    traces
        .record("contoso", &trace("contoso", "signature_invalid"))
        .await
        .unwrap();
    traces
        .record("fabrikam", &trace("fabrikam", "audience_mismatch"))
        .await
        .unwrap();
    for code in ["signed_in", "waiting_room", "test_passed"] {
        traces
            .record("contoso", &trace("contoso", code))
            .await
            .unwrap();
    }
    let me = sign_in(&app, &boss, Utc::now()).await;
    let (status, html) = me.get(&app, "/contoso/admin/traces").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("signature_invalid")
            && html.contains("contoso: signature verification failed")
    );
    // Each kind of success in its own words: a Test SSO signed nobody in.
    for words in [
        "Signed in<br><code class=\"trace-code\">signed_in",
        "Sent to the Waiting Room<br><code class=\"trace-code\">waiting_room",
        "Test SSO passed (nobody signed in)<br><code class=\"trace-code\">test_passed",
        "Refused<br><code class=\"trace-code\">signature_invalid",
    ] {
        assert!(html.contains(words), "{words}");
    }
    assert!(html.contains("https://idp.contoso.example/"));
    assert!(
        !html.contains("audience_mismatch") && !html.contains("fabrikam"),
        "{html}"
    );
}

/// Creates the API tenant `account` of `domains` (as the operator's API would).
async fn api_tenant(app: &TestApp, account: &str, domains: &[&str]) {
    app.state
        .tenant_admin
        .create(
            &realmgate::admin::Actor::Cli,
            serde_json::json!({"account": account, "name": "Acme Inc", "domains": domains}),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn domains_are_listed_added_verified_and_removed_through_the_tenant_operations() {
    let app = spawn_app(|_| {}).await;
    api_tenant(&app, "acme", &["acme.test"]).await;
    api_tenant(&app, "other-co", &["shared.test"]).await;
    let boss = admin_of(&app, "acme", "boss@acme.test").await;
    let me = sign_in(&app, &boss, Utc::now()).await;

    let (status, html) = me.get(&app, "/acme/admin/domains").await;
    assert_eq!(status, StatusCode::OK);
    let html = common::unescape(&html);
    assert!(html.contains("<h1>Domains</h1>"), "{html}");
    assert!(html.contains("<td>acme.test</td>") && html.contains("Not verified yet"));
    // The TXT record to publish: the same as the API's, with a copy button for scripts.
    let listed = app.state.tenant_admin.domains("acme").await.unwrap();
    assert!(
        html.contains(&format!(">{}</code>", listed[0].record_name)),
        "{html}"
    );
    assert!(html.contains(&format!(">{}</code>", listed[0].record_value)));
    assert!(html.contains("data-copy=\"record-value-0\" hidden"));
    assert!(html.contains("<script src=\"/static/copy.js\"></script>"));
    let js = app
        .client()
        .get(app.at("/static/copy.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);

    let res = me
        .post(&app, "/acme/admin/domains", &[("domain", "Sub.Acme.TEST")])
        .await;
    assert_eq!(
        location(&res),
        "/acme/admin/domains?domain=sub.acme.test&done=added"
    );
    let tenant = app.state.tenant_admin.get("acme").await.unwrap();
    assert!(tenant.domains.contains(&"sub.acme.test".to_string()));
    assert!(
        !tenant
            .verified_domains
            .contains(&"sub.acme.test".to_string())
    );
    let last = events(&app, "acme").await.pop().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("user:boss@acme.test", "domain_added")
    );
    let (_, html) = me
        .get(&app, "/acme/admin/domains?domain=sub.acme.test&done=added")
        .await;
    assert!(html.contains("sub.acme.test was added."), "{html}");

    // Another tenant's domain: refused, without naming that tenant.
    let before = events(&app, "acme").await.len();
    let res = me
        .post(&app, "/acme/admin/domains", &[("domain", "shared.test")])
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(html.contains(">conflict</code>"), "{html}");
    assert!(html.contains("already claimed by another tenant"), "{html}");
    assert!(!html.contains("other-co"), "{html}");
    for bad in ["", "not a domain", "localhost"] {
        let res = me
            .post(&app, "/acme/admin/domains", &[("domain", bad)])
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }
    assert_eq!(events(&app, "acme").await.len(), before);

    // Verify now: without the record the domain stays unverified, and says what was found.
    let res = me
        .post(&app, "/acme/admin/domains/sub.acme.test/verify", &[])
        .await;
    let to = location(&res);
    assert!(
        ["missing", "wrong_token", "lookup_failed"]
            .iter()
            .any(|o| to == format!("/acme/admin/domains?domain=sub.acme.test&done={o}")),
        "{to}"
    );
    let res = me
        .post(&app, "/acme/admin/domains/nowhere.test/verify", &[])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = me
        .post(&app, "/acme/admin/domains/sub.acme.test/remove", &[])
        .await;
    assert_eq!(
        location(&res),
        "/acme/admin/domains?domain=sub.acme.test&done=removed"
    );
    let tenant = app.state.tenant_admin.get("acme").await.unwrap();
    assert_eq!(tenant.domains, ["acme.test"]);
    let last = events(&app, "acme").await.pop().unwrap();
    assert_eq!(last.action, "domain_removed");

    // Adding and removing need a recent sign-in; verifying does not.
    let stale = sign_in(&app, &boss, Utc::now() - Duration::minutes(20)).await;
    let before = events(&app, "acme").await.len();
    for (path, fields) in [
        ("/acme/admin/domains", &[("domain", "late.acme.test")][..]),
        ("/acme/admin/domains/acme.test/remove", &[][..]),
    ] {
        let res = stale.post(&app, path, fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("reauthentication_required")
        );
    }
    assert_eq!(events(&app, "acme").await.len(), before);
    assert_eq!(
        app.state.tenant_admin.get("acme").await.unwrap().domains,
        ["acme.test"]
    );
    let res = stale
        .post(&app, "/acme/admin/domains/acme.test/verify", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_file_tenants_domains_are_read_only_and_name_the_file() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let (status, html) = me.get(&app, "/fabrikam/admin/domains").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<td>fabrikam.com</td>"), "{html}");
    assert!(
        html.contains("id=\"read-only\"") && html.contains("fabrikam.toml"),
        "{html}"
    );
    assert!(
        !html.contains("action=\"/fabrikam/admin/domains\""),
        "{html}"
    );
    assert!(!html.contains("/remove\""), "{html}");
    for path in [
        "/fabrikam/admin/domains",
        "/fabrikam/admin/domains/fabrikam.com/remove",
    ] {
        let res = me
            .post(&app, path, &[("domain", "more.fabrikam.com")])
            .await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{path}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(">managed_in_file</code>") && html.contains("fabrikam.toml"),
            "{html}"
        );
    }
    let tenant = app.state.tenant_admin.get("fabrikam").await.unwrap();
    assert_eq!(tenant.domains, ["fabrikam.com"]);
}

#[tokio::test]
async fn an_invitation_from_the_console_creates_the_user_and_mails_them() {
    let app = spawn_app(|_| {}).await;
    let outbox = app.data.join("outbox");
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    let (_, html) = me.get(&app, "/fabrikam/admin/users").await;
    assert!(
        html.contains("action=\"/fabrikam/admin/users/invite\""),
        "{html}"
    );
    let res = me
        .post(
            &app,
            "/fabrikam/admin/users/invite",
            &[("email", "newbie@fabrikam.com"), ("name", "New Bie")],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=invited");
    let newbie = by_email(&app, "fabrikam", "newbie@fabrikam.com").await;
    assert!(newbie.password_hash.is_none() && !newbie.admin);
    assert_eq!(newbie.name, "New Bie");
    let mail = common::mail::wait_for(&outbox, 1).await;
    let invitation = mail
        .iter()
        .find(|m| m.contains("To: newbie@fabrikam.com"))
        .unwrap();
    assert!(
        common::mail::link(invitation, "/password/set").is_some(),
        "{invitation}"
    );
    let last = events(&app, "fabrikam").await.pop().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("user:boss@fabrikam.com", "user_invited")
    );

    // Invited as an administrator: a recent sign-in first.
    let stale = sign_in(&app, &boss, Utc::now() - Duration::minutes(20)).await;
    let res = stale
        .post(
            &app,
            "/fabrikam/admin/users/invite",
            &[("email", "chief@fabrikam.com"), ("admin", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let chief = realmgate::discovery::Email::parse("chief@fabrikam.com").unwrap();
    assert!(
        app.state
            .users
            .by_email("fabrikam", &chief)
            .await
            .unwrap()
            .is_none()
    );
    let res = me
        .post(
            &app,
            "/fabrikam/admin/users/invite",
            &[("email", "chief@fabrikam.com"), ("admin", "1")],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=invited");
    assert!(by_email(&app, "fabrikam", "chief@fabrikam.com").await.admin);
    // Outside the account's domains: refused, nobody created.
    let res = me
        .post(
            &app,
            "/fabrikam/admin/users/invite",
            &[("email", "eve@contoso.com")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // An SSO account's invitation says where to sign in.
    let sso_boss = admin_of(&app, "contoso", "boss@contoso.com").await;
    let sso = sign_in(&app, &sso_boss, Utc::now()).await;
    let res = sso
        .post(
            &app,
            "/contoso/admin/users/invite",
            &[("email", "sam@contoso.com")],
        )
        .await;
    assert_eq!(location(&res), "/contoso/admin/users?done=invited");
    let mail = common::mail::wait_for(&outbox, 3).await;
    let to_sam = mail
        .iter()
        .find(|m| m.contains("To: sam@contoso.com"))
        .unwrap();
    assert!(
        common::mail::link(to_sam, "/contoso").is_some()
            && common::mail::link(to_sam, "/password/set").is_none(),
        "{to_sam}"
    );
}

#[tokio::test]
async fn mail_to_a_person_goes_in_the_language_of_their_last_sign_in() {
    let app = spawn_app(|_| {}).await;
    let outbox = app.data.join("outbox");
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let password = "waiting password 1";
    let french = add_user(
        &app,
        "fabrikam",
        "amelie@fabrikam.com",
        Some(password),
        false,
        Status::Waiting,
    )
    .await;
    let english = add_user(
        &app,
        "fabrikam",
        "ed@fabrikam.com",
        Some(password),
        false,
        Status::Waiting,
    )
    .await;
    // Amélie asks in French (fr-CA): her sign-in lands in the Waiting Room, and her
    // language is remembered.
    let browser = reqwest::Client::builder()
        .default_headers(HeaderMap::from_iter([(
            reqwest::header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr-CA,fr;q=0.9,en;q=0.5"),
        )]))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = common::password_login(
        &app,
        &browser,
        &[("email", "amelie@fabrikam.com"), ("password", password)],
    )
    .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(
        stored(&app, &french).await.unwrap().lang,
        Some(realmgate::i18n::Lang::Fr)
    );
    assert_eq!(stored(&app, &english).await.unwrap().lang, None);

    let me = sign_in(&app, &boss, Utc::now()).await;
    for user in [&french, &english] {
        let res = me
            .post(
                &app,
                &format!("/fabrikam/admin/users/{}/approve", user.id),
                &[],
            )
            .await;
        assert_eq!(location(&res), "/fabrikam/admin/users?done=approved");
    }
    let mail = common::mail::wait_for(&outbox, 2).await;
    let to_amelie = mail
        .iter()
        .find(|m| m.contains("To: amelie@fabrikam.com"))
        .unwrap();
    assert!(to_amelie.contains("approuvé"), "{to_amelie}");
    // Nobody said Ed's language: the default one.
    let to_ed = mail
        .iter()
        .find(|m| m.contains("To: ed@fabrikam.com"))
        .unwrap();
    assert!(to_ed.contains("approved your account"), "{to_ed}");
}

#[tokio::test]
async fn an_operators_default_language_is_for_pages_and_people_nobody_knows_better() {
    let app = spawn_app(|c| c.default_language = realmgate::i18n::Lang::Fr).await;
    let outbox = app.data.join("outbox");
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let ed = add_user(
        &app,
        "fabrikam",
        "ed@fabrikam.com",
        None,
        false,
        Status::Waiting,
    )
    .await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    // No Accept-Language: the operator's French; a header naming English still wins.
    let (_, html) = me.get(&app, "/fabrikam/admin").await;
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    let res = me
        .client
        .get(app.at("/fabrikam/admin"))
        .header(reqwest::header::ACCEPT_LANGUAGE, "en-US")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("<html lang=\"en\">"));
    let res = me
        .post(
            &app,
            &format!("/fabrikam/admin/users/{}/approve", ed.id),
            &[],
        )
        .await;
    assert_eq!(location(&res), "/fabrikam/admin/users?done=approved");
    let mail = common::mail::wait_for(&outbox, 1).await;
    assert!(mail[0].contains("To: ed@fabrikam.com"));
    assert!(mail[0].contains("approuvé"), "{}", mail[0]);
}

#[tokio::test]
async fn console_pages_speak_the_requests_language() {
    let app = spawn_app(|_| {}).await;
    let boss = admin_of(&app, "fabrikam", "boss@fabrikam.com").await;
    let me = sign_in(&app, &boss, Utc::now()).await;
    for path in [
        "/fabrikam/admin",
        "/fabrikam/admin/users",
        "/fabrikam/admin/domains",
        "/fabrikam/admin/traces",
        "/fabrikam/admin/audit",
    ] {
        let res = me
            .client
            .get(app.at(path))
            .header(reqwest::header::ACCEPT_LANGUAGE, "fr-CA")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let html = common::unescape(&res.text().await.unwrap());
        assert!(html.contains("<html lang=\"fr\">"), "{path}: {html}");
        assert!(
            html.contains("Administration de Fabrikam"),
            "{path}: {html}"
        );
        assert!(html.contains("Journal d'audit"), "{path}: {html}");
        // The switch returns to the page itself.
        assert!(
            html.contains(&format!(
                "href=\"/lang/en?back={}\"",
                path.replace('/', "%2F")
            )),
            "{path}: {html}"
        );
    }
    let res = me
        .client
        .get(app.at("/fabrikam/admin/users"))
        .header(
            reqwest::header::COOKIE,
            format!("realmgate_session={}; lang=fr", me.session.id),
        )
        .send()
        .await
        .unwrap();
    let html = common::unescape(&res.text().await.unwrap());
    assert!(
        html.contains("<h1>Utilisateurs</h1>") && html.contains("Salle d'attente"),
        "{html}"
    );
}

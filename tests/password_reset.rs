//! Password reset and one-time set-password links over HTTP, with the outbox as the
//! mailbox: one use per link, the 30-minute expiry, no enumeration by answer, rate limits,
//! CSRF, the password policy, and the end of every older session.

mod common;

use std::time::Duration;

use common::{add_active, add_user, ask_reset, csrf_of, spawn_app};
use realmgate::accounts::Status;
use realmgate::session::{LinkClaim, Purpose};
use reqwest::StatusCode;

async fn set_password(
    client: &reqwest::Client,
    link: &str,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    let page = client.get(link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the link's form");
    let html = page.text().await.unwrap();
    let token = url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let action = link.split("/password/set").next().unwrap().to_string() + "/password/set";
    client
        .post(action)
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("token", &token),
            ("password", password),
            ("confirm", confirm),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_ends_older_sessions() {
    let app = spawn_app(|_| {}).await;
    add_active(&app, "fabrikam", "ann@fabrikam.com", "old password 1").await;
    let old_session = app.client();
    let res = common::password_login(
        &app,
        &old_session,
        &[
            ("email", "ann@fabrikam.com"),
            ("password", "old password 1"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        old_session
            .get(app.at("/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let browser = app.client();
    assert_eq!(
        ask_reset(&app, &browser, "ann@fabrikam.com").await.status(),
        StatusCode::OK
    );
    let outbox = app.data.join("outbox");
    let mail = common::mail::wait_for(&outbox, 1).await.remove(0);
    assert!(mail.contains("To: ann@fabrikam.com"), "{mail}");
    let link = common::mail::link(&mail, "/password/set").expect("a set-password link");

    // A typo does not spend the link; a short password is refused by the policy.
    let res = set_password(&browser, &link, "new password 2", "new password 3").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = set_password(&browser, &link, "short", "short").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = set_password(&browser, &link, "new password 2", "new password 2").await;
    assert_eq!(res.status(), StatusCode::OK);

    // Used once: the link is dead, for the form and for a replayed POST.
    assert_eq!(
        browser.get(&link).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // The session opened with the old password is over.
    let me = old_session.get(app.at("/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::SEE_OTHER, "old session still live");
    // The old password is refused, the new one signs in.
    let fresh = app.client();
    let res = common::password_login(
        &app,
        &fresh,
        &[
            ("email", "ann@fabrikam.com"),
            ("password", "old password 1"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = common::password_login(
        &app,
        &fresh,
        &[
            ("email", "ann@fabrikam.com"),
            ("password", "new password 2"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        fresh.get(app.at("/me")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_answer_is_the_same_whether_or_not_the_address_exists() {
    let app = spawn_app(|_| {}).await;
    add_active(&app, "fabrikam", "ann@fabrikam.com", "old password 1").await;
    add_user(
        &app,
        "fabrikam",
        "off@fabrikam.com",
        Some("old password 1"),
        false,
        Status::Disabled,
    )
    .await;
    let mut answers = Vec::new();
    for email in [
        "ann@fabrikam.com",
        "nobody@fabrikam.com",
        "off@fabrikam.com",
        "alice@contoso.com",
        "x@unknown.example",
    ] {
        let res = ask_reset(&app, &app.client(), email).await;
        let status = res.status();
        let body = res.text().await.unwrap().replace(email, "EMAIL");
        answers.push((email, status, body));
    }
    for (email, status, body) in &answers {
        assert_eq!(*status, answers[0].1, "{email}");
        assert_eq!(*body, answers[0].2, "{email}");
    }
    // Only the real, enabled user of a password tenant got mail.
    let mail = common::mail::wait_for(&app.data.join("outbox"), 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mail = common::mail::messages(&app.data.join("outbox"))
        .into_iter()
        .chain(mail)
        .collect::<Vec<_>>();
    assert!(
        mail.iter().all(|m| m.contains("To: ann@fabrikam.com")),
        "{mail:?}"
    );
}

#[tokio::test]
async fn requests_are_limited_per_address_and_forms_need_csrf() {
    let app = spawn_app(|_| {}).await;
    for _ in 0..5 {
        assert_eq!(
            ask_reset(&app, &app.client(), "ann@fabrikam.com")
                .await
                .status(),
            StatusCode::OK
        );
    }
    let res = ask_reset(&app, &app.client(), "Ann@fabrikam.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // Another address from the same client is still served (the per-IP limit is higher).
    assert_eq!(
        ask_reset(&app, &app.client(), "bob@fabrikam.com")
            .await
            .status(),
        StatusCode::OK
    );

    let client = app.client();
    let res = client
        .post(app.at("/password/forgot"))
        .form(&[("email", "ann@fabrikam.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client
        .post(app.at("/password/set"))
        .form(&[
            ("token", "x"),
            ("password", "new password 2"),
            ("confirm", "new password 2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn expired_forged_and_foreign_links_are_refused() {
    let app = spawn_app(|_| {}).await;
    let user = add_active(&app, "fabrikam", "ann@fabrikam.com", "old password 1").await;
    let links = &app.state.login.links;
    let claim = |account: &str| LinkClaim {
        user_id: user.id,
        account: account.into(),
        purpose: Purpose::Reset,
        issued_at: chrono::Utc::now(),
    };
    let expired = links
        .issue(&claim("fabrikam"), Duration::from_millis(10))
        .await
        .unwrap();
    let other_account = links
        .issue(&claim("contoso"), Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let client = app.client();
    for token in [
        expired.as_str(),
        other_account.as_str(),
        "forged-token-forged-token-forged-token-abcd",
        "",
    ] {
        let res = client
            .get(app.at(&format!("/password/set?token={token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{token}");
        assert!(res.text().await.unwrap().contains("/password/forgot"));
    }
}

#[tokio::test]
async fn pages_follow_accept_language_and_the_switch() {
    let app = spawn_app(|c| c.brand_name = "Acme Login".into()).await;
    let client = app.client();
    let html = client
        .get(app.at("/"))
        .header("accept-language", "fr-CA,fr;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(
        html.contains("<title>Connexion · Acme Login</title>"),
        "{html}"
    );
    assert!(html.contains("Adresse courriel"), "{html}");
    let html = client
        .get(app.at("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("<title>Sign in · Acme Login</title>"),
        "{html}"
    );
    // The switch sets the cookie and returns to the page; the cookie beats the header.
    let res = client
        .get(app.at("/lang/fr?back=%2Fpassword%2Fforgot"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/password/forgot");
    let html = client
        .get(app.at("/password/forgot"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<html lang=\"fr\">") && html.contains("Réinitialiser"),
        "{html}"
    );
    // No open redirect through the switch.
    let res = client
        .get(app.at("/lang/en?back=%2F%2Fevil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/");
    // The brand colour's stylesheet is served.
    let css = client
        .get(app.at("/static/brand.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        css.contains("--accent: #2f5bd3") && css.contains("--on-accent: #ffffff"),
        "{css}"
    );
}

/// Who an invitation is for: a new user of `account` as the console or the API makes one.
fn invitee(account: &str, email: &str, name: &str) -> realmgate::accounts::NewUser {
    let email = realmgate::discovery::Email::parse(email).unwrap();
    let mut new = realmgate::accounts::NewUser::new(
        account,
        email,
        realmgate::accounts::Origin::Api,
        chrono::Utc::now(),
    );
    new.name = name.into();
    new
}

#[tokio::test]
async fn an_invitation_mails_a_set_password_link_or_the_sign_in_url() {
    use realmgate::admin::Actor;
    use realmgate::discovery::Email;
    use realmgate::i18n::Lang;
    let app = spawn_app(|_| {}).await;
    let dir = &app.state.discovery.directory;
    let fabrikam = dir.by_account("fabrikam").await.unwrap().unwrap();
    let contoso = dir.by_account("contoso").await.unwrap().unwrap();
    let users = &app.state.admin.users;
    let actor = Actor::User(Email::parse("boss@fabrikam.com").unwrap());
    let invited = users
        .invite(
            &actor,
            &fabrikam,
            invitee("fabrikam", "new@fabrikam.com", "New Person"),
            Lang::Fr,
        )
        .await
        .unwrap();
    assert!(invited.password_hash.is_none() && invited.status == Status::Active);
    users
        .invite(
            &actor,
            &contoso,
            invitee("contoso", "sso@contoso.com", ""),
            Lang::En,
        )
        .await
        .unwrap();
    // Outside the tenant's domains: refused, nothing sent.
    assert!(
        users
            .invite(
                &actor,
                &fabrikam,
                invitee("fabrikam", "x@contoso.com", ""),
                Lang::En
            )
            .await
            .is_err()
    );
    let mail = common::mail::wait_for(&app.data.join("outbox"), 2).await;
    let to_new = mail
        .iter()
        .find(|m| m.contains("To: new@fabrikam.com"))
        .unwrap();
    assert!(
        to_new.contains("Fabrikam") && to_new.contains("7 jours"),
        "{to_new}"
    );
    let link = common::mail::link(to_new, "/password/set").expect("set-password link");
    let client = app.client();
    let res = set_password(&client, &link, "invited password", "invited password").await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = common::password_login(
        &app,
        &client,
        &[
            ("email", "new@fabrikam.com"),
            ("password", "invited password"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to_sso = mail
        .iter()
        .find(|m| m.contains("To: sso@contoso.com"))
        .unwrap();
    assert_eq!(
        common::mail::link(to_sso, "/contoso"),
        Some(app.at("/contoso")),
        "{to_sso}"
    );
    let events = app
        .state
        .admin
        .audit
        .list(Some("fabrikam"), None, 100)
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|e| e.action == "user_invited").count(),
        1
    );
}

#[tokio::test]
async fn approving_or_denying_a_waiting_user_mails_them_and_is_audited() {
    use realmgate::admin::Actor;
    let app = spawn_app(|_| {}).await;
    let waiting = add_user(
        &app,
        "fabrikam",
        "wait@fabrikam.com",
        None,
        false,
        Status::Waiting,
    )
    .await;
    let turned_away = add_user(
        &app,
        "fabrikam",
        "no@fabrikam.com",
        None,
        false,
        Status::Waiting,
    )
    .await;
    let active = add_active(&app, "fabrikam", "ann@fabrikam.com", "old password 1").await;
    let users = &app.state.admin.users;
    let actor = Actor::Cli;
    users.approve(&actor, "fabrikam", waiting.id).await.unwrap();
    let denied = users
        .deny(&actor, "fabrikam", turned_away.id, Some("not on staff"))
        .await
        .unwrap();
    assert_eq!(denied.status, Status::Disabled);
    // Only the Waiting Room is denied; another account's user is absent.
    assert!(
        users
            .deny(&actor, "fabrikam", active.id, None)
            .await
            .is_err()
    );
    assert!(
        users
            .deny(&actor, "contoso", waiting.id, None)
            .await
            .is_err()
    );
    let mail = common::mail::wait_for(&app.data.join("outbox"), 2).await;
    let approved = mail
        .iter()
        .find(|m| m.contains("To: wait@fabrikam.com"))
        .unwrap();
    assert_eq!(
        common::mail::link(approved, "/fabrikam"),
        Some(app.at("/fabrikam")),
        "{approved}"
    );
    let refused = mail
        .iter()
        .find(|m| m.contains("To: no@fabrikam.com"))
        .unwrap();
    assert!(refused.contains("not on staff"), "{refused}");
    let events = app
        .state
        .admin
        .audit
        .list(Some("fabrikam"), None, 100)
        .await
        .unwrap();
    let deny = events.iter().find(|e| e.action == "user_denied").unwrap();
    assert_eq!(deny.after.as_ref().unwrap()["reason"], "not on staff");
}

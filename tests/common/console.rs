//! A console admin's browser: a session made directly in the store (signed in at a chosen
//! time), its cookie sent on every request, and its form token added to every form.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use realmgate::accounts::User;
use realmgate::session::Session;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, HeaderValue};

use super::TestApp;

/// A browser signed in as `user`, with a session that began at `signed_in_at`.
pub struct Signed {
    pub client: reqwest::Client,
    pub session: Session,
}

pub async fn sign_in(app: &TestApp, user: &User, signed_in_at: DateTime<Utc>) -> Signed {
    let session = super::open_session(app, user, signed_in_at).await;
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_str(&format!("realmgate_session={}", session.id)).unwrap(),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Signed { client, session }
}

impl Signed {
    pub async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let res = self.client.get(app.at(path)).send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// Posts `fields` plus this session's token.
    pub async fn post(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = fields.to_vec();
        form.push(("csrf", &self.session.csrf));
        self.client
            .post(app.at(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

impl Signed {
    /// A client with this session in a cookie jar, which also keeps what the gateway sets
    /// (the SSO binding cookie): a browser window of this admin.
    pub fn window(&self, app: &TestApp) -> reqwest::Client {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(
            &format!("realmgate_session={}; Path=/", self.session.id),
            &app.url.parse().unwrap(),
        );
        reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Posts the Test SSO form of this admin's account from `window` (a browser window of
    /// theirs, [`Signed::window`], which keeps the SSO binding cookie the gateway sets):
    /// the URL of the IdP it sends the window to.
    pub async fn start_test_sso(&self, app: &TestApp, window: &reqwest::Client) -> String {
        let res = window
            .post(app.at(&format!("/{}/admin/sso/test", self.session.account)))
            .form(&[("csrf", self.session.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::FOUND,
            "{}",
            res.text().await.unwrap()
        );
        res.headers()[reqwest::header::LOCATION]
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// The audit events of `account` (the newest last).
pub async fn events(app: &TestApp, account: &str) -> Vec<realmgate::audit::AuditEvent> {
    app.state
        .admin
        .audit
        .list(Some(account), None, 1000)
        .await
        .unwrap()
}

//! Two gateway processes behind one public URL, sharing Redis (pending requests, replay
//! cache, sessions) and PostgreSQL (users): a login begun on one finishes on the other.

mod common;

use common::Process;
use common::idp::{Idp, through_idp};

#[tokio::test]
async fn login_started_on_one_instance_finishes_on_another() {
    let (Some(schema), Some(redis)) = (common::pg_schema().await, common::redis_url()) else {
        return;
    };
    let db = schema.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&domains).unwrap();
    common::standard_tenants(&domains);
    let (port_a, port_b) = (common::free_port(), common::free_port());
    // Both instances answer as the same public URL (a load balancer's); the IdP posts to
    // instance B while the request was started on A.
    let public = format!("http://127.0.0.1:{port_b}");
    let env = vec![
        ("REALMGATE_PUBLIC_URL", public.clone()),
        ("REALMGATE_DOMAINS_DIR", domains.display().to_string()),
        ("REALMGATE_DATA_DIR", data.display().to_string()),
        ("REALMGATE_DATABASE_URL", db),
        ("REALMGATE_SESSION_STORE", redis),
        (
            "REALMGATE_SECRET",
            "shared-secret-of-the-fleet-0123456789".to_string(),
        ),
    ];
    let a = Process::start(port_a, false, &env).await;
    let sp_metadata = reqwest::get(format!("{}/saml/metadata", a.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let Some(idp) = Idp::start(&sp_metadata, &[]) else {
        return;
    };
    std::fs::write(domains.join("contoso.idp.xml"), &idp.metadata).unwrap();
    let toml = std::fs::read_to_string(domains.join("contoso.toml")).unwrap();
    std::fs::write(
        domains.join("contoso.toml"),
        toml.replace("[sso]\n", "[sso]\njit = \"create\"\n"),
    )
    .unwrap();
    // Restart A so both load the same files at start (B starts after the rewrite anyway).
    drop(a);
    let a = Process::start(port_a, false, &env).await;
    let b = Process::start(port_b, false, &env).await;

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = through_idp(
        &a.url,
        &browser,
        "alice@contoso.com",
        Some("password"),
        None,
    )
    .await;
    assert!(post.acs.starts_with(&b.url), "{}", post.acs);
    let res = post.submit(&browser).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    // The session opened by B is valid on A too (cookies are per host, not per port).
    for instance in [&a.url, &b.url] {
        let verify = browser
            .get(format!("{instance}/auth/verify"))
            .send()
            .await
            .unwrap();
        assert_eq!(verify.status(), 200, "{instance}");
        assert_eq!(verify.headers()["x-realmgate-email"], "alice@contoso.com");
    }
    // Rate limits are shared too: failures counted on A lock the account on B.
    let statuses = {
        let mut s = Vec::new();
        for i in 0..6 {
            let url = if i % 2 == 0 { &a.url } else { &b.url };
            let html = browser
                .get(format!("{url}/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let token = common::csrf_of(&html);
            let res = browser
                .post(format!("{url}/login/password"))
                .form(&[
                    ("email", "zed@fabrikam.com"),
                    ("password", "guess"),
                    ("csrf", &token),
                ])
                .send()
                .await
                .unwrap();
            s.push(res.status().as_u16());
        }
        s
    };
    assert!(statuses.contains(&429), "{statuses:?}");
}

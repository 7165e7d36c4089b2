//! `realmgate_idp_cert_expiry_seconds` right after a plain start. Its own test binary: the
//! metrics recorder is global to a process, so in a binary where another test had already
//! started a gateway the gauge would be present whatever the start-up order.

mod common;

/// Every tenant's IdP certificates, from a metadata file and from inline settings, are in
/// the expiry gauge on the first scrape after start, so the README's expiry alert can fire
/// without waiting for a reload.
#[tokio::test]
async fn the_cert_expiry_gauge_is_set_at_start() {
    let app = common::spawn_app_with(
        |dir| {
            common::standard_tenants(dir);
            let pem =
                std::fs::read_to_string(common::saml::testdata().join("idp-cert.pem")).unwrap();
            std::fs::write(
                dir.join("tailspin.toml"),
                format!(
                    "account = \"tailspin\"\ndomains = [\"tailspin.example\"]\n[sso]\nissuer = \"https://sts.tailspin.example/\"\nsso_url = \"https://sts.tailspin.example/sso\"\ncertificate = \"\"\"{pem}\"\"\"\n"
                ),
            )
            .unwrap();
        },
        |_| {},
    )
    .await;
    let metrics = app
        .client()
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for account in ["contoso", "tailspin"] {
        let series = format!("realmgate_idp_cert_expiry_seconds{{account=\"{account}\"}}");
        assert!(metrics.contains(&series), "{series} missing:\n{metrics}");
    }
}

//! IdP metadata known-answer tests: real documents from python3-saml and crewjam/saml, and
//! an Entra-style federation metadata document written by `generate.py`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::saml::*;
use realmgate::saml::SamlError;
use realmgate::saml::metadata::{IdpMetadata, IdpRegistry};

fn parse(path: std::path::PathBuf) -> Result<IdpMetadata, SamlError> {
    IdpMetadata::parse(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn py(name: &str) -> std::path::PathBuf {
    vectors().join("python3-saml/metadata").join(name)
}

fn cj(name: &str) -> std::path::PathBuf {
    vectors().join("crewjam-saml").join(name)
}

#[test]
fn python3_saml_idp_metadata() {
    let m = parse(py("idp_metadata.xml")).expect("parse");
    assert_eq!(m.entity_id, "https://app.onelogin.com/saml/metadata/383123");
    assert_eq!(m.certs.len(), 1);
    assert!(m.sso_redirect.is_some());

    let m = parse(py("idp_metadata2.xml")).expect("parse");
    assert_eq!(m.entity_id, "urn:example:idp");

    // Two signing certificates (rollover): both kept.
    assert_eq!(
        parse(py("idp_metadata_multi_certs.xml"))
            .expect("parse")
            .certs
            .len(),
        2
    );
    assert_eq!(
        parse(py("idp_metadata_multi_signing_certs.xml"))
            .expect("parse")
            .certs
            .len(),
        2
    );
    // Encryption-only KeyDescriptors are not signing keys.
    assert_eq!(
        parse(py("idp_metadata_different_sign_and_encrypt_cert.xml"))
            .expect("parse")
            .certs
            .len(),
        1
    );
    // The same certificate for both uses is kept once.
    assert_eq!(
        parse(py("idp_metadata_same_sign_and_encrypt_cert.xml"))
            .expect("parse")
            .certs
            .len(),
        1
    );
    // An aggregate holding an IdP and SPs yields the IdP.
    let m = parse(py("testshib-providers.xml")).expect("parse");
    assert_eq!(m.entity_id, "https://idp.testshib.org/idp/shibboleth");
    assert!(m.sso_redirect.is_some() && m.sso_post.is_some());
}

#[test]
fn ambiguous_or_sp_only_or_broken_metadata_is_refused() {
    // Two IdPs: ambiguous unless the entity is named.
    assert!(matches!(
        parse(py("idp_multiple_descriptors.xml")),
        Err(SamlError::Metadata(_))
    ));
    let bytes = std::fs::read(py("idp_multiple_descriptors.xml")).expect("file");
    // Naming the entity resolves the ambiguity; this file's certificate is a truncated
    // placeholder, so the parse then stops at the certificate, not at the choice of IdP.
    match IdpMetadata::parse_entity(&bytes, Some("https://bar.example.com/access/saml/idp.xml")) {
        Err(SamlError::Metadata(msg)) => assert!(msg.contains("X.509"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    // SP metadata is not IdP metadata.
    for f in [
        "entities_metadata.xml",
        "metadata_settings1.xml",
        "signed_metadata_settings1.xml",
    ] {
        assert!(matches!(parse(py(f)), Err(SamlError::Metadata(_))), "{f}");
    }
    assert!(matches!(
        parse(py("noentity_metadata_settings1.xml")),
        Err(SamlError::Metadata(_))
    ));
    assert!(matches!(
        parse(py("unparsed_metadata.xml")),
        Err(SamlError::Malformed(_))
    ));
}

#[test]
fn crewjam_idp_metadata_shapes() {
    let okta = parse(cj(
        "TestSPCanHandleOktaSignedResponseEncryptedAssertion_IDPMetadata",
    ))
    .expect("okta");
    assert_eq!(okta.entity_id, "http://www.okta.com/exkppsa1qwuFV4D7z0h7");
    assert_eq!(okta.certs.len(), 1);
    assert!(okta.sso_redirect.is_some() && okta.sso_post.is_some());

    let google = parse(cj("TestSPCanHandlePlaintextResponse_IDPMetadata")).expect("google");
    assert_eq!(
        google.entity_id,
        "https://accounts.google.com/o/saml2?idpid=C02dfl1r1"
    );
    assert!(google.sso_redirect.is_none() && google.sso_post.is_some());
    assert_eq!(google.valid_until, Some(at("2021-01-03T16:17:49Z")));

    let samltest = parse(cj("TestGetArtifactBindingLocation_IDPMetadata")).expect("samltest");
    assert_eq!(samltest.certs.len(), 2);

    for f in [
        "SP_IDPMetadata",
        "TestSPCanHandleOneloginResponse_IDPMetadata",
        "TestSPRealWorldAssertionSignedNotResponse_idp_metadata",
        "TestServiceProviderCanHandleSignedAssertionsResponse_IDPMetadata",
    ] {
        let m = parse(cj(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!m.certs.is_empty(), "{f}");
    }
}

#[test]
fn entra_federation_metadata() {
    let m = parse(testdata().join("entra-federationmetadata.xml")).expect("entra");
    assert_eq!(
        m.entity_id,
        "https://sts.windows.net/00000000-1111-2222-3333-444444444444/"
    );
    // RoleDescriptor keys are ignored; the IDPSSODescriptor's two signing certs are kept.
    assert_eq!(m.certs.len(), 2);
    assert_eq!(
        m.sso_redirect.as_ref().map(|u| u.as_str()),
        Some("https://login.microsoftonline.com/00000000-1111-2222-3333-444444444444/saml2")
    );
    assert!(m.sso_post.is_some());
    assert!(m.certs.iter().all(|c| c.not_after.is_some()));
}

#[test]
fn registry_reports_expiring_certificates() {
    // python3-saml's OneLogin certificate expired long ago.
    let m = parse(py("idp_metadata.xml")).expect("parse");
    let reg = IdpRegistry::new(HashMap::from([("onelogin".to_string(), Arc::new(m))]));
    let soon = reg.expiring_certs(at("2026-01-01T00:00:00Z"), Duration::from_secs(30 * 86400));
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0].0, "onelogin");
    reg.record_metrics(at("2026-01-01T00:00:00Z"));
}

#[test]
fn registry_build_reads_files_and_inline_and_names_bad_files() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::copy(
        testdata().join("idp-metadata.xml"),
        d.join("contoso.idp.xml"),
    )
    .expect("copy");
    let pem = std::fs::read_to_string(testdata().join("idp-cert.pem")).expect("pem");
    let write = |name: &str, text: String| std::fs::write(d.join(name), text).expect("write");
    write(
        "contoso.toml",
        "account = \"contoso\"\ndomains = [\"contoso.com\"]\n[sso]\nidp_metadata = \"contoso.idp.xml\"\n".into(),
    );
    write(
        "fabrikam.toml",
        format!(
            "account = \"fabrikam\"\ndomains = [\"fabrikam.com\"]\n[sso]\nissuer = \"https://sts.fabrikam.com/\"\nsso_url = \"https://sts.fabrikam.com/sso\"\ncertificate = \"\"\"{pem}\"\"\"\n"
        ),
    );
    write(
        "remote.toml",
        "account = \"remote\"\ndomains = [\"remote.com\"]\n[sso]\nidp_metadata_url = \"https://login.example.net/federationmetadata.xml\"\n".into(),
    );
    let map = realmgate::discovery::map::load_dir(d).expect("tenant map");
    let built = IdpRegistry::build(&map).expect("all good");
    assert_eq!(built.len(), 2);
    assert_eq!(built["fabrikam"].entity_id, "https://sts.fabrikam.com/");
    assert_eq!(built["contoso"].entity_id, "https://idp.example.com/");
    let urls = IdpRegistry::url_sources(&map);
    assert_eq!(urls.len(), 1);
    assert_eq!(urls[0].account, "remote");

    write(
        "broken.toml",
        "account = \"broken\"\ndomains = [\"broken.com\"]\n[sso]\nidp_metadata = \"missing.xml\"\n"
            .into(),
    );
    write(
        "badcert.toml",
        "account = \"badcert\"\ndomains = [\"badcert.com\"]\n[sso]\nissuer = \"x\"\nsso_url = \"https://x.example/sso\"\ncertificate = \"AAAA\"\n".into(),
    );
    let map = realmgate::discovery::map::load_dir(d).expect("tenant map");
    let problems = IdpRegistry::build(&map).expect_err("two bad tenants");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].source.ends_with("badcert.toml"), "{problems:?}");
    assert_eq!(problems[0].line, Some(6));
    assert!(problems[1].source.ends_with("broken.toml"));
    assert_eq!(problems[1].line, Some(4));
    assert!(problems[1].message.contains("missing.xml"));
}

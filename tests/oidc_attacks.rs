//! Attack suite for `oidc::validate`, the way `tests/saml_attacks.rs` does SAML: a valid ID
//! token signed by a key this test generates (RSA, with jsonwebtoken), then one field or the
//! signing broken per case, each expecting one exact refusal. Every check of `validate` has
//! a case here that an implementation without the check accepts.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::core::CoreJsonWebKeySet;
use openssl::rsa::Rsa;
use realmgate::oidc::{Expected, OidcError, validate};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.example.com";
const ENTRA: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "realmgate-client";
const NONCE: &str = "n-0S6_WzA2Mj";
const SKEW: Duration = Duration::from_secs(120);

struct Key {
    private_pem: Vec<u8>,
    public_pem: Vec<u8>,
    jwk: Value,
}

fn key(kid: &str) -> Key {
    let rsa = Rsa::generate(2048).expect("rsa");
    let jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": B64.encode(rsa.n().to_vec()),
        "e": B64.encode(rsa.e().to_vec()),
    });
    Key {
        private_pem: rsa.private_key_to_pem().expect("pem"),
        public_pem: rsa.public_key_to_pem().expect("pub pem"),
        jwk,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 1, 0).unwrap()
}

fn claims() -> Value {
    let t = now().timestamp();
    json!({
        "iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "nonce": NONCE,
        "iat": t - 5, "exp": t + 300,
        "email": "alice@contoso.com", "email_verified": true, "name": "Alice",
    })
}

fn sign(key: &Key, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&key.private_pem).unwrap(),
    )
    .unwrap()
}

fn keys(of: &[&Key]) -> CoreJsonWebKeySet {
    serde_json::from_value(json!({"keys": of.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}))
        .expect("jwks")
}

fn check(
    token: &str,
    issuer: &str,
    set: &CoreJsonWebKeySet,
) -> Result<realmgate::oidc::Identity, OidcError> {
    validate(
        token,
        &Expected {
            issuer,
            keys: set,
            client_id: CLIENT,
            nonce: NONCE,
            skew: SKEW,
            email_claim: None,
        },
        now(),
    )
}

/// The cases share one key pair (RSA generation is the slow part).
struct Fixture {
    good: Key,
    set: CoreJsonWebKeySet,
}

fn fixture() -> Fixture {
    let good = key("k1");
    let set = keys(&[&good]);
    Fixture { good, set }
}

fn with(f: impl FnOnce(&mut Value)) -> Value {
    let mut c = claims();
    f(&mut c);
    c
}

#[test]
fn a_valid_token_gives_the_identity_bound_to_iss_and_sub() {
    let fx = fixture();
    let id = check(&sign(&fx.good, "k1", &claims()), ISSUER, &fx.set).expect("valid");
    assert_eq!(id.email, "alice@contoso.com");
    assert_eq!(id.name.as_deref(), Some("Alice"));
    assert_eq!(id.bound_subject(), "https://idp.example.com#248289761001");
}

/// Whether an error is the expected refusal.
type Refusal = fn(&OidcError) -> bool;

#[test]
fn every_broken_token_is_refused_with_its_reason() {
    let fx = fixture();
    let foreign = key("k1");
    let t = now().timestamp();
    let good = sign(&fx.good, "k1", &claims());
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let payload = B64.encode(
            serde_json::to_vec(&with(|c| c["email"] = json!("mallory@contoso.com"))).unwrap(),
        );
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let unsigned = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(serde_json::to_vec(&claims()).unwrap())
    );
    // The classic confusion: HS256 "signed" with the provider's public key as the secret.
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(&fx.good.public_pem),
        )
        .unwrap()
    };
    let cases: Vec<(&str, String, Refusal)> = vec![
        (
            "foreign key, same kid",
            sign(&foreign, "k1", &claims()),
            |e| matches!(e, OidcError::Signature(_)),
        ),
        ("tampered payload", tampered, |e| {
            matches!(e, OidcError::Signature(_))
        }),
        ("unknown kid", sign(&foreign, "k2", &claims()), |e| {
            matches!(e, OidcError::UnknownKey)
        }),
        ("alg none", unsigned, |e| {
            matches!(e, OidcError::Algorithm(_))
        }),
        ("HS256 with the public key", hs256, |e| {
            matches!(e, OidcError::Algorithm(_))
        }),
        (
            "wrong audience",
            sign(
                &fx.good,
                "k1",
                &with(|c| c["aud"] = json!("another-client")),
            ),
            |e| matches!(e, OidcError::Audience(_)),
        ),
        (
            "an untrusted second audience",
            sign(
                &fx.good,
                "k1",
                &with(|c| c["aud"] = json!([CLIENT, "another-client"])),
            ),
            |e| matches!(e, OidcError::Audience(_)),
        ),
        (
            "wrong issuer",
            sign(
                &fx.good,
                "k1",
                &with(|c| c["iss"] = json!("https://evil.example.com")),
            ),
            |e| matches!(e, OidcError::Issuer(_)),
        ),
        (
            "expired beyond the skew",
            sign(&fx.good, "k1", &with(|c| c["exp"] = json!(t - 121))),
            |e| matches!(e, OidcError::Expired(_)),
        ),
        (
            "issued in the future",
            sign(&fx.good, "k1", &with(|c| c["iat"] = json!(t + 600))),
            |e| matches!(e, OidcError::NotYetValid(_)),
        ),
        (
            "wrong nonce",
            sign(
                &fx.good,
                "k1",
                &with(|c| c["nonce"] = json!("another-login")),
            ),
            |e| matches!(e, OidcError::Nonce(_)),
        ),
        (
            "no nonce",
            sign(
                &fx.good,
                "k1",
                &with(|c| {
                    c.as_object_mut().unwrap().remove("nonce");
                }),
            ),
            |e| matches!(e, OidcError::Nonce(_)),
        ),
        (
            "email_verified false",
            sign(
                &fx.good,
                "k1",
                &with(|c| c["email_verified"] = json!(false)),
            ),
            |e| matches!(e, OidcError::EmailUnverified(_)),
        ),
        (
            "no email",
            sign(
                &fx.good,
                "k1",
                &with(|c| {
                    c.as_object_mut().unwrap().remove("email");
                }),
            ),
            |e| matches!(e, OidcError::NoEmail(_)),
        ),
        ("not a JWT", "not.a.jwt".into(), |e| {
            matches!(e, OidcError::Malformed(_))
        }),
        ("oversized", "a".repeat(20_000), |e| {
            matches!(e, OidcError::Malformed(_))
        }),
    ];
    let mut failures = Vec::new();
    for (name, token, expected) in &cases {
        match check(token, ISSUER, &fx.set) {
            Err(e) if expected(&e) => {}
            other => failures.push(format!("{name}: got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn expiry_within_the_skew_is_accepted() {
    let fx = fixture();
    let t = now().timestamp();
    let token = sign(&fx.good, "k1", &with(|c| c["exp"] = json!(t - 60)));
    assert!(check(&token, ISSUER, &fx.set).is_ok());
}

#[test]
fn entra_multi_tenant_issuer_takes_the_tokens_own_tid() {
    let fx = fixture();
    let iss = ENTRA.replace("{tenantid}", TID);
    let ok = sign(
        &fx.good,
        "k1",
        &with(|c| {
            c["iss"] = json!(iss);
            c["tid"] = json!(TID);
        }),
    );
    let id = check(&ok, ENTRA, &fx.set).expect("tenant-specific issuer");
    assert_eq!(id.issuer, iss);
    // Another tenant's issuer with this tenant's tid, and no tid at all: refused.
    let other = ENTRA.replace("{tenantid}", "00000000-0000-0000-0000-000000000001");
    let mixed = sign(
        &fx.good,
        "k1",
        &with(|c| {
            c["iss"] = json!(other);
            c["tid"] = json!(TID);
        }),
    );
    assert!(matches!(
        check(&mixed, ENTRA, &fx.set),
        Err(OidcError::Issuer(_))
    ));
    let no_tid = sign(&fx.good, "k1", &with(|c| c["iss"] = json!(iss)));
    assert!(matches!(
        check(&no_tid, ENTRA, &fx.set),
        Err(OidcError::Issuer(_))
    ));
    // The template itself is no issuer.
    let literal = sign(
        &fx.good,
        "k1",
        &with(|c| {
            c["iss"] = json!(ENTRA);
            c["tid"] = json!(TID);
        }),
    );
    assert!(check(&literal, ENTRA, &fx.set).is_err());
}

#[test]
fn a_custom_email_claim_is_read_and_required() {
    let fx = fixture();
    let token = sign(
        &fx.good,
        "k1",
        &with(|c| c["upn"] = json!("bob@contoso.com")),
    );
    let expected = |claim| Expected {
        issuer: ISSUER,
        keys: &fx.set,
        client_id: CLIENT,
        nonce: NONCE,
        skew: SKEW,
        email_claim: Some(claim),
    };
    let id = validate(&token, &expected("upn"), now()).expect("upn claim");
    assert_eq!(id.email, "bob@contoso.com");
    assert!(matches!(
        validate(&token, &expected("mail"), now()),
        Err(OidcError::NoEmail(_))
    ));
}

#[test]
fn a_rotated_key_set_verifies_the_new_key() {
    let fx = fixture();
    let next = key("k2");
    let token = sign(&next, "k2", &claims());
    assert!(matches!(
        check(&token, ISSUER, &fx.set),
        Err(OidcError::UnknownKey)
    ));
    assert!(check(&token, ISSUER, &keys(&[&fx.good, &next])).is_ok());
}

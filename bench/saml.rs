//! SAML throughput on one core, all measured in the same run so the ratios are fair:
//!
//! - `rsa2048_sign_raw`: RSA-2048 PKCS#1 v1.5 SHA-256 signatures with aws-lc-rs on the SP
//!   key, the yardstick of a signed HTTP-Redirect AuthnRequest;
//! - `redirect_signed` / `redirect_unsigned`: `redirect_url` for a fresh request ID each
//!   time (AuthnRequest XML, DEFLATE, base64, URL encoding, and the signature when signed);
//! - `acs_validate_8k`: `validate` of bench/data/response-8k.xml (an Entra ID-style Response,
//!   signed assertion, made by bench/make_response.py) at a fixed `now` in its window;
//! - `oidc_validate_rs256`: `oidc::validate` of an Entra-sized ID token (RS256, RSA-2048,
//!   signed here with jsonwebtoken) against a two-key JWKS: the CPU work of one OpenID
//!   Connect callback, beside the SAML ACS figure;
//! - `xmlsec_verify_8k`: only the signature step inside it, samael's
//!   `reduce_xml_to_signed` (libxml2 parse, xmlsec key from the certificate, C14N, digest,
//!   RSA verify): the ceiling the library puts on `validate`, and what the gateway's own
//!   checks cost on top of it;
//! - `wsfed_acs_saml11`: `wsfed::validate` of AD FS's default token (a SAML 1.1 assertion in
//!   an RSTR, tests/testdata/wsfed/valid_saml11.xml), the WS-Federation ACS's work.
//!
//! `cargo run --release --example saml_bench -- [seconds per measurement] [data dir] [names]`
//! (defaults: 3 s, bench/data, all; `names` is a comma-separated subset of the six, e.g.
//! `acs_validate_8k` alone for `perf record`). Single-threaded. Each measurement is preceded by a short
//! warm-up and prints ops/s; bench/saml.sh parses the `name  ops/s` lines.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use realmgate::discovery::SsoSettings;
use realmgate::saml::request::{RequestParams, new_request_id, redirect_url};
use realmgate::saml::{Expected, IdpMetadata, Sp, SpKeys, validate};
use samael::crypto::{CryptoProvider, ReduceMode, XmlSec};
use url::Url;

/// Runs `op` repeatedly for `secs` (after a warm-up of a tenth of that, at most 0.5 s) and
/// prints and returns operations per second.
fn measure(name: &str, secs: f64, wanted: bool, mut op: impl FnMut()) -> f64 {
    if !wanted {
        return f64::NAN;
    }
    let warm = Duration::from_secs_f64((secs / 10.0).min(0.5));
    let start = Instant::now();
    while start.elapsed() < warm {
        op();
    }
    let run = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut n: u64 = 0;
    let elapsed = loop {
        op();
        n += 1;
        let e = start.elapsed();
        if e >= run {
            break e;
        }
    };
    let per_sec = n as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<20} {per_sec:>12.1} ops/s   {:>9.1} us/op   n={n}",
        1e6 / per_sec
    );
    per_sec
}

fn die(msg: String) -> ! {
    eprintln!("saml_bench: {msg}");
    std::process::exit(1)
}

/// The values bench/make_response.py wrote beside the response.
struct Params {
    idp_entity_id: String,
    sp_entity_id: String,
    acs_url: String,
    request_id: String,
    email_claim: String,
    email: String,
    now: DateTime<Utc>,
}

fn params(dir: &std::path::Path) -> Params {
    let path = dir.join("response-8k.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| die(format!("read {}: {e}", path.display())));
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| die(format!("{}: no {k}", path.display())))
            .to_string()
    };
    let now = DateTime::parse_from_rfc3339(&s("now"))
        .unwrap_or_else(|e| die(format!("bad now: {e}")))
        .with_timezone(&Utc);
    Params {
        idp_entity_id: s("idp_entity_id"),
        sp_entity_id: s("sp_entity_id"),
        acs_url: s("acs_url"),
        request_id: s("request_id"),
        email_claim: s("email_claim"),
        email: s("email"),
        now,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args
        .next()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| die(format!("seconds {s:?} is not a number")))
        })
        .unwrap_or(3.0);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "bench/data".into()));
    let only: Option<Vec<String>> = args
        .next()
        .map(|s| s.split(',').map(str::to_string).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name));
    let p = params(&dir);

    let keys = Arc::new(SpKeys::generate().unwrap_or_else(|e| die(format!("SP key: {e}"))));
    let sp = Sp {
        entity_id: p.sp_entity_id.clone(),
        acs_url: p.acs_url.clone(),
        acs_alias_url: p
            .acs_url
            .replace("/auth/saml/callback", "/saml2/idpresponse"),
        slo_url: p.acs_url.replace("/auth/saml/callback", "/saml/slo"),
        keys: keys.clone(),
    };
    let acs_urls = sp.acs_urls();

    // The ACS input first, so a broken data file fails before any timing.
    let md_path = dir.join("idp-metadata.xml");
    let md_bytes =
        std::fs::read(&md_path).unwrap_or_else(|e| die(format!("read {}: {e}", md_path.display())));
    let idp = IdpMetadata::parse(&md_bytes)
        .unwrap_or_else(|e| die(format!("{}: {e}", md_path.display())));
    if idp.entity_id != p.idp_entity_id {
        die(format!(
            "metadata entity {} != {}",
            idp.entity_id, p.idp_entity_id
        ));
    }
    let resp_path = dir.join("response-8k.xml");
    let xml = std::fs::read(&resp_path)
        .unwrap_or_else(|e| die(format!("read {}: {e}", resp_path.display())));
    let b64 = STANDARD.encode(&xml);
    let expected = Expected {
        idp: &idp,
        entity_id: &sp.entity_id,
        acs_urls: &acs_urls,
        request_id: Some(&p.request_id),
        allow_unsolicited: false,
        skew: Duration::from_secs(60),
        email_claim: Some(&p.email_claim),
        decryption_key: None,
    };
    let first = validate(&b64, &expected, p.now)
        .unwrap_or_else(|e| die(format!("{} does not validate: {e}", resp_path.display())));
    if first.email != p.email {
        die(format!("validated email {} != {}", first.email, p.email));
    }
    let values: usize = first.attributes.values().map(Vec::len).sum();

    let sso_signed: SsoSettings = toml::from_str("idp_metadata = \"x.xml\"\nsign_requests = true")
        .unwrap_or_else(|e| die(format!("sso settings: {e}")));
    let sso_unsigned: SsoSettings =
        toml::from_str("idp_metadata = \"x.xml\"\nsign_requests = false")
            .unwrap_or_else(|e| die(format!("sso settings: {e}")));
    let dest = idp
        .sso_redirect
        .clone()
        .unwrap_or_else(|| Url::parse("https://idp.example.com/sso").expect("static URL"));
    let relay = "_5f0c3a9e4b7d4e2a9c1b8d7e6f5a4b3c";
    let now = p.now;
    let redirect = |sso: &SsoSettings| {
        let id = new_request_id();
        let params = RequestParams {
            id: &id,
            destination: &dest,
            login_hint: Some("alice.example@contoso.com"),
            sso,
            now,
        };
        redirect_url(&sp, &params, relay).unwrap_or_else(|e| die(format!("redirect_url: {e}")))
    };
    let sample = redirect(&sso_signed);
    if !sample.as_str().contains("&Signature=") {
        die("signed redirect URL has no Signature".into());
    }
    // The raw signature covers a message as long as the signed query string.
    let signed_len = sample
        .query()
        .and_then(|q| q.find("&Signature="))
        .unwrap_or(600);
    let message = vec![b'a'; signed_len];
    let raw = RsaKeyPair::from_pkcs8(keys.pkcs8_der())
        .unwrap_or_else(|e| die(format!("aws-lc-rs key: {e}")));
    let rng = SystemRandom::new();
    let mut sig = vec![0u8; raw.public_modulus_len()];

    println!(
        "== saml_bench: {secs} s per measurement, 1 thread; response {} bytes, {} attributes, {values} values; redirect URL {} bytes ==",
        xml.len(),
        first.attributes.len(),
        sample.as_str().len()
    );
    let rsa = measure("rsa2048_sign_raw", secs, wanted("rsa2048_sign_raw"), || {
        raw.sign(&RSA_PKCS1_SHA256, &rng, black_box(&message), &mut sig)
            .unwrap_or_else(|e| die(format!("sign: {e}")));
        black_box(&sig);
    });
    let signed = measure("redirect_signed", secs, wanted("redirect_signed"), || {
        black_box(redirect(&sso_signed));
    });
    let unsigned = measure(
        "redirect_unsigned",
        secs,
        wanted("redirect_unsigned"),
        || {
            black_box(redirect(&sso_unsigned));
        },
    );
    let acs = measure("acs_validate_8k", secs, wanted("acs_validate_8k"), || {
        let v = validate(black_box(&b64), &expected, now)
            .unwrap_or_else(|e| die(format!("validate: {e}")));
        black_box(v);
    });
    let oidc = oidc_case();
    let oidc_rate = measure(
        "oidc_validate_rs256",
        secs,
        wanted("oidc_validate_rs256"),
        || {
            let v = realmgate::oidc::validate(black_box(&oidc.token), &oidc.expected(), oidc.now)
                .unwrap_or_else(|e| die(format!("oidc validate: {e}")));
            black_box(v);
        },
    );
    // WS-Federation: AD FS's default token (SAML 1.1 in a February 2005 RSTR), from the
    // generated corpus of tests/wsfed_attacks.rs, through the same parser and xmlsec.
    let wsfed_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/wsfed");
    let sts_bytes = std::fs::read(wsfed_dir.join("sts-metadata.xml"))
        .unwrap_or_else(|e| die(format!("read sts-metadata.xml: {e}")));
    let sts = IdpMetadata::parse_for(&sts_bytes, realmgate::discovery::Protocol::Wsfed)
        .unwrap_or_else(|e| die(format!("sts-metadata.xml: {e}")));
    let wresult = std::fs::read_to_string(wsfed_dir.join("valid_saml11.xml"))
        .unwrap_or_else(|e| die(format!("read valid_saml11.xml: {e}")));
    let wsfed_acs = ["https://login.example.com/auth/saml/callback".to_string()];
    let wsfed_expected = realmgate::wsfed::Expected {
        sts: &sts,
        realm: "https://login.example.com/",
        acs_urls: &wsfed_acs,
        skew: Duration::from_secs(60),
        email_claim: Some(&p.email_claim),
    };
    let wsfed_now = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:01:00Z")
        .unwrap_or_else(|e| die(format!("time: {e}")))
        .with_timezone(&chrono::Utc);
    measure("wsfed_acs_saml11", secs, wanted("wsfed_acs_saml11"), || {
        let v = realmgate::wsfed::validate(black_box(&wresult), &wsfed_expected, wsfed_now)
            .unwrap_or_else(|e| die(format!("wsfed validate: {e}")));
        black_box(v);
    });
    let certs = idp.certificate_ders();
    let text = String::from_utf8(xml.clone()).unwrap_or_else(|e| die(format!("UTF-8: {e}")));
    let xmlsec = measure("xmlsec_verify_8k", secs, wanted("xmlsec_verify_8k"), || {
        let v = XmlSec::reduce_xml_to_signed(black_box(&text), &certs, ReduceMode::PreDigest)
            .unwrap_or_else(|e| die(format!("xmlsec: {e}")));
        black_box(v);
    });
    if only.is_none() {
        println!(
            "validate / xmlsec verify alone:  {:.2}   (the rest is the gateway's own checks)",
            acs / xmlsec
        );
        println!(
            "signed redirect / raw RSA sign: {:.2}   (target >= 0.80)",
            signed / rsa
        );
        println!("unsigned / signed redirect:     {:.1}", unsigned / signed);
        println!("ACS validations/s/core:         {acs:.0}   (target >= 2000)");
        println!(
            "OIDC callback validations/s/core: {oidc_rate:.0}   (OIDC / SAML ACS = {:.2})",
            oidc_rate / acs
        );
    }
}

/// An ID token the shape Entra ID v2.0 sends (about 1.5 KB), its key set (the signing key
/// and a second one, as during a rollover) and the values `validate` checks it against.
struct OidcCase {
    token: String,
    keys: openidconnect::core::CoreJsonWebKeySet,
    now: DateTime<Utc>,
}

impl OidcCase {
    fn expected(&self) -> realmgate::oidc::Expected<'_> {
        realmgate::oidc::Expected {
            issuer: "https://login.microsoftonline.com/{tenantid}/v2.0",
            keys: &self.keys,
            client_id: "6731de76-14a6-49ae-97bc-6eba6914391e",
            nonce: "tkl06Y6vosI61FyQKipUw3ItNqjmjPmgkgIsJIPT4Gs",
            skew: Duration::from_secs(120),
            email_claim: None,
        }
    }
}

fn oidc_case() -> OidcCase {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let jwk = |kid: &str, rsa: &openssl::rsa::Rsa<openssl::pkey::Private>| {
        serde_json::json!({"kty": "RSA", "use": "sig", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()), "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec())})
    };
    let signing = openssl::rsa::Rsa::generate(2048).unwrap_or_else(|e| die(format!("rsa: {e}")));
    let other = openssl::rsa::Rsa::generate(2048).unwrap_or_else(|e| die(format!("rsa: {e}")));
    let keys = serde_json::from_value(
        serde_json::json!({"keys": [jwk("old", &other), jwk("current", &signing)]}),
    )
    .unwrap_or_else(|e| die(format!("jwks: {e}")));
    let now = DateTime::parse_from_rfc3339("2030-01-01T00:01:00Z")
        .unwrap_or_else(|e| die(format!("{e}")))
        .with_timezone(&Utc);
    let t = now.timestamp();
    let claims = serde_json::json!({
        "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": t - 5, "nbf": t - 5, "exp": t + 3600,
        "aio": "AXQAi/8UAAAAr+Zr3pR2ZQF1pKpKfCzFjYSNjJ/ANb1bvMD4ZQbC1YjT1CzmEqKwGvJzSzBmjQ4sl6D2n4Za",
        "email": "alice.example@contoso.com",
        "name": "Alice Example",
        "nonce": "tkl06Y6vosI61FyQKipUw3ItNqjmjPmgkgIsJIPT4Gs",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "alice.example@contoso.com",
        "rh": "0.AToA5WVo8d8xEUWu1lZz8mWpOb3euGf-ye5IqbhLRpOgv2NqAQ0.",
        "sid": "0017c8a1-c2d1-4b3c-8a5a-9f0c2d6ebd1c",
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": tid,
        "uti": "lDDfMzbDCk2iyLrKrV0xAA",
        "ver": "2.0",
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("current".into());
    let pem = signing
        .private_key_to_pem()
        .unwrap_or_else(|e| die(format!("pem: {e}")));
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem)
        .unwrap_or_else(|e| die(format!("jsonwebtoken key: {e}")));
    let token =
        jsonwebtoken::encode(&header, &claims, &key).unwrap_or_else(|e| die(format!("sign: {e}")));
    let case = OidcCase { token, keys, now };
    realmgate::oidc::validate(&case.token, &case.expected(), case.now)
        .unwrap_or_else(|e| die(format!("the bench ID token does not validate: {e}")));
    case
}

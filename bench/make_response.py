#!/usr/bin/env python3
"""Makes the ACS benchmark input: an Entra ID-style SAML Response of 8-10 KB.

Needs python3 (stdlib only), Debian's `xmlsec1` and the `openssl` CLI, like
tests/testdata/saml/generate.py, whose signing helpers (`template`, `xmlsec_sign`) it
imports: xmlsec1, RSA-SHA256, exclusive C14N, enveloped signature on the Assertion only
(Entra's default, "Sign SAML assertion").

Writes into bench/data/ (all committed, so the benchmark needs neither xmlsec1 nor this
script):
  idp-key.pem, idp-cert.pem   the IdP signing key pair (made once, reused on later runs so
                              the output is reproducible: RSA PKCS#1 v1.5 is deterministic)
  idp-metadata.xml            IdP metadata naming that certificate
  response-8k.xml             the signed Response
  response-8k.json            the values both benchmarks validate with (SP entity ID, ACS,
                              request ID, email claim, the fixed `now`)

The response is valid from 2029-12-31T23:55:00Z (Conditions NotBefore) to
2030-01-01T00:05:00Z (SubjectConfirmationData NotOnOrAfter); both benchmarks validate at
2030-01-01T00:01:00Z. Rerun with `python3 bench/make_response.py`.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "data")

spec = importlib.util.spec_from_file_location(
    "generate", os.path.join(ROOT, "tests", "testdata", "saml", "generate.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

TENANT = "4b1c2d3e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
IDP = f"https://sts.windows.net/{TENANT}/"
SP_ENTITY = gen.SP_ENTITY
ACS = gen.ACS
REQ = gen.REQ
RID = "_8e8dc5f6-9f2c-4a3b-8d1e-6b0a4c2f1e01"
AID = "_3f2a7c19-5b6d-4e8f-9a0b-1c2d3e4f5a60"
II = "2030-01-01T00:00:00.123Z"
NB = "2029-12-31T23:55:00.123Z"
NOA = "2030-01-01T01:00:00.123Z"
SCD_NOA = "2030-01-01T00:05:00.123Z"
NOW = "2030-01-01T00:01:00Z"
EMAIL = "alice.example@contoso.com"

CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS = "http://schemas.microsoft.com/identity/claims/"
MS08 = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"
EMAIL_CLAIM = CLAIMS + "emailaddress"

# The claims Entra ID sends by default, plus groups, directory roles (wids), app roles and
# the optional claims tenants commonly add: 24 Attribute elements, 37 values (8.2-8.4 KB signed).
GROUPS = [
    "0b1f7a3c-2d4e-4f60-8a9b-0c1d2e3f4a51", "1c2a8b4d-3e5f-4071-9bac-1d2e3f4a5b62",
    "2d3b9c5e-4f60-4182-acbd-2e3f4a5b6c73", "3e4cad6f-5071-4293-bdce-3f4a5b6c7d84",
    "4f5dbe70-6182-43a4-cedf-4a5b6c7d8e95", "506ecf81-7293-44b5-dfe0-5b6c7d8e9fa6",
    "617fd092-83a4-45c6-e0f1-6c7d8e9fa0b7", "7280e1a3-94b5-46d7-f102-7d8e9fa0b1c8",
]
ATTRIBUTES = [
    (MS + "tenantid", [TENANT]),
    (MS + "objectidentifier", ["9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"]),
    (MS + "displayname", ["Alice Example"]),
    (MS08 + "groups", GROUPS),
    (MS08 + "wids", ["b79fbf4d-3ef9-4689-8143-76b194e85509",
                     "62e90394-69f5-4237-9190-012177145e10",
                     "f2ef992c-3afb-46b9-b7cf-a126ee74c451"]),
    (MS08 + "role", ["Gateway.User", "Gateway.Admin", "Gateway.Auditor",
                     "Gateway.TenantOperator"]),
    (MS + "identityprovider", [IDP]),
    ("http://schemas.microsoft.com/claims/authnmethodsreferences",
     ["http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
      "http://schemas.microsoft.com/claims/multipleauthn"]),
    (CLAIMS + "givenname", ["Alice"]),
    (CLAIMS + "surname", ["Example"]),
    (CLAIMS + "emailaddress", [EMAIL]),
    (CLAIMS + "name", [EMAIL]),
    (CLAIMS + "upn", [EMAIL]),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/department", ["Platform Engineering"]),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/jobtitle", ["Senior Site Reliability Engineer"]),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname", ["CONTOSO\\alice.example"]),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/employeeid", ["E-0042137"]),
    ("http://schemas.microsoft.com/ws/2008/06/identity/claims/country", ["NL"]),
    (MS08 + "primarysid", ["S-1-5-21-1004336348-1177238915-682003330-512137"]),
    (CLAIMS + "mobilephone", ["+31 20 555 0137"]),
    (CLAIMS + "streetaddress", ["Herengracht 182, Floor 3"]),
    (CLAIMS + "locality", ["Amsterdam"]),
    (CLAIMS + "postalcode", ["1016 BR"]),
    (MS08 + "companyname", ["Contoso Nederland B.V."]),
]


def keypair():
    key = os.path.join(OUT, "idp-key.pem")
    cert = os.path.join(OUT, "idp-cert.pem")
    if not (os.path.exists(key) and os.path.exists(cert)):
        gen.run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", cert, "-days", "36500", "-subj", "/CN=Microsoft Azure Federated SSO Certificate")
    return key, cert


def assertion():
    attrs = "".join(
        f'<Attribute Name="{name}">'
        + "".join(f"<AttributeValue>{v}</AttributeValue>" for v in values)
        + "</Attribute>"
        for name, values in ATTRIBUTES)
    return (
        f'<Assertion xmlns="{gen.NS_A}" ID="{AID}" IssueInstant="{II}" Version="2.0">'
        f"<Issuer>{IDP}</Issuer>{gen.SIG_A}"
        f'<Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{EMAIL}</NameID>'
        f'<SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<SubjectConfirmationData InResponseTo="{REQ}" NotOnOrAfter="{SCD_NOA}" Recipient="{ACS}"/>'
        f"</SubjectConfirmation></Subject>"
        f'<Conditions NotBefore="{NB}" NotOnOrAfter="{NOA}"><AudienceRestriction>'
        f"<Audience>{SP_ENTITY}</Audience></AudienceRestriction></Conditions>"
        f"<AttributeStatement>{attrs}</AttributeStatement>"
        f'<AuthnStatement AuthnInstant="2029-12-31T23:59:58.000Z" SessionIndex="{AID}"><AuthnContext>'
        f"<AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</AuthnContextClassRef>"
        f"</AuthnContext></AuthnStatement></Assertion>"
    )


def response(inner):
    return (
        f'<samlp:Response xmlns:samlp="{gen.NS_P}" ID="{RID}" Version="2.0" IssueInstant="{II}" '
        f'Destination="{ACS}" InResponseTo="{REQ}">'
        f'<Issuer xmlns="{gen.NS_A}">{IDP}</Issuer>'
        f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{inner}</samlp:Response>"
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    key, cert = keypair()
    xml = response(assertion()).replace(gen.SIG_A, gen.template("#" + AID), 1)
    signed = gen.xmlsec_sign(xml, key, cert)
    # Check it the way a relying party would, with the certificate only.
    check = os.path.join(OUT, ".check.xml")
    open(check, "w").write(signed)
    try:
        r = subprocess.run(
            ["xmlsec1", "--verify", "--pubkey-cert-pem", cert,
             "--id-attr:ID", f"{gen.NS_A}:Assertion", check], capture_output=True)
    finally:
        os.remove(check)
    if r.returncode != 0:
        sys.exit(f"xmlsec1 --verify failed:\n{r.stderr.decode()}")
    size = len(signed.encode())
    if not 8 * 1024 <= size <= 10 * 1024:
        sys.exit(f"response is {size} bytes, wanted 8-10 KB")
    open(os.path.join(OUT, "response-8k.xml"), "w").write(signed)

    open(os.path.join(OUT, "idp-metadata.xml"), "w").write(
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="{gen.NS_DS}" entityID="{IDP}"><md:IDPSSODescriptor '
        f'protocolSupportEnumeration="{gen.NS_P}"><md:KeyDescriptor use="signing"><ds:KeyInfo>'
        f"<ds:X509Data><ds:X509Certificate>{gen.cert_b64(cert)}</ds:X509Certificate>"
        f"</ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService "
        f'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="https://login.microsoftonline.com/{TENANT}/saml2"/><md:SingleSignOnService '
        f'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="https://login.microsoftonline.com/{TENANT}/saml2"/>'
        f"</md:IDPSSODescriptor></md:EntityDescriptor>\n")

    params = dict(idp_entity_id=IDP, sp_entity_id=SP_ENTITY, acs_url=ACS, request_id=REQ,
                  email_claim=EMAIL_CLAIM, email=EMAIL, now=NOW, response_bytes=size,
                  attributes=len(ATTRIBUTES),
                  attribute_values=sum(len(v) for _, v in ATTRIBUTES))
    with open(os.path.join(OUT, "response-8k.json"), "w") as f:
        json.dump(params, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"response-8k.xml: {size} bytes, {len(ATTRIBUTES)} attributes, "
          f"{params['attribute_values']} values, signed assertion (RSA-SHA256, exc-c14n)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates the WS-Federation attack corpus used by tests/wsfed_attacks.rs, and the token
and SOAP builders the WS-Trust test STS (tests/idp/wstrust_sts.py) signs with.

Needs python3 (stdlib only), Debian's `xmlsec1` and the `openssl` CLI, like
tests/testdata/saml/generate.py, whose keys (idp = the STS, attacker) and helpers it reuses.
Writes, beside this script: `sts-metadata.xml` (AD FS-shaped Federation Metadata: the STS
RoleDescriptor with the STS key, and an IDPSSODescriptor with another key, so a test proves
a WS-Fed token is verified with the STS role's keys only), one `<case>.xml` per case (the
`wresult` text, or for `"carrier": "soap"` cases the SOAP 1.2 answer of a WS-Trust
request) and `manifest.json` (case -> expected code). The output is committed.

Tokens use fixed instants around 2030-01-01T00:00:00Z; the tests validate at
2030-01-01T00:01:00Z. XML is built as text: re-serialising would break the signatures.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SAML_DIR = os.path.join(os.path.dirname(HERE), "saml")
sys.path.insert(0, SAML_DIR)
import generate as saml  # noqa: E402  (the SAML corpus' keys and signature templates)

NS_A1 = "urn:oasis:names:tc:SAML:1.0:assertion"
NS_A2 = saml.NS_A
T2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
T13 = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
WSA = "http://www.w3.org/2005/08/addressing"
FED = "http://docs.oasis-open.org/wsfed/federation/200706"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

REALM = "https://login.example.com/"
ACS = "https://login.example.com/auth/saml/callback"
STS = "http://adfs.contoso.com/adfs/services/trust"
PASSIVE = "https://adfs.contoso.com/adfs/ls/"
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
II = "2030-01-01T00:00:00Z"
NB = "2029-12-31T23:59:00Z"
NOA = "2030-01-01T01:00:00Z"
SLOT = "<!--SIG-->"


def saml11(aid="_b0000000000000000000000000000001", name="alice@contoso.com",
           email="alice@contoso.com", audience=REALM, issuer=STS, nb=NB, noa=NOA,
           authn=True, method="urn:oasis:names:tc:SAML:1.0:cm:bearer", version="1"):
    """An AD FS-shaped SAML 1.1 assertion (signature slot after the last statement, where
    AD FS and node's `saml` put it)."""
    subject = (f"<saml:Subject><saml:NameIdentifier Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">{name}</saml:NameIdentifier>"
               f"<saml:SubjectConfirmation><saml:ConfirmationMethod>{method}</saml:ConfirmationMethod>"
               f"</saml:SubjectConfirmation></saml:Subject>")
    authn_st = (f'<saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" '
                f'AuthenticationInstant="{II}">{subject}</saml:AuthenticationStatement>') if authn else ""
    return (
        f'<saml:Assertion xmlns:saml="{NS_A1}" MajorVersion="1" MinorVersion="{version}" AssertionID="{aid}" '
        f'Issuer="{issuer}" IssueInstant="{II}"><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">'
        f"<saml:AudienceRestrictionCondition><saml:Audience>{audience}</saml:Audience>"
        f"</saml:AudienceRestrictionCondition></saml:Conditions><saml:AttributeStatement>{subject}"
        f'<saml:Attribute AttributeName="emailaddress" AttributeNamespace="{CLAIMS}"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute>'
        f'<saml:Attribute AttributeName="name" AttributeNamespace="{CLAIMS}"><saml:AttributeValue>Alice</saml:AttributeValue></saml:Attribute>'
        f"</saml:AttributeStatement>{authn_st}{SLOT}</saml:Assertion>"
    )


def saml2(aid="_c0000000000000000000000000000001", name="alice@contoso.com",
          email="alice@contoso.com", audience=REALM, issuer=STS, nb=NB, noa=NOA):
    """A SAML 2.0 token as AD FS puts it in an RSTR: no InResponseTo, no Recipient."""
    return (
        f'<saml:Assertion xmlns:saml="{NS_A2}" ID="{aid}" IssueInstant="{II}" Version="2.0">'
        f"<saml:Issuer>{issuer}</saml:Issuer>{SLOT}<saml:Subject><saml:NameID>{name}</saml:NameID>"
        f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{noa}"/></saml:SubjectConfirmation></saml:Subject>'
        f'<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction>'
        f"<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
        f'<saml:AttributeStatement><saml:Attribute Name="{CLAIMS}/emailaddress"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>'
        f'<saml:AuthnStatement AuthnInstant="{II}"><saml:AuthnContext><saml:AuthnContextClassRef>'
        f"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>"
        f"</saml:AuthnContext></saml:AuthnStatement></saml:Assertion>"
    )


def rstr(token, ns=T2005, applies_to=REALM, token_type=None, extra=""):
    """A RequestSecurityTokenResponse around `token` (the passive `wresult` uses the
    February 2005 namespace; WS-Trust 1.3 answers wrap it in a collection, see `rstrc`)."""
    applies = (f'<wsp:AppliesTo xmlns:wsp="{WSP}"><wsa:EndpointReference xmlns:wsa="{WSA}">'
               f"<wsa:Address>{applies_to}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>"
               ) if applies_to else ""
    tt = f"<t:TokenType>{token_type}</t:TokenType>" if token_type else ""
    return (f'<t:RequestSecurityTokenResponse xmlns:t="{ns}"><t:Lifetime><wsu:Created xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">{II}</wsu:Created></t:Lifetime>'
            f"{applies}{tt}<t:RequestedSecurityToken>{token}</t:RequestedSecurityToken>{extra}"
            f"</t:RequestSecurityTokenResponse>")


def rstrc(inner):
    return (f'<trust:RequestSecurityTokenResponseCollection xmlns:trust="{T13}">'
            + inner.replace("t:", "trust:").replace(f'xmlns:trust="{T13}"', "")
            + "</trust:RequestSecurityTokenResponseCollection>")


def soap_envelope(body, action=f"{T13}/RSTRC/IssueFinal", created=II, expires=NOA, header=""):
    """A SOAP 1.2 answer as AD FS's /trust/13/ endpoints send it: WS-Addressing Action and
    a WS-Security timestamp in the header, `body` in the Body."""
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}" xmlns:u="{WSU}"><s:Header>'
        f'<a:Action s:mustUnderstand="1">{action}</a:Action>'
        f'<o:Security s:mustUnderstand="1" xmlns:o="{WSSE}"><u:Timestamp u:Id="_0">'
        f"<u:Created>{created}</u:Created><u:Expires>{expires}</u:Expires>"
        f"</u:Timestamp></o:Security>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def soap_fault(created=II, expires=NOA):
    """What AD FS answers for a wrong password, an unknown or a locked user alike."""
    return soap_envelope(
        f'<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode>'
        f'<s:Value xmlns:a="{T13}">a:FailedAuthentication</s:Value></s:Subcode></s:Code>'
        f'<s:Reason><s:Text xml:lang="en-US">ID3242: The security token could not be '
        f"authenticated or authorized.</s:Text></s:Reason></s:Fault>",
        action="http://www.w3.org/2005/08/addressing/soap/fault", created=created, expires=expires)


def xmlsec_sign(xml, key, cert):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.xml")
        out = os.path.join(d, "out.xml")
        open(src, "w").write(xml)
        saml.run("xmlsec1", "--sign", "--privkey-pem", f"{key},{cert}",
                 "--id-attr:ID", f"{NS_A2}:Assertion", "--id-attr:AssertionID", f"{NS_A1}:Assertion",
                 "--output", out, src)
        text = open(out).read()
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", text)


def sign(xml, key, cert, **tpl):
    """Signs the one assertion of `xml` (its AssertionID or ID) in place of the slot."""
    aid = re.search(r'<saml:Assertion [^>]*(?:AssertionID|ID)="([^"]+)"', xml).group(1)
    return xmlsec_sign(xml.replace(SLOT, saml.template("#" + aid, **tpl), 1), key, cert)


def unsigned(xml):
    return xml.replace(SLOT, "")


def write_metadata(sts_cert, other_cert):
    keys = lambda c: (f'<KeyDescriptor use="signing"><KeyInfo xmlns="{saml.NS_DS}"><X509Data><X509Certificate>'
                      f"{saml.cert_b64(c)}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>")
    open(os.path.join(HERE, "sts-metadata.xml"), "w").write(
        f'<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="_d0000000-0000-4000-8000-000000000000" entityID="{STS}" '
        f'xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:fed="{FED}" xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="{FED}">'
        f"{keys(sts_cert)}<fed:PassiveRequestorEndpoint><EndpointReference xmlns=\"{WSA}\"><Address>{PASSIVE}</Address>"
        f"</EndpointReference></fed:PassiveRequestorEndpoint></RoleDescriptor>"
        f'<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys(other_cert)}'
        f'<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://adfs.contoso.com/adfs/ls/"/>'
        f"</IDPSSODescriptor></EntityDescriptor>\n")


def main():
    sts_key, sts_cert = saml.keypair("idp", "Test IdP signing")
    evil_key, evil_cert = saml.keypair("attacker", "Attacker")
    other_key, other_cert = saml.keypair("sp", "Test SP")
    write_metadata(sts_cert, evil_cert)
    cases = {}

    def case(name, xml, expect, note, carrier=None):
        open(os.path.join(HERE, f"{name}.xml"), "w").write(xml)
        cases[name] = dict(expect=expect, note=note)
        if carrier:
            cases[name]["carrier"] = carrier

    S = lambda x: sign(x, sts_key, sts_cert)
    valid11 = S(rstr(saml11()))
    case("valid_saml11", valid11, "ok", "AD FS default: SAML 1.1 token, February 2005 RSTR")
    case("valid_saml2", S(rstr(saml2(), token_type="urn:oasis:names:tc:SAML:2.0:assertion")), "ok",
         "SAML 2.0 token, no Recipient nor InResponseTo")
    case("valid_saml11_no_applies_to", S(rstr(saml11(), applies_to=None)), "ok",
         "node's wsfed sends no AppliesTo: the signed Audience binds the token")
    case("valid_trust13_collection", S(rstrc(rstr(saml11(), ns=T13))), "ok",
         "WS-Trust 1.3 collection with one RSTR")

    case("unsigned", unsigned(rstr(saml11())), "signature_missing", "no signature at all")
    case("foreign_key", sign(rstr(saml11()), other_key, other_cert), "signature_invalid",
         "signed by a key not in the STS role; its certificate is in KeyInfo")
    case("saml_role_key", sign(rstr(saml11()), evil_key, evil_cert), "signature_invalid",
         "signed with the key the metadata publishes for the SAML IdP role only")
    case("tampered", valid11.replace(">alice@contoso.com</saml:AttributeValue>",
                                     ">mallory@contoso.com</saml:AttributeValue>"),
         "signature_invalid", "email changed after signing")
    case("tampered_saml2", S(rstr(saml2())).replace(">alice@contoso.com</saml:NameID>",
                                                    ">mallory@contoso.com</saml:NameID>"),
         "signature_invalid", "SAML 2.0 NameID changed after signing")
    # Wrapping: the signed token stays, a forged unsigned one is added where a reader that
    # takes "the first assertion" or "the last token" would pick it.
    forged = unsigned(saml11(aid="_f0000000000000000000000000000001", name="mallory@contoso.com",
                             email="mallory@contoso.com"))
    case("wrapped_second_token",
         valid11.replace("<t:RequestedSecurityToken>",
                         f"<t:RequestedSecurityToken>{forged}</t:RequestedSecurityToken><t:RequestedSecurityToken>", 1),
         "malformed", "a forged assertion in a second RequestedSecurityToken")
    case("wrapped_in_rstr",
         valid11.replace("</t:RequestSecurityTokenResponse>", f"{forged}</t:RequestSecurityTokenResponse>"),
         "multiple_assertions", "a forged assertion beside the token in the RSTR")
    sig = saml.the_sig(valid11)
    moved = (saml.strip_sig(valid11)
             .replace(">alice@contoso.com<", ">mallory@contoso.com<")
             .replace("</t:RequestSecurityTokenResponse>", f"{sig}</t:RequestSecurityTokenResponse>"))
    case("signature_moved_to_rstr", moved, "signature_shape",
         "the token's valid signature moved out of it, the token then altered")
    case("wrong_audience", S(rstr(saml11(audience="https://other-rp.example.com/"))),
         "audience_mismatch", "token for another relying party")
    case("wrong_audience_saml2", S(rstr(saml2(audience="https://other-rp.example.com/"))),
         "audience_mismatch", "SAML 2.0 token for another relying party")
    case("wrong_applies_to", S(rstr(saml11(), applies_to="https://other-rp.example.com/")),
         "applies_to_mismatch", "RSTR AppliesTo names another relying party")
    case("wrong_issuer", S(rstr(saml11(issuer="http://evil.example.com/adfs/services/trust"))),
         "issuer_mismatch", "issued under another STS name (with the tenant's key)")
    case("expired", S(rstr(saml11(nb="2029-12-31T00:00:00Z", noa="2029-12-31T01:00:00Z"))),
         "expired", "validity ended a day ago")
    case("expired_saml2", S(rstr(saml2(nb="2029-12-31T00:00:00Z", noa="2029-12-31T01:00:00Z"))),
         "expired", "SAML 2.0 validity ended a day ago")
    case("not_yet_valid", S(rstr(saml11(nb="2030-01-02T00:00:00Z", noa="2030-01-02T01:00:00Z"))),
         "not_yet_valid", "NotBefore tomorrow")
    case("no_authentication_statement", S(rstr(saml11(authn=False))), "authn_statement_missing",
         "attributes only: says who, not that they signed in")
    case("holder_of_key", S(rstr(saml11(method="urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"))),
         "subject_confirmation_missing", "not a bearer token")
    case("saml10", S(rstr(saml11(version="0"))), "malformed", "SAML 1.0 assertion")
    case("jwt_token_type", S(rstr(saml11(), token_type="urn:ietf:params:oauth:token-type:jwt")),
         "token_type_unsupported", "a TokenType we do not read")
    case("sha1_signature", sign(rstr(saml11()), sts_key, sts_cert, sig_alg=saml.RSA_SHA1,
                                digest=saml.SHA1), "signature_algorithm", "RSA-SHA1 refused")
    case("doctype", '<!DOCTYPE x [<!ENTITY e "alice@contoso.com">]>' + valid11, "dtd_forbidden",
         "a DTD before the RSTR")
    case("email_outside_tenant", S(rstr(saml11(name="mallory@evil.example", email="mallory@evil.example"))),
         "ok", "valid token; the login refuses the domain (tests/wsfed_attacks.rs)")

    # WS-Trust 1.3 answers (the device login's `usernamemixed` exchange): the same token
    # rules inside a SOAP 1.2 envelope, which only a WS-Trust answer may have.
    soap_rstrc = lambda token: rstrc(rstr(token, ns=T13, token_type="urn:oasis:names:tc:SAML:1.0:assertion"))
    soap_ok = S(soap_envelope(soap_rstrc(saml11(aid="_e0000000000000000000000000000001"))))
    case("soap_answer", soap_ok, "ok", "AD FS usernamemixed answer: RSTRC in a SOAP 1.2 body",
         carrier="soap")
    case("soap_fault", soap_fault(), "sts_fault", "wrong password: AD FS's SOAP fault",
         carrier="soap")
    case("soap_as_wresult", soap_ok, "malformed", "a SOAP envelope is no passive wresult")
    case("soap_bare_rstrc", S(soap_rstrc(saml11(aid="_e0000000000000000000000000000002"))),
         "malformed", "a WS-Trust answer without its SOAP envelope", carrier="soap")
    case("soap_assertion_in_header",
         S(soap_envelope(soap_rstrc(saml11(aid="_e0000000000000000000000000000003")),
                         header=forged)),
         "multiple_assertions", "a forged assertion in the SOAP header beside the token",
         carrier="soap")
    case("soap_two_body_children",
         S(soap_envelope(soap_rstrc(saml11(aid="_e0000000000000000000000000000004")) + "<x/>")),
         "malformed", "a second element in the SOAP body", carrier="soap")
    case("soap_unsigned", unsigned(soap_envelope(soap_rstrc(saml11()))), "signature_missing",
         "an unsigned token in a WS-Trust answer", carrier="soap")

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(cases)} cases written to {HERE}")


if __name__ == "__main__":
    main()

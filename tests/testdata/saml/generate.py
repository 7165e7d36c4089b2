#!/usr/bin/env python3
"""Generates the SAML attack corpus used by tests/saml_attacks.rs.

Needs python3 (stdlib only), Debian's `xmlsec1` and the `openssl` CLI. Writes, beside this
script: IdP, attacker and SP keys/certificates, `idp-metadata.xml`, one `<case>.xml` per
case and `manifest.json` (case -> expected outcome). The output is committed, so
`cargo test` does not need xmlsec1; rerun this script to regenerate everything. Keys and
certificates already present are reused (delete them to rotate), so a rerun rewrites only
what changed, plus the encrypted cases (their session keys are random).

Every response uses fixed instants around 2030-01-01T00:00:00Z; the tests validate at
2030-01-01T00:01:00Z. Signing is done by xmlsec1 with RSA-SHA256 and exclusive C14N
unless a case says otherwise. XML is built as text on purpose: re-serialising with a DOM
library would rename namespace prefixes and break the signatures.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"

SP_ENTITY = "https://login.example.com/"
ACS = "https://login.example.com/auth/saml/callback"
IDP = "https://idp.example.com/"
REQ = "_0123456789abcdef0123456789abcdef"
II = "2030-01-01T00:00:00Z"
NB = "2029-12-31T23:59:00Z"
NOA = "2030-01-01T00:05:00Z"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENV = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

SIG_A = "<!--SIG-A-->"
SIG_R = "<!--SIG-R-->"


def run(*args, stdin=None):
    r = subprocess.run(args, input=stdin, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{r.stderr.decode()}")
    return r.stdout


def keypair(name, cn):
    key = os.path.join(HERE, f"{name}-key.pem")
    cert = os.path.join(HERE, f"{name}-cert.pem")
    if os.path.exists(key) and os.path.exists(cert):
        return key, cert
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
        "-out", cert, "-days", "36500", "-subj", f"/CN={cn}")
    return key, cert


def cert_b64(cert):
    text = open(cert).read()
    return "".join(l for l in text.splitlines() if not l.startswith("-----"))


def assertion(aid="_a0000000000000000000000000000001", nameid="alice@contoso.com",
              email="alice@contoso.com", audience=SP_ENTITY, recipient=ACS, irt=REQ,
              issuer=IDP, nb=NB, noa=NOA, scd_noa=NOA, audience_restriction=True,
              with_slot=True, own_ns=True, version="2.0", authn=True, scd_nb=None):
    irt_attr = f' InResponseTo="{irt}"' if irt else ""
    scd_nb_attr = f' NotBefore="{scd_nb}"' if scd_nb else ""
    ns_attr = f' xmlns:saml="{NS_A}"' if own_ns else ""
    aud = (f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>"
           f"</saml:AudienceRestriction>") if audience_restriction else ""
    return (
        f'<saml:Assertion{ns_attr} ID="{aid}" IssueInstant="{II}" Version="{version}">'
        f"<saml:Issuer>{issuer}</saml:Issuer>{SIG_A if with_slot else ''}"
        f'<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{nameid}</saml:NameID>'
        f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData{irt_attr}{scd_nb_attr} NotOnOrAfter="{scd_noa}" Recipient="{recipient}"/>'
        f"</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">{aud}</saml:Conditions>'
        + (f'<saml:AuthnStatement AuthnInstant="{II}" SessionIndex="{aid}"><saml:AuthnContext>'
           f"<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>"
           f"</saml:AuthnContext></saml:AuthnStatement>" if authn else "")
        +
        f'<saml:AttributeStatement><saml:Attribute Name="{EMAIL_CLAIM}"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute>'
        f'<saml:Attribute Name="groups"><saml:AttributeValue>staff</saml:AttributeValue><saml:AttributeValue>admins</saml:AttributeValue></saml:Attribute>'
        f"</saml:AttributeStatement></saml:Assertion>"
    )


def response(inner, rid="_r0000000000000000000000000000001", destination=ACS, irt=REQ,
             issuer=IDP, status=None, extensions=""):
    dest = f' Destination="{destination}"' if destination else ""
    irt_attr = f' InResponseTo="{irt}"' if irt else ""
    status = status or '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
    return (
        f'<samlp:Response xmlns:samlp="{NS_P}" xmlns:saml="{NS_A}" ID="{rid}" Version="2.0" '
        f'IssueInstant="{II}"{dest}{irt_attr}><saml:Issuer>{issuer}</saml:Issuer>{SIG_R}'
        f"{extensions}<samlp:Status>{status}</samlp:Status>{inner}</samlp:Response>"
    )


def template(ref, sig_alg=RSA_SHA256, digest=SHA256, transforms=None, c14n=EXC, extra=""):
    transforms = transforms if transforms is not None else (
        f'<ds:Transform Algorithm="{ENV}"/><ds:Transform Algorithm="{EXC}"/>')
    return (
        f'<ds:Signature xmlns:ds="{NS_DS}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{c14n}"/>'
        f'<ds:SignatureMethod Algorithm="{sig_alg}"/>'
        f'<ds:Reference URI="{ref}"><ds:Transforms>{transforms}</ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference>'
        f"</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/>"
        f"</ds:X509Data></ds:KeyInfo>{extra}</ds:Signature>"
    )


def xmlsec_sign(xml, key, cert):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.xml")
        out = os.path.join(d, "out.xml")
        open(src, "w").write(xml)
        run("xmlsec1", "--sign", "--privkey-pem", f"{key},{cert}",
            "--id-attr:ID", f"{NS_A}:Assertion", "--id-attr:ID", f"{NS_P}:Response",
            "--id-attr:ID", f"{NS_P}:Extensions",
            "--output", out, src)
        text = open(out).read()
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", text)


def aid_of(xml):
    return re.search(r'<saml:Assertion [^>]*ID="([^"]+)"', xml).group(1)


def rid_of(xml):
    return re.search(r'<samlp:Response [^>]*ID="([^"]+)"', xml).group(1)


def sign_assertion(xml, key, cert, **tpl):
    xml = xml.replace(SIG_A, template("#" + aid_of(xml), **tpl), 1)
    return xmlsec_sign(xml.replace(SIG_R, ""), key, cert)


def sign_response(xml, key, cert, **tpl):
    xml = xml.replace(SIG_A, "")
    xml = xml.replace(SIG_R, template("#" + rid_of(xml), **tpl), 1)
    return xmlsec_sign(xml, key, cert)


def sign_both(xml, key, cert):
    a = sign_assertion(xml.replace(SIG_R, "<!--KEEP-R-->"), key, cert)
    return sign_response(a.replace("<!--KEEP-R-->", SIG_R), key, cert)


def unsigned(xml):
    return xml.replace(SIG_A, "").replace(SIG_R, "")


def strip_sig(xml):
    return re.sub(r"<ds:Signature .*?</ds:Signature>", "", xml, count=1, flags=re.S)


def the_sig(xml):
    return re.search(r"<ds:Signature .*?</ds:Signature>", xml, flags=re.S).group(0)


def encrypt(xml, sp_cert, data_alg, key_alg, xmlsec_key):
    """Replaces the Assertion of `xml` by an EncryptedAssertion (xmlsec1 --encrypt)."""
    tpl = (
        f'<xenc:EncryptedData xmlns:xenc="{NS_XENC}" Type="{NS_XENC}Element">'
        f'<xenc:EncryptionMethod Algorithm="{data_alg}"/>'
        f'<ds:KeyInfo xmlns:ds="{NS_DS}"><xenc:EncryptedKey>'
        f'<xenc:EncryptionMethod Algorithm="{key_alg}"/>'
        f"<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
        f"<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"
    )
    with tempfile.TemporaryDirectory() as d:
        t = os.path.join(d, "tpl.xml")
        data = os.path.join(d, "data.xml")
        out = os.path.join(d, "out.xml")
        open(t, "w").write(tpl)
        open(data, "w").write(xml)
        run("xmlsec1", "--encrypt", "--pubkey-cert-pem", sp_cert, "--session-key", xmlsec_key,
            "--xml-data", data, "--node-name", f"{NS_A}:Assertion", "--output", out, t)
        text = open(out).read()
    text = re.sub(r"^<\?xml[^>]*\?>\s*", "", text)
    return re.sub(r"(<xenc:EncryptedData .*?</xenc:EncryptedData>)",
                  r"<saml:EncryptedAssertion>\1</saml:EncryptedAssertion>", text, count=1,
                  flags=re.S)


def write_entra_metadata(cert1, cert2):
    """An Entra ID (Azure AD) style federation metadata document: WS-Fed RoleDescriptors
    with their own keys, an IDPSSODescriptor with two signing certificates (rollover),
    Redirect and POST endpoints. Written as `entra-federationmetadata.xml`."""
    tenant = "00000000-1111-2222-3333-444444444444"
    entity = f"https://sts.windows.net/{tenant}/"
    keys = "".join(
        f'<KeyDescriptor use="signing"><KeyInfo xmlns="{NS_DS}"><X509Data><X509Certificate>'
        f"{cert_b64(c)}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"
        for c in (cert1, cert2))
    fed = "http://docs.oasis-open.org/wsfed/federation/200706"
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    role = lambda kind, extra: (
        f'<RoleDescriptor xsi:type="fed:{kind}" '
        f'protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706">'
        f"{keys}{extra}</RoleDescriptor>")
    doc = (
        f'<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="_e0a0b0c0-0000-4000-8000-000000000000" '
        f'entityID="{entity}" xmlns="urn:oasis:names:tc:SAML:2.0:metadata">'
        + role("SecurityTokenServiceType",
               f'<fed:ClaimTypesOffered><auth:ClaimType Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" '
               f'xmlns:auth="http://docs.oasis-open.org/wsfed/authorization/200706"><auth:DisplayName>Email</auth:DisplayName>'
               f"</auth:ClaimType></fed:ClaimTypesOffered><fed:PassiveRequestorEndpoint><wsa:EndpointReference "
               f'xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>https://login.microsoftonline.com/{tenant}/wsfed'
               f"</wsa:Address></wsa:EndpointReference></fed:PassiveRequestorEndpoint>").replace(
                   "<RoleDescriptor ", f'<RoleDescriptor xmlns:xsi="{xsi}" xmlns:fed="{fed}" ', 1)
        + role("ApplicationServiceType", "").replace(
            "<RoleDescriptor ", f'<RoleDescriptor xmlns:xsi="{xsi}" xmlns:fed="{fed}" ', 1)
        + f'<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}'
        f'<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="https://login.microsoftonline.com/{tenant}/saml2"/>'
        f'<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="https://login.microsoftonline.com/{tenant}/saml2"/>'
        f'<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="https://login.microsoftonline.com/{tenant}/saml2"/>'
        f"</IDPSSODescriptor></EntityDescriptor>\n")
    open(os.path.join(HERE, "entra-federationmetadata.xml"), "w").write(doc)


def main():
    idp_key, idp_cert = keypair("idp", "Test IdP signing")
    evil_key, evil_cert = keypair("attacker", "Attacker")
    sp_key, sp_cert = keypair("sp", "Test SP")
    open(os.path.join(HERE, "idp-metadata.xml"), "w").write(
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="{NS_DS}" entityID="{IDP}"><md:IDPSSODescriptor '
        f'protocolSupportEnumeration="{NS_P}"><md:KeyDescriptor use="signing"><ds:KeyInfo>'
        f"<ds:X509Data><ds:X509Certificate>{cert_b64(idp_cert)}</ds:X509Certificate>"
        f"</ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService "
        f'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>\n')

    write_entra_metadata(idp_cert, evil_cert)
    cases = {}

    def case(name, xml, expect, note, **opts):
        open(os.path.join(HERE, f"{name}.xml"), "w").write(xml)
        cases[name] = dict(expect=expect, note=note, **opts)

    base = response(assertion())
    A = lambda x: sign_assertion(x, idp_key, idp_cert)
    R = lambda x: sign_response(x, idp_key, idp_cert)

    valid_a = A(base)
    valid_r = R(base)
    case("valid_assertion_signed", valid_a, "ok", "assertion signed, response not")
    case("valid_response_signed", valid_r, "ok", "response signed, assertion not")
    case("valid_both_signed", sign_both(base, idp_key, idp_cert), "ok", "both signed")
    case("unsolicited_allowed", A(response(assertion(irt=None), irt=None)), "ok",
         "IdP-initiated, tenant allows it", request_id=None, allow_unsolicited=True)

    case("unsigned", unsigned(base), "signature_missing", "no signature at all")
    case("attacker_signed_assertion", sign_assertion(base, evil_key, evil_cert),
         "signature_invalid", "signed by a key not in metadata; its cert is in KeyInfo")
    case("attacker_signed_response", sign_response(base, evil_key, evil_cert),
         "signature_invalid", "response signed by the attacker, cert in KeyInfo")
    case("altered_after_signing",
         valid_a.replace(">alice@contoso.com</saml:NameID>", ">bob@contoso.com</saml:NameID>"),
         "signature_invalid", "NameID changed after signing")
    case("sha1_signature", sign_assertion(base, idp_key, idp_cert, sig_alg=RSA_SHA1, digest=SHA1),
         "signature_algorithm", "RSA-SHA1 refused by policy")
    case("sha1_digest", sign_assertion(base, idp_key, idp_cert, digest=SHA1),
         "signature_algorithm", "SHA-1 digest under an RSA-SHA256 signature")
    hmac = unsigned(base).replace(
        "<saml:Subject>",
        template("#_a0000000000000000000000000000001",
                 sig_alg="http://www.w3.org/2000/09/xmldsig#hmac-sha1") + "<saml:Subject>", 1)
    case("hmac_signature", hmac, "signature_algorithm", "HMAC signature method")
    xpath = (f'<ds:Transform Algorithm="{ENV}"/>'
             f'<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">'
             f"<ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>"
             f'<ds:Transform Algorithm="{EXC}"/>')
    case("extra_transform_xpath", sign_assertion(base, idp_key, idp_cert, transforms=xpath),
         "signature_shape", "XPath transform")
    case("c14n_with_comments",
         sign_assertion(base, idp_key, idp_cert, c14n=EXC + "WithComments"),
         "signature_shape", "exclusive C14N with comments")
    case("signature_object",
         sign_assertion(base, idp_key, idp_cert,
                        extra=f'<ds:Object><saml:Assertion ID="_hidden" Version="2.0" IssueInstant="{II}"/></ds:Object>'.replace("saml:Assertion", "x")),
         "signature_shape", "ds:Object inside the signature")
    # Reference to the Response from a signature placed in the Assertion.
    ref_else = unsigned(base).replace(
        "<saml:Subject>", template("#_r0000000000000000000000000000001") + "<saml:Subject>", 1)
    case("reference_elsewhere", xmlsec_sign(ref_else, idp_key, idp_cert), "signature_shape",
         "signature in the Assertion references the Response")
    ref_empty = unsigned(base).replace(
        "<saml:Subject>", template("") + "<saml:Subject>", 1)
    case("reference_empty_uri", xmlsec_sign(ref_empty, idp_key, idp_cert), "signature_shape",
         "Reference URI=\"\" (whole document)")
    sig = the_sig(valid_r)
    moved = strip_sig(valid_r).replace(
        "<samlp:Status>", f"<samlp:Extensions>{sig}</samlp:Extensions><samlp:Status>", 1)
    case("signature_in_extensions", moved, "signature_shape",
         "valid Response signature moved into Extensions")
    # The IdP's key signed some other element (an Extensions block with its own ID): a
    # valid signature, but over neither the Response nor the Assertion.
    other = unsigned(base).replace(
        "<samlp:Status>",
        f'<samlp:Extensions ID="_ext00000000000000000000000000001">'
        f'{template("#_ext00000000000000000000000000001")}</samlp:Extensions><samlp:Status>', 1)
    case("signature_on_other_element", xmlsec_sign(other, idp_key, idp_cert), "signature_shape",
         "valid IdP signature over an Extensions element, unsigned assertion")
    dup = valid_a.replace(
        "<samlp:Status>",
        '<samlp:Extensions><x:y xmlns:x="urn:x" ID="_a0000000000000000000000000000001"/>'
        "</samlp:Extensions><samlp:Status>", 1)
    case("duplicate_id", dup, "duplicate_id", "a second element carries the assertion's ID")

    # Comment injected in the NameID after signing: still valid (C14N drops comments);
    # the NameID must read whole.
    evil_name = A(response(assertion(nameid="alice@contoso.com.evil.example",
                                     email="alice@contoso.com.evil.example")))
    evil_name = evil_name.replace(">alice@contoso.com.evil.example</saml:NameID>",
                                  ">alice@contoso.com<!---->.evil.example</saml:NameID>")
    evil_name = evil_name.replace(">alice@contoso.com.evil.example</saml:AttributeValue>",
                                  ">alice@contoso.com<!---->.evil.example</saml:AttributeValue>")
    case("comment_in_nameid", evil_name, "ok", "CVE-2017-11427: whole text is read",
         name_id="alice@contoso.com.evil.example")

    # Protocol rules, all validly signed by the IdP.
    case("wrong_audience", A(response(assertion(audience="https://other-sp.example.com/"))),
         "audience_mismatch", "assertion for another SP")
    case("no_audience_restriction", A(response(assertion(audience_restriction=False))),
         "audience_missing", "no AudienceRestriction (samael skips the check)")
    case("wrong_destination", A(response(assertion(), destination="https://evil.example.com/acs")),
         "destination_mismatch", "Destination is another SP")
    case("signed_response_without_destination", R(response(assertion(), destination=None)),
         "destination_mismatch", "signed Response must carry Destination")
    case("wrong_recipient", A(response(assertion(recipient="https://evil.example.com/acs"))),
         "recipient_mismatch", "SubjectConfirmationData Recipient is another SP")
    case("wrong_issuer", A(response(assertion(issuer="https://evil.example.com/"),
                                    issuer="https://evil.example.com/")),
         "issuer_mismatch", "issued by another IdP name (signed with the tenant key)")
    case("wrong_response_issuer", A(response(assertion(), issuer="https://evil.example.com/")),
         "issuer_mismatch", "Response Issuer differs")
    case("expired", A(response(assertion(noa="2029-12-31T00:05:00Z", scd_noa="2029-12-31T00:05:00Z",
                                         nb="2029-12-30T23:59:00Z"))),
         "expired", "validity ended a day ago")
    case("expired_conditions_only", A(response(assertion(noa="2029-12-31T00:05:00Z"))),
         "expired", "Conditions NotOnOrAfter passed, confirmation still open")
    case("not_yet_valid", A(response(assertion(nb="2030-01-02T00:00:00Z",
                                               noa="2030-01-02T00:05:00Z",
                                               scd_noa="2030-01-02T00:05:00Z"))),
         "not_yet_valid", "NotBefore tomorrow")
    case("unsolicited", A(response(assertion(irt=None), irt=None)), "unsolicited",
         "IdP-initiated while the tenant does not allow it", request_id=None)
    case("unsolicited_with_in_response_to", valid_a, "in_response_to_mismatch",
         "allowed IdP-initiated, but the response answers some request",
         request_id=None, allow_unsolicited=True)
    case("other_request", A(response(assertion(irt="_ffffffffffffffffffffffffffffffff"),
                                     irt="_ffffffffffffffffffffffffffffffff")),
         "in_response_to_mismatch", "answers another browser's request")
    case("other_request_in_confirmation_only",
         A(response(assertion(irt="_ffffffffffffffffffffffffffffffff"))),
         "in_response_to_mismatch", "Response names our request, confirmation another")
    # Issue 11.1: an IdP-initiated assertion (no InResponseTo in the signed confirmation)
    # made to look solicited through the Response element alone, unsigned or signed.
    case("unsigned_response_in_response_to", A(response(assertion(irt=None))),
         "in_response_to_mismatch",
         "signed unsolicited assertion, our request ID added to the unsigned Response only")
    case("signed_response_in_response_to_only", R(response(assertion(irt=None))),
         "in_response_to_mismatch",
         "signed Response names our request, its bearer confirmation names none")
    # Issue 11.5: Web SSO profile 4.1.4.2 rules, and values only XML whitespace is trimmed from.
    case("nbsp_in_nameid", A(response(assertion(nameid="alice@contoso.com&#xA0;"))),
         "unicode_space", "NameID ends in a no-break space (Rust's trim() dropped it)")
    case("ideographic_space_in_email", A(response(assertion(email="&#x3000;alice@contoso.com"))),
         "unicode_space", "email attribute starts with U+3000")
    case("xml_whitespace_trimmed",
         A(response(assertion(nameid="\n alice@contoso.com\t", email="\r\nalice@contoso.com "))),
         "ok", "space, tab, CR and LF around values are trimmed")
    case("no_authn_statement", A(response(assertion(authn=False))), "authn_statement_missing",
         "an assertion without AuthnStatement is no Web SSO login")
    case("assertion_version_1_9", A(response(assertion(version="1.9"))), "malformed",
         "Assertion Version is not 2.0")
    case("bearer_not_before", A(response(assertion(scd_nb=NB))), "bearer_not_before",
         "bearer SubjectConfirmationData MUST NOT carry NotBefore")
    status = ('<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">'
              '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/>'
              "</samlp:StatusCode><samlp:StatusMessage>User cancelled</samlp:StatusMessage>")
    case("status_responder", unsigned(response("", status=status)), "status_not_success",
         "user cancelled at the IdP")

    # Wrapping (SAML Raider XSW1-8) on top of valid signatures. Evil content: bob.
    evil_a = assertion(aid="_evil000000000000000000000000000", nameid="bob@contoso.com",
                       email="bob@contoso.com", with_slot=False)
    orig_r = valid_r
    rsig = the_sig(orig_r)
    orig_r_nosig = strip_sig(orig_r)
    evil_root = lambda body: (
        f'<samlp:Response xmlns:samlp="{NS_P}" xmlns:saml="{NS_A}" ID="_evilresponse00000000000000000000" '
        f'Version="2.0" IssueInstant="{II}" Destination="{ACS}" InResponseTo="{REQ}">'
        f"<saml:Issuer>{IDP}</saml:Issuer>{body}</samlp:Response>")
    ok_status = '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
    xsw1 = evil_root(rsig.replace("</ds:Signature>", orig_r + "</ds:Signature>") + ok_status + evil_a)
    xsw2 = evil_root(orig_r_nosig + rsig + ok_status + evil_a)
    asig = the_sig(valid_a)
    orig_a = re.search(r"<saml:Assertion .*</saml:Assertion>", valid_a, flags=re.S).group(0)
    orig_a_nosig = strip_sig(orig_a)
    head, tail = valid_a.split(orig_a)
    xsw3 = head + evil_a + orig_a + tail
    xsw4 = head + evil_a.replace("</saml:Assertion>", orig_a + "</saml:Assertion>") + tail
    evil_with_sig = evil_a.replace("</saml:Issuer>", "</saml:Issuer>" + asig, 1)
    xsw5 = head + evil_with_sig + orig_a_nosig + tail
    xsw6 = head + evil_a.replace(
        "</saml:Issuer>", "</saml:Issuer>" + asig.replace("</ds:Signature>", orig_a_nosig + "</ds:Signature>"), 1) + tail
    xsw7 = valid_a.replace(orig_a, evil_a).replace(
        "<samlp:Status>", f"<samlp:Extensions>{orig_a}</samlp:Extensions><samlp:Status>", 1)
    xsw8 = head + evil_a.replace(
        "</saml:Issuer>", "</saml:Issuer>" + asig.replace(
            "</ds:Signature>", f"<ds:Object>{orig_a_nosig}</ds:Object></ds:Signature>"), 1) + tail
    for i, x in enumerate([xsw1, xsw2, xsw3, xsw4, xsw5, xsw6, xsw7, xsw8], 1):
        case(f"xsw{i}", x, "multiple_assertions", f"SAML Raider XSW{i}")
    # Single-assertion wrapping: the signed Response nested in the evil one's signature,
    # so the evil root's Destination/InResponseTo would be read with a valid signature.
    case("xsw_nested_response",
         evil_root(rsig.replace("</ds:Signature>", orig_r + "</ds:Signature>") + ok_status),
         "malformed", "original signed Response nested inside the evil root")

    # DTDs.
    xxe = ('<?xml version="1.0"?>\n<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           + valid_a.replace(">alice@contoso.com</saml:NameID>", ">&xxe;</saml:NameID>"))
    case("doctype_xxe", xxe, "dtd_forbidden", "external entity")
    lol = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
           + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
           + "]>\n" + valid_a.replace("<saml:AttributeValue>staff", "<saml:AttributeValue>&lol9;staff"))
    case("billion_laughs", lol, "dtd_forbidden", "entity expansion bomb")
    big = valid_a.replace("<samlp:Status>", "<!--" + ("x" * (600 * 1024)) + "--><samlp:Status>", 1)
    case("oversized", big, "too_large", "over the size limit")

    # Encrypted assertions (SP key = sp-key.pem).
    gcm = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
    gcm128 = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
    cbc = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
    oaep = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
    rsa15 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
    case("encrypted_gcm_signed_assertion", encrypt(valid_a, sp_cert, gcm, oaep, "aes-256"),
         "ok", "AES-256-GCM + RSA-OAEP, signed assertion inside")
    enc_unsigned = encrypt(unsigned(base).replace(SIG_R, ""), sp_cert, gcm128, oaep, "aes-128")
    case("encrypted_gcm_response_signed",
         R(enc_unsigned.replace("</saml:Issuer>", "</saml:Issuer>" + SIG_R, 1)),
         "ok", "AES-128-GCM, Response signature covers the EncryptedAssertion")
    case("encrypted_unsigned", enc_unsigned, "signature_missing",
         "anyone can encrypt to our public key: plaintext must be signed")
    inherited = encrypt(A(response(assertion(own_ns=False))), sp_cert, gcm, oaep, "aes-256")
    case("encrypted_gcm_inherited_namespace", inherited, "ok",
         "plaintext uses the saml prefix declared on the Response only")
    case("encrypted_cbc", encrypt(valid_a, sp_cert, cbc, oaep, "aes-256"),
         "encryption_unsupported", "AES-CBC refused")
    case("encrypted_rsa15", encrypt(valid_a, sp_cert, gcm, rsa15, "aes-256"),
         "encryption_unsupported", "RSA PKCS#1 v1.5 key transport refused")

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(cases)} cases written to {HERE}")


if __name__ == "__main__":
    main()

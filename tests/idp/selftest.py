#!/usr/bin/env python3
"""Self-test of idp.py without realmgate: pysaml2's own SP client talks to it.

Starts idp.py as a subprocess (as the Rust tests do), sends signed AuthnRequests over
both bindings, submits the login form with urllib, takes the SAMLResponse from the
auto-submit form and validates it with a pysaml2 SP. Also checks that requests with a
missing, bad, foreign or SHA-1 signature get an HTTP 400 page.

Run: .venv/bin/python tests/idp/selftest.py   (needs openssl and xmlsec1 on PATH)
"""

import base64
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zlib
from html.parser import HTMLParser
from xml.etree import ElementTree

warnings.filterwarnings("ignore", message="CFB has been moved")
logging.getLogger("saml2").addHandler(logging.NullHandler())  # expected errors are tested
logging.getLogger("saml2").propagate = False

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402
from saml2.cryptography.asymmetric import key_sign, load_pem_private_key  # noqa: E402
from saml2.cryptography.asymmetric import hashes  # noqa: E402
from saml2.response import StatusAuthnFailed  # noqa: E402
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT  # noqa: E402
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IDP = os.path.join(HERE, "idp.py")
XMLSEC = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"

# The SP as realmgate would be deployed for the Rust end-to-end test.
SP_ENTITY = "https://127.0.0.1:8443/"
ACS = "https://127.0.0.1:8443/auth/saml/callback"
ACS_ALIAS = "https://127.0.0.1:8443/saml2/idpresponse"
SLO = "https://127.0.0.1:8443/saml/slo"

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
CLAIM_EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
CLAIM_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def keypair(workdir, name):
    key, cert = os.path.join(workdir, f"{name}-key.pem"), os.path.join(workdir, f"{name}-cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", f"/CN={name}"],
        check=True, capture_output=True)
    return key, cert


def cert_b64(cert):
    with open(cert, encoding="ascii") as f:
        return "".join(line.strip() for line in f if "-----" not in line)


def realmgate_sp_metadata(certs):
    """SP metadata in the shape realmgate's /saml/metadata serves (src/saml/metadata.rs):
    md:/ds: prefixes, signing + encryption KeyDescriptors for the current and next cert."""
    kds = "".join(
        f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64(c)}'
        f"</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs for use in ("signing", "encryption"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{SP_ENTITY}">'
        '<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{kds}"
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{SLO}"/>'
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{SLO}"/>'
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{ACS}" index="0" isDefault="true"/>'
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{ACS_ALIAS}" index="1"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>\n")


class IdpProcess:
    """idp.py started the way the Rust tests start it."""

    def __init__(self, workdir, name, sp_metadata, key, cert, *extra):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.metadata = os.path.join(self.dir, "idp-metadata.xml")
        ready = os.path.join(self.dir, "ready.json")
        self.log = open(os.path.join(self.dir, "idp.log"), "w+", encoding="utf-8")
        cmd = [sys.executable, IDP, "--port", "0", "--host", "localhost",
               "--sp-metadata", sp_metadata, "--metadata-out", self.metadata,
               "--key", key, "--cert", cert, "--ready-file", ready, *extra]
        self.proc = subprocess.Popen(cmd, stderr=self.log, stdout=self.log)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"idp.py did not start: {self.output()}")
            time.sleep(0.05)
        with open(ready, encoding="utf-8") as f:
            info = json.load(f)
        self.base_url, self.entity_id = info["base_url"], info["entity_id"]

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


def sp_client(workdir, key, cert, idp_metadata, want_response_signed=False, want_assertions_signed=True):
    conf = SPConfig()
    conf.load({
        "entityid": SP_ENTITY,
        "xmlsec_binary": XMLSEC,
        "key_file": key,
        "cert_file": cert,
        "metadata": {"local": [idp_metadata]},
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST),
                                                         (ACS_ALIAS, BINDING_HTTP_POST)],
                          "single_logout_service": [(SLO, BINDING_HTTP_REDIRECT),
                                                    (SLO, BINDING_HTTP_POST)]},
            "authn_requests_signed": True,
            "want_assertions_signed": want_assertions_signed,
            "want_response_signed": want_response_signed,
            "allow_unsolicited": False,
        }},
    })
    return Saml2Client(conf)


class Page(HTMLParser):
    """The first form of a page: action, fields, and the ids of its elements."""

    def __init__(self, text):
        super().__init__()
        self.action, self.fields, self.ids, self.text = None, {}, {}, text
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = (tag, a)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        if tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""


def http(url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(url, body, timeout=30) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_302(url):
    """GETs `url` without following a redirect: (status, Location or body)."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        if e.code == 302:
            return 302, e.headers["Location"]
        return e.code, e.read().decode("utf-8")


def query_of(url):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def redirect_location(info):
    return dict(info["headers"])["Location"]


def signature_algorithms(xml):
    root = ElementTree.fromstring(xml)
    return ([e.get("Algorithm") for e in root.iter(f"{{{NS['ds']}}}SignatureMethod")],
            [e.get("Algorithm") for e in root.iter(f"{{{NS['ds']}}}DigestMethod")])


class SelfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="realmgate-idp-selftest-")
        w = cls.tmp
        cls.idp_key, cls.idp_cert = keypair(w, "idp")
        cls.sp_key, cls.sp_cert = keypair(w, "sp")            # current SP signing key
        cls.next_key, cls.next_cert = keypair(w, "sp-next")   # the "next" cert in metadata
        cls.evil_key, cls.evil_cert = keypair(w, "attacker")  # in no metadata
        cls.sp_metadata = os.path.join(w, "sp-metadata.xml")
        with open(cls.sp_metadata, "w", encoding="utf-8") as f:
            f.write(realmgate_sp_metadata([cls.sp_cert, cls.next_cert]))
        cls.users = os.path.join(w, "users.json")
        with open(cls.users, "w", encoding="utf-8") as f:
            json.dump({
                "dana@contoso.com": {"password": "s3cret", "name": "Dana Dane"},
                "erin@contoso.com": {"password": "pw", "name": "Erin", "subject": "erin-42",
                                     "name_id_format": "persistent"},
            }, f)
        cls.idps = []
        cls.idp = cls.start("default")
        cls.client = sp_client(w, cls.sp_key, cls.sp_cert, cls.idp.metadata)
        cls.evil_client = sp_client(w, cls.evil_key, cls.evil_cert, cls.idp.metadata)

    @classmethod
    def start(cls, name, *extra):
        idp = IdpProcess(cls.tmp, name, cls.sp_metadata, cls.idp_key, cls.idp_cert, *extra)
        cls.idps.append(idp)
        return idp

    @classmethod
    def tearDownClass(cls):
        for idp in cls.idps:
            if os.environ.get("IDP_SELFTEST_VERBOSE"):
                sys.stderr.write(idp.output())
            idp.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers --------------------------------------------------------------------

    def redirect_request(self, idp, client=None, relay_state="rs-1", sigalg=SIG_RSA_SHA256):
        client = client or self.client
        reqid, info = client.prepare_for_authenticate(
            entityid=idp.entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT,
            sign=True, sigalg=sigalg, digest_alg=DIGEST_SHA256)
        url = redirect_location(info)
        self.assertTrue(url.startswith(f"{idp.base_url}/sso/redirect?"), url)
        return reqid, url

    def post_request(self, idp, client=None, acs=ACS, sign=True):
        client = client or self.client
        reqid, xml = client.create_authn_request(
            f"{idp.base_url}/sso/post", binding=BINDING_HTTP_POST, sign=sign,
            sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, assertion_consumer_service_url=acs)
        return reqid, str(xml)

    def login_page(self, url, data=None):
        status, body = http(url, data)
        self.assertEqual(status, 200, body)
        page = Page(body)
        for element_id in ("username", "password", "login", "cancel"):
            self.assertIn(element_id, page.ids, body)
        self.assertEqual(page.ids["password"][1].get("type"), "password")
        self.assertEqual(page.action, "/login")
        self.assertIn("key", page.fields)
        return page

    def submit(self, idp, page, **fields):
        data = dict(page.fields)
        data.update(fields)
        status, body = http(f"{idp.base_url}/login", data)
        self.assertEqual(status, 200, body)
        return Page(body)

    def sign_in(self, idp, page, username, password="password"):
        form = self.submit(idp, page, username=username, password=password)
        self.assertIn("continue-to-sp", form.ids, form.text)
        self.assertIn("document.forms[0].submit()", form.text)
        self.assertIn("SAMLResponse", form.fields)
        return form

    def assert_400(self, url, data=None, why=""):
        status, body = http(url, data)
        self.assertEqual(status, 400, f"{why}: {body}")
        self.assertIn('id="reason"', body)

    def assert_sha256_only(self, xml, signatures):
        sig_algs, digest_algs = signature_algorithms(xml)
        self.assertEqual(sig_algs, [RSA_SHA256] * signatures)
        self.assertEqual(digest_algs, [SHA256] * signatures)

    def check_response(self, form, reqid, relay_state, client=None):
        """Validates with the pysaml2 SP; returns (AuthnResponse, XML root)."""
        self.assertEqual(form.action, ACS)
        self.assertEqual(form.fields.get("RelayState"), relay_state)
        resp = (client or self.client).parse_authn_request_response(
            form.fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={reqid: "/"})
        self.assertIsNotNone(resp)
        xml = base64.b64decode(form.fields["SAMLResponse"])
        root = ElementTree.fromstring(xml)
        self.assertEqual(root.get("InResponseTo"), reqid)
        self.assertEqual(root.get("Destination"), ACS)
        a = root.find("saml:Assertion", NS)
        self.assertEqual(a.find("saml:Conditions/saml:AudienceRestriction/saml:Audience", NS).text,
                         SP_ENTITY)
        scd = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
        self.assertEqual(scd.get("Recipient"), ACS)
        self.assertEqual(scd.get("InResponseTo"), reqid)
        self.assertEqual(a.find("saml:Issuer", NS).text, self.idp_entity(resp))
        return resp, xml, root

    def idp_entity(self, resp):
        return resp.issuer()

    # --- the happy paths ------------------------------------------------------------

    def test_redirect_binding_login_hint_and_signed_assertion(self):
        relay = "opaque/relay state?x=1&y=2"
        reqid, url = self.redirect_request(self.idp, relay_state=relay)
        page = self.login_page(url + "&login_hint=" + urllib.parse.quote("alice@contoso.com"))
        self.assertEqual(page.fields["username"], "alice@contoso.com")
        form = self.sign_in(self.idp, page, "alice@contoso.com")
        resp, xml, root = self.check_response(form, reqid, relay)
        self.assertEqual(resp.issuer(), self.idp.entity_id)
        self.assertEqual(resp.name_id.format, NAMEID_FORMAT_EMAILADDRESS)
        self.assertEqual(resp.name_id.text, "alice@contoso.com")
        ava = resp.get_identity()
        self.assertEqual(ava[CLAIM_EMAIL], ["alice@contoso.com"])
        self.assertEqual(ava[CLAIM_NAME], ["Alice Anderson"])
        # Assertion signed, Response not (the default), RSA-SHA256 with SHA-256 digests.
        self.assertIsNone(root.find("ds:Signature", NS))
        self.assertIsNotNone(root.find("saml:Assertion/ds:Signature", NS))
        self.assert_sha256_only(xml, 1)
        # The login request is used up.
        status, _ = http(f"{self.idp.base_url}/login", dict(page.fields, password="password"))
        self.assertEqual(status, 400)

    def test_post_binding_persistent_name_id(self):
        reqid, xml = self.post_request(self.idp)
        self.assertIsNotNone(ElementTree.fromstring(xml).find("ds:Signature", NS))
        hint = urllib.parse.quote("carol@contoso.com")
        page = self.login_page(f"{self.idp.base_url}/sso/post?login_hint={hint}",
                               {"SAMLRequest": base64.b64encode(xml.encode()).decode(), "RelayState": "r2"})
        self.assertEqual(page.fields["username"], "carol@contoso.com")
        form = self.sign_in(self.idp, page, "carol@contoso.com")
        resp, _, _ = self.check_response(form, reqid, "r2")
        self.assertEqual(resp.name_id.format, NAMEID_FORMAT_PERSISTENT)
        self.assertEqual(resp.name_id.text, "carol-subject-id")
        self.assertEqual(resp.get_identity()[CLAIM_EMAIL], ["carol@contoso.com"])

    def test_wrong_password_shows_the_form_again(self):
        reqid, url = self.redirect_request(self.idp)
        page = self.login_page(url)
        self.assertEqual(page.fields["username"], "")
        again = self.submit(self.idp, page, username="bob@contoso.com", password="nope")
        self.assertIn("error", again.ids)
        self.assertNotIn("SAMLResponse", again.fields)
        self.assertEqual(again.fields["key"], page.fields["key"])
        self.assertEqual(again.fields["username"], "bob@contoso.com")
        form = self.sign_in(self.idp, again, "bob@contoso.com")
        resp, _, _ = self.check_response(form, reqid, "rs-1")
        self.assertEqual(resp.name_id.text, "bob@contoso.com")

    def test_cancel_answers_responder_authn_failed(self):
        reqid, url = self.redirect_request(self.idp, relay_state="rs-cancel")
        page = self.login_page(url)
        form = self.submit(self.idp, page, cancel="1")
        self.assertEqual(form.action, ACS)
        self.assertEqual(form.fields["RelayState"], "rs-cancel")
        xml = base64.b64decode(form.fields["SAMLResponse"])
        root = ElementTree.fromstring(xml)
        self.assertEqual(root.get("InResponseTo"), reqid)
        code = root.find("samlp:Status/samlp:StatusCode", NS)
        self.assertEqual(code.get("Value"), "urn:oasis:names:tc:SAML:2.0:status:Responder")
        self.assertEqual(code.find("samlp:StatusCode", NS).get("Value"),
                         "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
        self.assertIsNone(root.find("saml:Assertion", NS))
        self.assert_sha256_only(xml, 1)  # the error Response itself is signed
        with self.assertRaises(StatusAuthnFailed):
            self.client.parse_authn_request_response(
                form.fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={reqid: "/"})

    def realmgate_redirect(self, relay, key_file, issued=None):
        """A Redirect request built the way src/saml/request.rs builds it: raw DEFLATE,
        base64, form-urlencoded, RSA-SHA256 over SAMLRequest..SigAlg, login_hint after
        the signature. Returns (request ID, URL)."""
        reqid = "_" + os.urandom(16).hex()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued or time.time()))
        xml = (
            '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{reqid}" Version="2.0" '
            f'IssueInstant="{now}" Destination="{self.idp.base_url}/sso/redirect" '
            f'AssertionConsumerServiceURL="{ACS}" '
            'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
            f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>"
            '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" '
            'AllowCreate="true"/></samlp:AuthnRequest>')
        deflate = zlib.compressobj(wbits=-15)
        deflated = deflate.compress(xml.encode()) + deflate.flush()

        def q(s):
            return urllib.parse.quote_plus(s)  # = Rust's form_urlencoded except for * and ~

        signed = (f"SAMLRequest={q(base64.b64encode(deflated).decode())}&RelayState={q(relay)}"
                  f"&SigAlg={q(RSA_SHA256)}")
        with open(key_file, "rb") as f:
            key = load_pem_private_key(f.read())
        sig = base64.b64encode(key_sign(key, signed.encode(), hashes.SHA256())).decode()
        return reqid, (f"{self.idp.base_url}/sso/redirect?{signed}&Signature={q(sig)}"
                       "&login_hint=dave%40contoso.com")

    def test_realmgate_style_redirect_signed_with_the_next_cert(self):
        """Signed with the second signing certificate of the SP metadata."""
        relay = "Zk9_x-1.2"
        reqid, url = self.realmgate_redirect(relay, self.next_key)
        page = self.login_page(url)
        self.assertEqual(page.fields["username"], "dave@contoso.com")
        form = self.sign_in(self.idp, page, "alice@contoso.com")
        resp, _, _ = self.check_response(form, reqid, relay)
        self.assertEqual(resp.name_id.text, "alice@contoso.com")
        # The same URL with the RelayState changed after signing is refused.
        self.assert_400(url.replace(relay, "other"), why="RelayState changed")

    def test_stale_issue_instant_gets_400(self):
        _, url = self.realmgate_redirect("r", self.sp_key, issued=time.time() - 2 * 86400)
        self.assert_400(url, why="IssueInstant two days ago")
        _, url = self.realmgate_redirect("r", self.sp_key, issued=time.time() + 2 * 86400)
        self.assert_400(url, why="IssueInstant in two days")

    def test_realmgate_style_post_signed_by_xmlsec1_without_key_info(self):
        """An HTTP-POST request from realmgate's signature template (exclusive C14N,
        RSA-SHA256, SHA-256, no KeyInfo), signed by xmlsec1 as samael does, with
        login_hint on the action URL."""
        reqid = "_" + os.urandom(16).hex()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        template = (
            '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{reqid}" Version="2.0" '
            f'IssueInstant="{now}" Destination="{self.idp.base_url}/sso/post" '
            f'AssertionConsumerServiceURL="{ACS}" '
            'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
            f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>"
            '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
            '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            f'<ds:SignatureMethod Algorithm="{RSA_SHA256}"/>'
            f'<ds:Reference URI="#{reqid}"><ds:Transforms>'
            '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
            '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            f'</ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/>'
            "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
            '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" '
            'AllowCreate="true"/></samlp:AuthnRequest>')
        path = os.path.join(self.tmp, f"{reqid}.xml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(template)
        signed = subprocess.run(
            [XMLSEC, "--sign", "--privkey-pem", self.sp_key,
             "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest", path],
            check=True, capture_output=True).stdout
        self.assertNotIn(b"KeyInfo", signed)
        page = self.login_page(f"{self.idp.base_url}/sso/post?login_hint=bob%40contoso.com",
                               {"SAMLRequest": base64.b64encode(signed).decode(), "RelayState": "r3"})
        self.assertEqual(page.fields["username"], "bob@contoso.com")
        form = self.sign_in(self.idp, page, "bob@contoso.com")
        resp, _, _ = self.check_response(form, reqid, "r3")
        self.assertEqual(resp.name_id.text, "bob@contoso.com")

    def test_sign_response_users_file_and_entity_id(self):
        idp = self.start("signed-response", "--sign-response", "--users", self.users,
                         "--entity-id", "https://sts.contoso.test/idp/")
        self.assertEqual(idp.entity_id, "https://sts.contoso.test/idp/")
        with open(idp.metadata, encoding="utf-8") as f:
            md = f.read()
        self.assertIn('WantAuthnRequestsSigned="true"', md)
        self.assertIn(f'Location="{idp.base_url}/sso/redirect"', md)
        self.assertIn(f'Location="{idp.base_url}/sso/post"', md)
        self.assertIn('use="signing"', md)
        self.assertIn(cert_b64(self.idp_cert), md)
        client = sp_client(self.tmp, self.sp_key, self.sp_cert, idp.metadata, want_response_signed=True)
        reqid, url = self.redirect_request(idp, client=client)
        page = self.login_page(url)
        # The users file replaces the default users.
        again = self.submit(idp, page, username="alice@contoso.com", password="password")
        self.assertIn("error", again.ids)
        form = self.sign_in(idp, again, "erin@contoso.com", "pw")
        resp, xml, root = self.check_response(form, reqid, "rs-1", client=client)
        self.assertEqual(resp.issuer(), "https://sts.contoso.test/idp/")
        self.assertEqual((resp.name_id.format, resp.name_id.text), (NAMEID_FORMAT_PERSISTENT, "erin-42"))
        self.assertIsNotNone(root.find("ds:Signature", NS))
        self.assertIsNotNone(root.find("saml:Assertion/ds:Signature", NS))
        self.assert_sha256_only(xml, 2)

    def test_response_only_signature(self):
        idp = self.start("response-only", "--sign-response", "--no-sign-assertion")
        client = sp_client(self.tmp, self.sp_key, self.sp_cert, idp.metadata,
                           want_response_signed=True, want_assertions_signed=False)
        reqid, url = self.redirect_request(idp, client=client)
        form = self.sign_in(idp, self.login_page(url), "alice@contoso.com")
        _, xml, root = self.check_response(form, reqid, "rs-1", client=client)
        self.assertIsNotNone(root.find("ds:Signature", NS))
        self.assertIsNone(root.find("saml:Assertion/ds:Signature", NS))
        self.assert_sha256_only(xml, 1)

    # --- refused requests -----------------------------------------------------------

    def test_redirect_with_bad_or_missing_signature_gets_400(self):
        _, url = self.redirect_request(self.idp)
        parts = urllib.parse.urlsplit(url)
        params = dict(urllib.parse.parse_qsl(parts.query))
        base = f"{self.idp.base_url}/sso/redirect?"

        def with_params(**changes):
            p = dict(params)
            for k, v in changes.items():
                if v is None:
                    p.pop(k, None)
                else:
                    p[k] = v
            return base + urllib.parse.urlencode(p)

        self.login_page(with_params())  # the untouched request is fine
        sig = base64.b64decode(params["Signature"])
        flipped = base64.b64encode(sig[:-1] + bytes([sig[-1] ^ 1])).decode()
        self.assert_400(with_params(Signature=flipped), why="flipped signature bit")
        self.assert_400(with_params(Signature=None, SigAlg=None), why="unsigned")
        self.assert_400(with_params(Signature=None), why="no Signature")
        self.assert_400(with_params(RelayState="changed"), why="RelayState changed")
        self.assert_400(with_params(SigAlg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"),
                        why="SigAlg changed")
        self.assert_400(with_params(SAMLRequest="bm90IGRlZmxhdGVk"), why="garbage SAMLRequest")
        self.assert_400(base + "RelayState=x", why="no SAMLRequest")

    def test_redirect_signed_by_a_foreign_key_gets_400(self):
        _, url = self.redirect_request(self.idp, client=self.evil_client)
        self.assert_400(url, why="key not in the SP metadata")

    def test_redirect_signed_with_sha1_gets_400(self):
        _, url = self.redirect_request(self.idp, sigalg=SIG_RSA_SHA1)
        self.assertIn(urllib.parse.quote_plus(SIG_RSA_SHA1), url)
        self.assert_400(url, why="RSA-SHA1")

    def test_post_with_bad_or_missing_signature_gets_400(self):
        post_url = f"{self.idp.base_url}/sso/post"

        def post(xml):
            return post_url, {"SAMLRequest": base64.b64encode(xml.encode()).decode(), "RelayState": "r"}

        _, good = self.post_request(self.idp)
        self.login_page(*post(good))
        self.assert_400(*post(good.replace(ACS, ACS_ALIAS)), why="signed request altered")
        _, unsigned = self.post_request(self.idp, sign=False)
        self.assertNotIn("Signature", unsigned)
        self.assert_400(*post(unsigned), why="unsigned POST request")
        _, foreign = self.post_request(self.idp, client=self.evil_client)
        self.assert_400(*post(foreign), why="signed by a key not in the SP metadata")
        self.assert_400(post_url, {"RelayState": "r"}, why="no SAMLRequest")

    def test_acs_url_not_in_sp_metadata_gets_400(self):
        _, xml = self.post_request(self.idp, acs="https://evil.example/acs")
        self.assert_400(f"{self.idp.base_url}/sso/post",
                        {"SAMLRequest": base64.b64encode(xml.encode()).decode()}, why="foreign ACS")

    def test_unknown_login_key_gets_400(self):
        status, _ = http(f"{self.idp.base_url}/login",
                         {"key": "nope", "username": "alice@contoso.com", "password": "password"})
        self.assertEqual(status, 400)

    # --- single logout ----------------------------------------------------------------

    def signed_in_session(self, username="alice@contoso.com", password="password"):
        reqid, url = self.redirect_request(self.idp)
        form = self.sign_in(self.idp, self.login_page(url), username, password)
        resp, _, _ = self.check_response(form, reqid, "rs-1")
        return resp

    def test_metadata_advertises_single_logout(self):
        with open(self.idp.metadata, encoding="utf-8") as f:
            root = ElementTree.fromstring(f.read())
        md = "{urn:oasis:names:tc:SAML:2.0:metadata}"
        services = {e.get("Binding"): e.get("Location") for e in root.iter(f"{md}SingleLogoutService")}
        self.assertEqual(services, {BINDING_HTTP_REDIRECT: f"{self.idp.base_url}/slo/redirect",
                                    BINDING_HTTP_POST: f"{self.idp.base_url}/slo/post"})

    def test_idp_initiated_logout_round_trip(self):
        resp = self.signed_in_session()
        status, to_sp = http_302(f"{self.idp.base_url}/slo/start?email=alice@contoso.com")
        self.assertEqual(status, 302, to_sp)
        self.assertTrue(to_sp.startswith(f"{SLO}?SAMLRequest="), to_sp)
        q = query_of(to_sp)
        req = self.client.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                               relay_state=q["RelayState"], sigalg=q["SigAlg"],
                                               signature=q["Signature"])
        self.assertIsNotNone(req)
        self.assertEqual(req.message.name_id.text, resp.assertion.subject.name_id.text)
        self.assertEqual([si.text for si in req.message.session_index],
                         [resp.assertion.authn_statement[0].session_index])
        answer = self.client.create_logout_response(req.message, [BINDING_HTTP_REDIRECT], sign=False)
        unsigned = self.client.apply_binding(BINDING_HTTP_REDIRECT, str(answer), answer.destination,
                                             q["RelayState"], response=True, sign=False)
        self.assert_400(redirect_location(unsigned), why="unsigned LogoutResponse")
        info = self.client.apply_binding(BINDING_HTTP_REDIRECT, str(answer), answer.destination,
                                         q["RelayState"], response=True, sign=True, sigalg=SIG_RSA_SHA256)
        status, body = http(redirect_location(info))
        self.assertEqual(status, 200, body)
        self.assertIn("status:Success", body)
        # Answered once: the same LogoutResponse again names no logout of the IdP's.
        self.assert_400(redirect_location(info), why="LogoutResponse replayed")
        # The IdP's own session ended with the logout it started.
        status, to_sp = http_302(f"{self.idp.base_url}/slo/start?email=alice@contoso.com")
        self.assertEqual(status, 400, "the IdP session ended with the first logout")

    def test_sp_initiated_logout_round_trip_and_unsigned_refusal(self):
        resp = self.signed_in_session()
        name_id = resp.assertion.subject.name_id
        reqid, req = self.client.create_logout_request(
            f"{self.idp.base_url}/slo/redirect", self.idp.entity_id, name_id=name_id,
            session_indexes=[resp.assertion.authn_statement[0].session_index])
        unsigned = self.client.apply_binding(BINDING_HTTP_REDIRECT, str(req),
                                             f"{self.idp.base_url}/slo/redirect", "rs", sign=False)
        self.assert_400(redirect_location(unsigned), why="unsigned LogoutRequest")
        info = self.client.apply_binding(BINDING_HTTP_REDIRECT, str(req), f"{self.idp.base_url}/slo/redirect",
                                         "rs", sign=True, sigalg=SIG_RSA_SHA256)
        status, back = http_302(redirect_location(info))
        self.assertEqual(status, 302, back)
        self.assertTrue(back.startswith(f"{SLO}?SAMLResponse="), back)
        q = query_of(back)
        self.assertEqual(q["RelayState"], "rs")
        self.assertEqual(q["SigAlg"], RSA_SHA256)
        answer = self.client.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
        self.assertIsNotNone(answer)
        self.assertEqual(answer.response.in_response_to, reqid)


if __name__ == "__main__":
    unittest.main(verbosity=2)

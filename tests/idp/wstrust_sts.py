#!/usr/bin/env python3
"""A test STS for realmgate's WS-Trust device login (tests/wstrust.rs): AD FS's
`/adfs/services/trust/13/usernamemixed` endpoint over HTTPS, answering each SOAP 1.2
RequestSecurityToken with an RSTR collection whose SAML 1.1 assertion it signs with xmlsec1
at request time, with the token builders of tests/testdata/wsfed/generate.py and the STS
key of tests/testdata/saml (the one tests/testdata/wsfed/sts-metadata.xml publishes for
the STS role, which it also serves as its Federation Metadata).

The request is parsed and checked as AD FS would: SOAP 1.2, WS-Addressing Action Issue, a
UsernameToken with a PasswordText password, RequestType Issue, KeyType Bearer, and an
AppliesTo address, which becomes the token's Audience. A wrong password gets AD FS's SOAP
fault (HTTP 500). Otherwise the username's local part picks what is answered, one mode per
refusal the gateway must make:

  unsigned   the assertion has no signature
  foreign    signed by a key the metadata does not publish (the SAML corpus' SP key)
  samlrole   signed by the key the metadata publishes for its SAML IdP role only
  appliesto  the RSTR's AppliesTo names another relying party
  audience   the signed Audience names another relying party
  expired    the validity ended an hour ago
  replay     every answer carries the same AssertionID (freshly signed)
  doctype    a DTD before the envelope
  other      a valid token, for another person than the username
  hang       no answer for 60 seconds
  (anything else) a valid token for the username

GET /last answers JSON describing the last request (never its password, only whether it
matched). Settings come from the environment: STS_PORT, STS_CERT, STS_KEY (TLS),
STS_PASSWORD (the one correct password) and STS_READY_FILE (written once listening, with
the endpoint URLs).
"""

import datetime
import http.server
import importlib.util
import json
import os
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
WSFED_DIR = os.path.join(os.path.dirname(HERE), "testdata", "wsfed")
# Loaded under its own name: it imports the SAML corpus' `generate` (keys, templates).
_spec = importlib.util.spec_from_file_location("wsfed_generate",
                                               os.path.join(WSFED_DIR, "generate.py"))
wsfed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wsfed)

saml = wsfed.saml
SOAP, WSA, WSSE = wsfed.SOAP, wsfed.WSA, wsfed.WSSE
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
T13 = wsfed.T13
PASSWORD_TEXT = ("http://docs.oasis-open.org/wss/2004/01/"
                 "oasis-200401-wss-username-token-profile-1.0#PasswordText")
OTHER_RP = "https://other-rp.example.com/"
PATH = "/adfs/services/trust/13/usernamemixed"
METADATA_PATH = "/FederationMetadata/2007-06/FederationMetadata.xml"

STS_KEY, STS_CERT = saml.keypair("idp", "Test IdP signing")
FOREIGN_KEY, FOREIGN_CERT = saml.keypair("sp", "Test SP")
SAML_ROLE_KEY, SAML_ROLE_CERT = saml.keypair("attacker", "Attacker")
PASSWORD = os.environ["STS_PASSWORD"]
REPLAYED_ID = "_r" + uuid.uuid4().hex
# generate.py's builders read its module-level instants; one token is built at a time.
BUILD = threading.Lock()
LAST = {}


def instant(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def find(root, ns, name):
    return root.find(f".//{{{ns}}}{name}")


def text(root, ns, name):
    node = find(root, ns, name)
    return None if node is None else (node.text or "").strip()


def token_answer(mode, username, applies_to):
    now = datetime.datetime.now(datetime.timezone.utc)
    nb, noa = now - datetime.timedelta(minutes=1), now + datetime.timedelta(hours=1)
    if mode == "expired":
        nb, noa = now - datetime.timedelta(hours=2), now - datetime.timedelta(hours=1)
    name = "mallory@contoso.com" if mode == "other" else username
    aid = REPLAYED_ID if mode == "replay" else "_" + uuid.uuid4().hex
    audience = OTHER_RP if mode == "audience" else applies_to
    with BUILD:
        wsfed.II = instant(now)
        assertion = wsfed.saml11(aid=aid, name=name, email=name, audience=audience,
                                 nb=instant(nb), noa=instant(noa))
        rstr = wsfed.rstr(assertion, ns=T13,
                          applies_to=OTHER_RP if mode == "appliesto" else applies_to,
                          token_type="urn:oasis:names:tc:SAML:1.0:assertion")
        doc = wsfed.soap_envelope(wsfed.rstrc(rstr), created=instant(now),
                                  expires=instant(now + datetime.timedelta(minutes=5)))
        if mode == "unsigned":
            doc = wsfed.unsigned(doc)
        elif mode == "foreign":
            doc = wsfed.sign(doc, FOREIGN_KEY, FOREIGN_CERT)
        elif mode == "samlrole":
            doc = wsfed.sign(doc, SAML_ROLE_KEY, SAML_ROLE_CERT)
        else:
            doc = wsfed.sign(doc, STS_KEY, STS_CERT)
    if mode == "doctype":
        doc = '<!DOCTYPE s [<!ENTITY e "x">]>' + doc
    return doc


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == METADATA_PATH:
            with open(os.path.join(WSFED_DIR, "sts-metadata.xml")) as f:
                return self.answer(200, "application/samlmetadata+xml", f.read())
        if self.path == "/last":
            return self.answer(200, "application/json", json.dumps(LAST))
        self.answer(404, "text/plain", "not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != PATH:
            return self.answer(404, "text/plain", "not found")
        soap = "application/soap+xml"
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return self.answer(400, "text/plain", "not XML")
        password = find(root, WSSE, "Password")
        applies = find(root, WSP, "AppliesTo")
        LAST.clear()
        LAST.update(
            content_type=self.headers.get("Content-Type", ""),
            envelope=root.tag,
            action=text(root, WSA, "Action"),
            to=text(root, WSA, "To"),
            username=text(root, WSSE, "Username"),
            password_type=None if password is None else password.get("Type"),
            password_ok=password is not None and password.text == PASSWORD,
            applies_to=None if applies is None else text(applies, WSA, "Address"),
            request_type=text(root, T13, "RequestType"),
            key_type=text(root, T13, "KeyType"),
        )
        well_formed = (
            LAST["content_type"].startswith(soap)
            and root.tag == f"{{{SOAP}}}Envelope"
            and LAST["action"] == f"{T13}/RST/Issue"
            and LAST["password_type"] == PASSWORD_TEXT
            and LAST["request_type"] == f"{T13}/Issue"
            and LAST["key_type"] == f"{T13}/Bearer"
            and LAST["applies_to"]
            and LAST["username"]
        )
        if not well_formed or not LAST["password_ok"]:
            now = datetime.datetime.now(datetime.timezone.utc)
            return self.answer(500, f"{soap}; charset=utf-8", wsfed.soap_fault(
                created=instant(now), expires=instant(now + datetime.timedelta(minutes=5))))
        mode = LAST["username"].split("@")[0]
        if mode == "hang":
            time.sleep(60)
        self.answer(200, f"{soap}; charset=utf-8",
                    token_answer(mode, LAST["username"], LAST["applies_to"]))


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("STS_PORT", "0"))),
                                             Handler)
    server.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.environ["STS_CERT"], os.environ["STS_KEY"])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    base = f"https://127.0.0.1:{server.server_address[1]}"
    ready = os.environ["STS_READY_FILE"]
    with open(ready + ".tmp", "w") as f:
        json.dump({"endpoint": base + PATH, "metadata": base + METADATA_PATH,
                   "last": base + "/last"}, f)
    os.rename(ready + ".tmp", ready)
    server.serve_forever()


if __name__ == "__main__":
    main()

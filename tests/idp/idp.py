#!/usr/bin/env python3
"""A small SAML 2.0 IdP on loopback, built on pysaml2, for realmgate's end-to-end tests.

It verifies signed AuthnRequests (HTTP-Redirect and HTTP-POST bindings) against the SP
metadata it is given, shows a login page, and POSTs a signed Response (RSA-SHA256,
SHA-256 digests) back to the ACS with RelayState. It also does SAML Single Logout both
ways: its SingleLogoutService verifies the SP's signed LogoutRequest and answers with a
signed LogoutResponse, and `/slo/start?email=..&binding=redirect|post` sends the SP a
signed LogoutRequest for that user's last login, whose signed LogoutResponse it verifies
at the same service. See README.md beside this file.

Only the standard library and pysaml2 (with Debian's xmlsec1) are used.
"""

import argparse
import base64
import html
import json
import os
import re
import secrets
import shutil
import sys
import threading
import urllib.parse
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# pysaml2 7.5.5 touches cryptography's deprecated CFB mode on import.
warnings.filterwarnings("ignore", message="CFB has been moved")

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

CLAIM_EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
CLAIM_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
AUTHN_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

# Request signatures weaker than SHA-256 are refused (realmgate signs with RSA-SHA256).
ACCEPTED_SIG_ALGS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
}

DEFAULT_USERS = {
    "alice@contoso.com": {"password": "password", "name": "Alice Anderson"},
    "bob@contoso.com": {"password": "password", "name": "Bob Brown"},
    "carol@contoso.com": {
        "password": "password",
        "name": "Carol Clark",
        "subject": "carol-subject-id",
        "name_id_format": "persistent",
    },
    # A user whose email is outside contoso's domains (the gateway must refuse it).
    "mallory@fabrikam.com": {"password": "password", "name": "Mallory Miller"},
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
{body}
</body></html>
"""


def log(msg):
    sys.stderr.write(f"idp: {msg}\n")
    sys.stderr.flush()


def esc(value):
    return html.escape(value or "", quote=True)


class Idp:
    """The pysaml2 server plus the pending requests and the user table."""

    def __init__(self, args, base_url, entity_id):
        self.base_url = base_url
        self.entity_id = entity_id
        self.sign_response = args.sign_response
        self.sign_assertion = args.sign_assertion
        if args.users:
            with open(args.users, encoding="utf-8") as f:
                users = json.load(f)
        else:
            users = DEFAULT_USERS
        self.users = {k.strip().lower(): dict(v, email=v.get("email", k)) for k, v in users.items()}
        xmlsec = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
        config = {
            "entityid": entity_id,
            "xmlsec_binary": xmlsec,
            "key_file": args.key,
            "cert_file": args.cert,
            "metadata": {"local": [args.sp_metadata]},
            "metadata_key_usage": "signing",
            # Verify requests only with certificates from the SP metadata, never with one
            # carried in the request's KeyInfo (pysaml2's default, stated for the reader).
            "only_use_keys_in_metadata": True,
            "accepted_time_diff": 60,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "service": {
                "idp": {
                    "name": "realmgate test IdP",
                    "endpoints": {
                        "single_sign_on_service": [
                            (f"{base_url}/sso/redirect", BINDING_HTTP_REDIRECT),
                            (f"{base_url}/sso/post", BINDING_HTTP_POST),
                        ],
                        "single_logout_service": [
                            (f"{base_url}/slo/redirect", BINDING_HTTP_REDIRECT),
                            (f"{base_url}/slo/post", BINDING_HTTP_POST),
                        ],
                    },
                    # pysaml2 takes this from its own config, not from the SP metadata's
                    # AuthnRequestsSigned: it makes both bindings require a valid signature.
                    "want_authn_requests_signed": True,
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                        }
                    },
                },
            },
        }
        conf = IdPConfig()
        conf.load(config)
        self.conf = conf
        self.server = Server(config=conf)
        self.lock = threading.Lock()  # pysaml2 is not meant to be shared by threads
        self.pending = {}
        # email -> the last login's NameID, SessionIndex and SP (for IdP-initiated logout)
        self.sessions = {}
        # LogoutRequest ID -> email, for the logouts this IdP started
        self.logouts = {}

    def metadata_xml(self):
        ed = entity_descriptor(self.conf)
        # pysaml2 adds an algorithm-support extension listing everything xmlsec1 knows
        # (MD5, SHA-1, ...): misleading for an IdP that signs with RSA-SHA256 only.
        ed.extensions = None
        return ed.to_string().decode("utf-8")

    # --- requests -------------------------------------------------------------------

    def parse_request(self, saml_request, binding, relay_state, sig_alg=None, signature=None):
        """Verifies and parses an AuthnRequest; returns the pending entry's key."""
        if not saml_request:
            raise ValueError("no SAMLRequest")
        if binding == BINDING_HTTP_REDIRECT and sig_alg is not None and sig_alg not in ACCEPTED_SIG_ALGS:
            raise ValueError(f"SigAlg {sig_alg} refused")
        with self.lock:
            req = self.server.parse_authn_request(
                saml_request, binding, relay_state=relay_state, sigalg=sig_alg, signature=signature
            )
            if req is None:
                raise ValueError("pysaml2 returned no request")
            msg = req.message
            if msg.signature is not None:
                alg = msg.signature.signed_info.signature_method.algorithm
                if alg not in ACCEPTED_SIG_ALGS:
                    raise ValueError(f"SignatureMethod {alg} refused")
            if not req.issue_instant_ok():
                raise ValueError(f"IssueInstant {msg.issue_instant} out of range")
            # Checks AssertionConsumerServiceURL against the SP metadata.
            resp_args = self.server.response_args(msg, [BINDING_HTTP_POST])
        key = secrets.token_urlsafe(18)
        self.pending[key] = {
            "in_response_to": resp_args["in_response_to"],
            "destination": resp_args["destination"],
            "sp_entity_id": resp_args["sp_entity_id"],
            "relay_state": relay_state,
        }
        log(f"AuthnRequest {msg.id} from {resp_args['sp_entity_id']} ({binding.rsplit(':', 1)[-1]}), "
            f"ACS {resp_args['destination']}")
        return key

    # --- responses ------------------------------------------------------------------

    def success_response(self, pending, user):
        email = user["email"]
        if user.get("name_id_format") == "persistent":
            name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text=user["subject"])
        else:
            name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email)
        identity = {CLAIM_EMAIL: [email], CLAIM_NAME: [user.get("name", email)]}
        for k, v in user.get("attributes", {}).items():
            identity[k] = v if isinstance(v, list) else [v]
        with self.lock:
            resp = self.server.create_authn_response(
                identity,
                in_response_to=pending["in_response_to"],
                destination=pending["destination"],
                sp_entity_id=pending["sp_entity_id"],
                name_id=name_id,
                authn={"class_ref": AUTHN_PASSWORD, "authn_auth": self.entity_id},
                sign_response=self.sign_response,
                sign_assertion=self.sign_assertion,
                sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
        text = to_text(resp)
        found = re.search(r'SessionIndex="([^"]+)"', text)
        self.sessions[email.lower()] = {
            "name_id": name_id,
            "session_index": found.group(1) if found else None,
            "sp_entity_id": pending["sp_entity_id"],
        }
        return text

    def cancel_response(self, pending):
        with self.lock:
            resp = self.server.create_error_response(
                pending["in_response_to"],
                pending["destination"],
                (samlp.STATUS_AUTHN_FAILED, "The user cancelled the sign-in"),
                sign=True,
                sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
        return to_text(resp)


    # --- single logout ----------------------------------------------------------------

    def sp_slo(self, sp_entity_id, binding):
        """The SP's SingleLogoutService location for `binding`, from its metadata."""
        services = self.server.metadata.single_logout_service(sp_entity_id, binding, "spsso")
        if not services:
            raise ValueError(f"the SP has no SingleLogoutService for {binding}")
        return services[0]["location"]

    def logout_request(self, saml_request, binding, relay_state, sig_alg=None, signature=None):
        """Verifies the SP's signed LogoutRequest, ends that user's session here, and
        returns the URL of the signed LogoutResponse (HTTP-Redirect binding)."""
        if binding == BINDING_HTTP_REDIRECT and sig_alg not in ACCEPTED_SIG_ALGS:
            raise ValueError(f"SigAlg {sig_alg} refused")
        with self.lock:
            # Signature required (want_authn_requests_signed applies to every request).
            req = self.server.parse_logout_request(
                saml_request, binding, relay_state=relay_state, sigalg=sig_alg, signature=signature
            )
            if req is None:
                raise ValueError("pysaml2 returned no request")
            msg = req.message
            if binding == BINDING_HTTP_POST and msg.signature is None:
                raise ValueError("unsigned LogoutRequest")
            if not req.issue_instant_ok():
                raise ValueError(f"IssueInstant {msg.issue_instant} out of range")
            name_id = msg.name_id.text.strip()
            indexes = [si.text for si in (msg.session_index or [])]
            ended = [e for e, v in self.sessions.items()
                     if v["name_id"].text == name_id and (not indexes or v["session_index"] in indexes)]
            for e in ended:
                del self.sessions[e]
            resp = self.server.create_logout_response(msg, [BINDING_HTTP_REDIRECT], sign=False)
            info = self.server.apply_binding(
                BINDING_HTTP_REDIRECT, str(resp), resp.destination, relay_state,
                response=True, sign=True, sigalg=SIG_RSA_SHA256,
            )
        log(f"LogoutRequest {msg.id} for {name_id} (session indexes {indexes}) verified; "
            f"ended {ended}")
        return dict(info["headers"])["Location"]

    def start_logout(self, email, binding):
        """A signed LogoutRequest for `email`'s last login, whose session ends here;
        returns pysaml2's HTTP args."""
        sess = self.sessions.pop(email.lower(), None)
        if sess is None:
            raise ValueError(f"no session of {email}")
        destination = self.sp_slo(sess["sp_entity_id"], binding)
        indexes = [sess["session_index"]] if sess["session_index"] else None
        post = binding == BINDING_HTTP_POST
        with self.lock:
            req_id, req = self.server.create_logout_request(
                destination, sess["sp_entity_id"], name_id=sess["name_id"],
                session_indexes=indexes, sign=post, sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
            info = self.server.apply_binding(
                binding, to_text(req) if post else str(req), destination, "idp-relay",
                sign=not post, sigalg=SIG_RSA_SHA256,
            )
        self.logouts[req_id] = email.lower()
        log(f"LogoutRequest {req_id} for {email} sent ({binding.rsplit(':', 1)[-1]})")
        return info

    def logout_response(self, saml_response, binding, query):
        """Verifies the SP's signed LogoutResponse to one of our LogoutRequests."""
        with self.lock:
            if binding == BINDING_HTTP_REDIRECT:
                if query.get("SigAlg") not in ACCEPTED_SIG_ALGS or not query.get("Signature"):
                    raise ValueError("LogoutResponse without an accepted query signature")
                signed = {k: query[k] for k in ("SAMLResponse", "RelayState", "SigAlg", "Signature")
                          if k in query}
                resp = self.server.parse_logout_request_response(saml_response, binding)
                if resp is None:
                    raise ValueError("pysaml2 returned no response")
                sp = resp.response.issuer.text.strip()
                certs = self.server.metadata.certs(sp, "any", "signing")
                if not any(verify_redirect_signature(signed, self.server.sec.sec_backend, c)
                           for _, c in certs):
                    raise ValueError("the LogoutResponse's query signature does not verify")
            else:
                # A POST binding response must carry an XML signature pysaml2 verifies.
                resp = self.server.parse_logout_request_response(saml_response, binding)
                if resp is None or resp.response.signature is None:
                    raise ValueError("unsigned LogoutResponse")
            msg = resp.response
            email = self.logouts.pop(msg.in_response_to, None)
            if email is None:
                raise ValueError(f"InResponseTo {msg.in_response_to} names no logout of ours")
            status = msg.status.status_code.value
        log(f"LogoutResponse {msg.id} for {email}: {status}")
        return email, status


def to_text(resp):
    # pysaml2 returns a signed XML string, a Response object, or (on some errors) a
    # list of lines.
    if isinstance(resp, list):
        resp = "\n".join(resp)
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8")
    return str(resp)


def login_page(key, username="", error=""):
    err = f'<p id="error" role="alert">{esc(error)}</p>\n' if error else ""
    body = f"""<h1>Sign in</h1>
{err}<form method="post" action="/login">
<input type="hidden" name="key" value="{esc(key)}">
<label for="username">Email</label>
<input id="username" name="username" type="email" autocomplete="username" value="{esc(username)}">
<label for="password">Password</label>
<input id="password" type="password" name="password" autocomplete="current-password">
<button id="login" type="submit">Sign in</button>
<button id="cancel" name="cancel" value="1">Cancel</button>
</form>"""
    return PAGE.format(title="Sign in", body=body)


def post_form(acs, saml_response, relay_state):
    b64 = base64.b64encode(saml_response.encode("utf-8")).decode("ascii")
    relay = (f'<input type="hidden" name="RelayState" value="{esc(relay_state)}">\n'
             if relay_state is not None else "")
    body = f"""<form method="post" action="{esc(acs)}">
<input type="hidden" name="SAMLResponse" value="{b64}">
{relay}<p>Continue to the application.</p>
<button id="continue-to-sp" type="submit">Continue</button>
</form>
<script>document.forms[0].submit()</script>"""
    return PAGE.format(title="Continue", body=body)


class Handler(BaseHTTPRequestHandler):
    idp = None  # set in main
    server_version = "realmgate-test-idp"

    def log_message(self, fmt, *args):
        log(f"{self.address_string()} {fmt % args}")

    def send_page(self, status, text, ctype="text/html; charset=utf-8"):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def bad_request(self, reason):
        log(f"400: {reason}")
        body = f'<h1>Bad request</h1>\n<p id="reason">{esc(reason)}</p>'
        self.send_page(400, PAGE.format(title="Bad request", body=body))

    def query(self):
        q = urllib.parse.urlsplit(self.path).query
        return {k: v[0] for k, v in urllib.parse.parse_qs(q, keep_blank_values=True).items()}

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1_000_000:
            raise ValueError("body too large")
        raw = self.rfile.read(n).decode("utf-8")
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/sso/redirect":
            q = self.query()
            self.start_login(q, BINDING_HTTP_REDIRECT, q.get("SAMLRequest"), q.get("RelayState"),
                             q.get("SigAlg"), q.get("Signature"))
        elif path == "/slo/redirect":
            q = self.query()
            if q.get("SAMLResponse"):
                self.finish_logout(q["SAMLResponse"], BINDING_HTTP_REDIRECT, q)
            else:
                try:
                    to = self.idp.logout_request(q.get("SAMLRequest"), BINDING_HTTP_REDIRECT,
                                                 q.get("RelayState"), q.get("SigAlg"), q.get("Signature"))
                except Exception as e:  # noqa: BLE001 - every failure is the requester's
                    return self.bad_request(f"LogoutRequest refused: {type(e).__name__}: {e}")
                self.send_response(302)
                self.send_header("Location", to)
                self.send_header("Content-Length", "0")
                self.end_headers()
        elif path == "/slo/start":
            q = self.query()
            binding = BINDING_HTTP_POST if q.get("binding") == "post" else BINDING_HTTP_REDIRECT
            try:
                info = self.idp.start_logout(q.get("email", ""), binding)
            except Exception as e:  # noqa: BLE001
                return self.bad_request(f"cannot start logout: {type(e).__name__}: {e}")
            if binding == BINDING_HTTP_POST:
                self.send_page(200, PAGE.format(title="Logout", body=info["data"]))
            else:
                self.send_response(302)
                self.send_header("Location", dict(info["headers"])["Location"])
                self.send_header("Content-Length", "0")
                self.end_headers()
        elif path == "/metadata":
            self.send_page(200, self.idp.metadata_xml(), "application/samlmetadata+xml")
        elif path == "/healthz":
            self.send_page(200, "ok\n", "text/plain")
        else:
            self.send_page(404, PAGE.format(title="Not found", body="<h1>Not found</h1>"))

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            form = self.form()
        except Exception as e:  # noqa: BLE001
            return self.bad_request(f"unreadable form: {e}")
        if path == "/sso/post":
            # login_hint may come on the action URL's query (as realmgate sends it) or in the form.
            q = self.query()
            q.update({k: v for k, v in form.items() if k == "login_hint"})
            self.start_login(q, BINDING_HTTP_POST, form.get("SAMLRequest"), form.get("RelayState"))
        elif path == "/login":
            self.finish_login(form)
        elif path == "/slo/post":
            if form.get("SAMLResponse"):
                self.finish_logout(form["SAMLResponse"], BINDING_HTTP_POST, form)
            else:
                self.bad_request("this IdP takes LogoutRequests with the HTTP-Redirect binding")
        else:
            self.send_page(404, PAGE.format(title="Not found", body="<h1>Not found</h1>"))

    def start_login(self, params, binding, saml_request, relay_state, sig_alg=None, signature=None):
        try:
            key = self.idp.parse_request(saml_request, binding, relay_state, sig_alg, signature)
        except Exception as e:  # noqa: BLE001 - every failure is the requester's
            return self.bad_request(f"AuthnRequest refused: {type(e).__name__}: {e}")
        self.send_page(200, login_page(key, params.get("login_hint", "")))

    def finish_logout(self, saml_response, binding, params):
        try:
            email, status = self.idp.logout_response(saml_response, binding, params)
        except Exception as e:  # noqa: BLE001
            return self.bad_request(f"LogoutResponse refused: {type(e).__name__}: {e}")
        body = (f'<h1>Signed out</h1>\n<p id="who">{esc(email)}</p>\n'
                f'<p id="status">{esc(status)}</p>')
        self.send_page(200, PAGE.format(title="Signed out", body=body))

    def finish_login(self, form):
        key = form.get("key", "")
        pending = self.idp.pending.get(key)
        if pending is None:
            return self.bad_request("unknown or used login request")
        if form.get("cancel"):
            del self.idp.pending[key]
            log(f"user cancelled request {pending['in_response_to']}")
            resp = self.idp.cancel_response(pending)
        else:
            username = form.get("username", "").strip()
            user = self.idp.users.get(username.lower())
            if user is None or not secrets.compare_digest(
                    user.get("password", "").encode(), form.get("password", "").encode()):
                log(f"wrong username or password for {username!r}")
                return self.send_page(200, login_page(key, username, "Wrong username or password."))
            del self.idp.pending[key]
            log(f"{user['email']} signed in for request {pending['in_response_to']}")
            resp = self.idp.success_response(pending, user)
        self.send_page(200, post_form(pending["destination"], resp, pending["relay_state"]))


def write_atomically(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description="A SAML 2.0 test IdP for realmgate (pysaml2).")
    p.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    p.add_argument("--host", default="localhost", help="host to bind and to use in URLs")
    p.add_argument("--sp-metadata", required=True, help="the SP's metadata XML (realmgate /saml/metadata)")
    p.add_argument("--metadata-out", required=True, help="where to write this IdP's metadata XML")
    p.add_argument("--key", required=True, help="IdP signing key, PEM")
    p.add_argument("--cert", required=True, help="IdP signing certificate, PEM")
    p.add_argument("--users", help='JSON {"email": {"password": .., "name": .., "subject": .., '
                                   '"name_id_format": "email"|"persistent"}}')
    p.add_argument("--sign-response", action="store_true", help="also sign the Response")
    p.add_argument("--sign-assertion", action=argparse.BooleanOptionalAction, default=True,
                   help="sign the Assertion (default; --no-sign-assertion with --sign-response "
                        "gives a Response-only signature)")
    p.add_argument("--entity-id", help="default http://HOST:PORT/idp")
    p.add_argument("--ready-file", help="written (JSON) once the IdP listens")
    args = p.parse_args(argv)
    if not (args.sign_assertion or args.sign_response):
        p.error("--no-sign-assertion needs --sign-response")

    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    base_url = f"http://{args.host}:{port}"
    entity_id = args.entity_id or f"{base_url}/idp"

    idp = Idp(args, base_url, entity_id)
    Handler.idp = idp
    write_atomically(args.metadata_out, idp.metadata_xml())
    log(f"listening on {base_url}, entity ID {entity_id}, sign_response={args.sign_response}")
    if args.ready_file:
        write_atomically(args.ready_file, json.dumps({
            "port": port,
            "base_url": base_url,
            "entity_id": entity_id,
            "metadata": os.path.abspath(args.metadata_out),
            "pid": os.getpid(),
        }) + "\n")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()

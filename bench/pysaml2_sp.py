#!/usr/bin/env python3
"""The side-by-side peer of `saml_bench`: pysaml2's own SP (the SAML engine of SATOSA), doing
the two operations a login gateway does per SAML login, on one thread, for a fixed time each:

- `pysaml2_start_unsigned` / `pysaml2_start_signed`: `Saml2Client.prepare_for_authenticate`
  with the HTTP-Redirect binding (a fresh AuthnRequest, DEFLATE, base64, the Location URL;
  signed: RSA-SHA256 over the query with the SP key given as the third argument), the peer
  of realmgate's `redirect_unsigned` / `redirect_signed`;
- `pysaml2_acs_8k`: `Saml2Client.parse_authn_request_response` validating the SAME response
  file (bench/data/response-8k.xml) with the same SP entity ID, ACS URL, IdP metadata,
  request ID and fixed clock (bench/data/response-8k.json), the peer of `acs_validate_8k`.
  pysaml2 runs the `xmlsec1` program for each signature.

    python bench/pysaml2_sp.py [seconds] [data dir] [sp key.pem sp cert.pem]

Needs pysaml2==7.5.5 and freezegun (bench/compare.sh installs them) and
Debian's xmlsec1. Without an SP key only the ACS figure is measured. Prints
`name  N ops/s ...` lines, which the shell scripts parse.
"""

import base64
import json
import logging
import os
import shutil
import sys
import time

from freezegun import freeze_time
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig

HERE = os.path.dirname(os.path.abspath(__file__))


def real_clock():
    """Wall-clock seconds that freezegun leaves alone: while frozen it patches time.time,
    monotonic and perf_counter, and every saved reference to them, but not clock_gettime."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def measure(name, secs, op):
    """Runs `op` for `secs` after a short warm-up and prints its rate on the clock freezegun
    leaves alone."""
    warm_end = real_clock() + min(secs / 10, 0.5)
    while real_clock() < warm_end:
        op()
    n = 0
    start = real_clock()
    while True:
        op()
        n += 1
        elapsed = real_clock() - start
        if elapsed >= secs:
            break
    rate = n / elapsed
    print(f"{name:<24} {rate:>12.1f} ops/s   {1e6 / rate:>9.1f} us/op   n={n}", flush=True)


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "data")
    sp_key, sp_cert = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)
    params = json.load(open(os.path.join(data, "response-8k.json")))
    xml = open(os.path.join(data, "response-8k.xml"), "rb").read()
    b64 = base64.b64encode(xml).decode()
    xmlsec = shutil.which("xmlsec1")
    if not xmlsec:
        sys.exit("pysaml2_sp: xmlsec1 not found (apt-get install xmlsec1)")
    logging.disable(logging.CRITICAL)  # pysaml2 logs every parse at INFO/ERROR

    config = SPConfig()
    config.load({
        "entityid": params["sp_entity_id"],
        "xmlsec_binary": xmlsec,
        "metadata": {"local": [os.path.join(data, "idp-metadata.xml")]},
        "accepted_time_diff": 60,
        # Keep every attribute, as realmgate's `validate` does (default: drop unknown).
        "allow_unknown_attributes": True,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [
                (params["acs_url"], BINDING_HTTP_POST)]},
            "allow_unsolicited": False,
            "want_assertions_signed": True,
            "want_response_signed": False,
            "authn_requests_signed": False,
        }},
        **({"key_file": sp_key, "cert_file": sp_cert} if sp_key else {}),
    })
    client = Saml2Client(config=config)
    outstanding = {params["request_id"]: "/"}

    def acs(text):
        return client.parse_authn_request_response(text, BINDING_HTTP_POST, outstanding)

    with freeze_time(params["now"]):
        # Correctness first: the right subject, and a tampered copy refused.
        resp = acs(b64)
        if resp is None or resp.name_id.text != params["email"]:
            sys.exit(f"pysaml2_sp: unexpected result {resp!r}")
        email = resp.ava.get("emailAddress") or resp.ava.get(params["email_claim"])
        values = sum(len(v) for v in resp.ava.values())
        if email != [params["email"]] or values != params["attribute_values"]:
            sys.exit(f"pysaml2_sp: email {email!r}, {values} attribute values: {resp.ava!r}")
        tampered = base64.b64encode(xml.replace(b">Alice<", b">Mallory<", 1)).decode()
        try:
            acs(tampered)
            sys.exit("pysaml2_sp: a tampered response was accepted")
        except SystemExit:
            raise
        except Exception:
            pass

        measure("pysaml2_acs_8k", secs, lambda: acs(b64))

    if sp_key:
        idp = params["idp_entity_id"]

        def start(sign):
            _, info = client.prepare_for_authenticate(
                entityid=idp, relay_state="_5f0c3a9e4b7d4e2a9c1b8d7e6f5a4b3c",
                binding=BINDING_HTTP_REDIRECT, sign=sign,
                sigalg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" if sign else None,
                nameid_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
            location = dict(info["headers"])["Location"]
            if sign != ("&Signature=" in location):
                sys.exit(f"pysaml2_sp: sign={sign} but Location is {location[:200]}")
            return location

        measure("pysaml2_start_unsigned", secs, lambda: start(False))
        measure("pysaml2_start_signed", secs, lambda: start(True))


if __name__ == "__main__":
    main()

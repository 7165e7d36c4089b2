#!/usr/bin/env python3
"""The side-by-side peer of `saml_bench`'s acs_validate_8k: pysaml2's own SP
(`Saml2Client.parse_authn_request_response`) validating the SAME response file
(bench/data/response-8k.xml) with the same SP entity ID, ACS URL, IdP metadata, request ID
and fixed clock (bench/data/response-8k.json), in a loop for a fixed time on one thread.
pysaml2 runs the `xmlsec1` program for each signature.

    .venv/bin/python bench/pysaml2_sp.py [seconds] [data dir]     (defaults: 3, bench/data)

Needs the venv made by bench/saml.sh (pysaml2==7.5.5, freezegun) and Debian's xmlsec1.
Prints `pysaml2_acs_8k  N ops/s ...`, the line bench/saml.sh parses.
"""

import base64
import json
import logging
import os
import shutil
import sys
import time

from freezegun import freeze_time
from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client
from saml2.config import SPConfig

HERE = os.path.dirname(os.path.abspath(__file__))


def real_clock():
    """Wall-clock seconds that freezegun leaves alone: while frozen it patches time.time,
    monotonic and perf_counter, and every saved reference to them, but not clock_gettime."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "data")
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

        warm_end = real_clock() + min(secs / 10, 0.5)
        while real_clock() < warm_end:
            acs(b64)
        n = 0
        start = real_clock()
        while True:
            acs(b64)
            n += 1
            elapsed = real_clock() - start
            if elapsed >= secs:
                break
    rate = n / elapsed
    print(f"{'pysaml2_acs_8k':<20} {rate:>12.1f} ops/s   {1e6 / rate:>9.1f} us/op   n={n}")


if __name__ == "__main__":
    main()

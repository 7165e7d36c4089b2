"""Runs scim2-tester (a SCIM 2.0 compliance checker) against a live SCIM root.

Usage: scim_check.py BASE_URL TOKEN DOMAIN. Prints one JSON object per check on stdout:
status, title, reason, resource_type, tags. The Rust test decides what must pass.

The checker fills `userName` with a random UUID; realmgate's userName is the login address
and must be of the tenant's domains (RFC 7643 §4.1.1 leaves its form to the service
provider), so the one change made to the checker is that its random userNames are
addresses of DOMAIN. Every other value and every check are its own.
"""

import json
import sys
import uuid

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
from scim2_tester import filling
from scim2_tester.checkers import patch_add, patch_replace


def with_addresses(domain):
    original = filling.generate_random_value

    def generate(context, path, *args, **kwargs):
        if str(path).lower().endswith("username"):
            return f"{uuid.uuid4()}@{domain}"
        return original(context, path, *args, **kwargs)

    for module in (filling, patch_add, patch_replace):
        module.generate_random_value = generate


def main() -> None:
    base_url, token, domain = sys.argv[1], sys.argv[2], sys.argv[3]
    with_addresses(domain)
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    for result in check_server(SyncSCIMClient(http)):
        print(
            json.dumps(
                {
                    "status": result.status.name,
                    "title": result.title,
                    "reason": result.reason,
                    "resource_type": result.resource_type,
                    "tags": sorted(result.tags),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()

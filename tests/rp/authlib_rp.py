"""A Flask web app signing people in with Authlib's OpenID Connect client: the second
relying party nobody here wrote (tests/authlib_rp.rs drives it). Authlib reads the
discovery document, sends the code flow with PKCE S256, state and nonce, authenticates
with client_secret_post, validates the ID token against the JWKS and calls userinfo.

    ISSUER=http://127.0.0.1:8080 CLIENT_ID=flask-rp CLIENT_SECRET=... PORT=5000 \
        .venv/bin/python tests/rp/authlib_rp.py
"""

import json
import os
import secrets

from authlib.integrations.flask_client import OAuth
from flask import Flask, request, url_for

app = Flask(__name__)
app.secret_key = secrets.token_bytes(32)
oauth = OAuth(app)
oauth.register(
    "realmgate",
    client_id=os.environ["CLIENT_ID"],
    client_secret=os.environ["CLIENT_SECRET"],
    server_metadata_url=os.environ["ISSUER"] + "/.well-known/openid-configuration",
    client_kwargs={
        "scope": "openid email profile",
        "code_challenge_method": "S256",
        "token_endpoint_auth_method": "client_secret_post",
    },
)


@app.route("/login")
def login():
    hint = request.args.get("hint")
    extra = {"login_hint": hint} if hint else {}
    return oauth.realmgate.authorize_redirect(url_for("callback", _external=True), **extra)


@app.route("/cb")
def callback():
    try:
        token = oauth.realmgate.authorize_access_token()
        info = oauth.realmgate.userinfo(token=token)
    except Exception as e:  # the test reads the refusal
        return json.dumps({"error": f"{type(e).__name__}: {e}"}), 400
    return json.dumps({"claims": dict(token["userinfo"]), "userinfo": dict(info)})


if __name__ == "__main__":
    print("READY", flush=True)
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]))

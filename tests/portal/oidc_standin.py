"""A small local OpenID Connect provider standing in for a national single sign-on (OneID), served over real HTTP.

Discovery, the key set, an authorization endpoint that signs in one fixed test user at once (no page: it redirects
back with a code), and a token endpoint that checks the client, the redirect address and the PKCE verifier and
issues an RS256-signed ID token carrying the nonce and the user's PIN. Tests change `pin` (whose PIN the user has)
and `foreign_key` (sign with a key the discovery does not publish) between flows.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from contextlib import contextmanager
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.connectors.transport import live_server

CLIENT_ID = "srsp-portal"
CLIENT_SECRET = "stand-in-secret-0123456789"
SUBJECT = "oneid-test-user-1"


class OidcStandIn:
    def __init__(self, pin: str = ""):
        self.pin = pin
        self.foreign_key = False
        self.key = RSAKey.generate_key(2048, parameters={"kid": "stand-in-1", "use": "sig", "alg": "RS256"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "stand-in-1"})
        self.codes: dict[str, dict] = {}
        self.app = self._build()

    def _issuer(self) -> str:
        return request.host_url.rstrip("/")

    def _build(self) -> Flask:
        app = Flask("oidc_standin")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            issuer = self._issuer()
            return jsonify({
                "issuer": issuer, "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token", "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"], "scopes_supported": ["openid"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize():
            args = request.args
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code" \
                    or args.get("code_challenge_method") != "S256" or not args.get("code_challenge") \
                    or "openid" not in args.get("scope", "").split():
                abort(400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"redirect_uri": args["redirect_uri"], "nonce": args.get("nonce"),
                                "challenge": args["code_challenge"], "pin": self.pin}
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args.get('state', '')})}")

        @app.post("/token")
        def token():
            auth = request.authorization
            if auth is None or auth.username != CLIENT_ID or auth.password != CLIENT_SECRET:
                return jsonify({"error": "invalid_client"}), 401
            grant = self.codes.pop(request.form.get("code", ""), None)
            if grant is None or request.form.get("grant_type") != "authorization_code" \
                    or request.form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify({"error": "invalid_grant"}), 400
            verifier = request.form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["challenge"]:
                return jsonify({"error": "invalid_grant", "error_description": "PKCE"}), 400
            now = int(time.time())
            claims = {"iss": self._issuer(), "sub": SUBJECT, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                      "nonce": grant["nonce"], "pin": grant["pin"]}
            key = self.other_key if self.foreign_key else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "stand-in-1"}, claims, key)
            return jsonify({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                            "id_token": id_token})

        return app


@contextmanager
def serving(standin: OidcStandIn):
    """Serve the stand-in on 127.0.0.1:<free port>; yields its issuer URL."""
    with live_server(standin.app) as base_url:
        yield base_url

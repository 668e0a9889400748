"""A local stand-in for Microsoft Entra ID as the management API sees it: an issuer that serves its OpenID
configuration and JWKS over HTTPS (a certificate from a CA made for the test run, trusted through a CA bundle
file, never by turning verification off) and mints access tokens like Entra's v2 app-only tokens.

Also the hostile tokens the API must refuse: forged, expired, for another audience, signed by an unpublished
key, `alg: none`, and HS256 signed with the issuer's public key as the HMAC secret (alg confusion).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PLATFORM_APP = "11111111-2222-3333-4444-555555555555"
"""The platform backend's application (client) id: what its tokens carry in `azp`."""
AUDIENCE = "api://scim-manage-test"
READ = "Tenants.Read"
WRITE = "Tenants.ReadWrite"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class LocalIssuer:
    """An HTTPS issuer on 127.0.0.1; `published` are the keys its JWKS lists (rotate by changing the list)."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.ca_bundle = directory / "issuer-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_bundle))
        self.key = SigningKey()
        self.published: list[SigningKey] = [self.key]
        self.requests: list[str] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                if self.path.endswith("/.well-known/openid-configuration"):
                    body: dict[str, Any] = {
                        "issuer": issuer.issuer,
                        "jwks_uri": f"{issuer.origin}/tenant/discovery/v2.0/keys",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path.endswith("/discovery/v2.0/keys"):
                    body = {"keys": [key.jwk() for key in issuer.published]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.origin}/00000000-aaaa-bbbb-cccc-000000000000/v2.0"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def environ(self) -> dict[str, str]:
        """The app settings that point the management API at this issuer."""
        return {
            "SCIM_MANAGE_ISSUER": self.issuer,
            "SCIM_MANAGE_AUDIENCE": AUDIENCE,
            "SCIM_MANAGE_CA_BUNDLE": str(self.ca_bundle),
        }

    # -- tokens ----------------------------------------------------------------------------------

    def claims(self, **override: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "azp": PLATFORM_APP,
            "oid": "99999999-0000-0000-0000-000000000001",
            "roles": [WRITE],
            "ver": "2.0",
            "idtyp": "app",
        }
        claims.update(override)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: SigningKey | None = None, **override: Any) -> str:
        """A token as Entra issues it to the platform's app (roles and claims as overridden)."""
        key = key or self.key
        return jwt.encode(self.claims(**override), key.private, algorithm="RS256", headers={"kid": key.kid})

    def forged(self) -> str:
        """The issuer's kid, signed by another key."""
        other = SigningKey()
        return jwt.encode(self.claims(), other.private, algorithm="RS256", headers={"kid": self.key.kid})

    def _unsigned(self, header: dict[str, Any]) -> str:
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(self.claims()).encode())}"

    def alg_none(self) -> str:
        return self._unsigned({"alg": "none", "typ": "JWT", "kid": self.key.kid}) + "."

    def hs256_with_public_key(self) -> str:
        """HS256 whose HMAC secret is the issuer's public key (PEM), the classic alg confusion."""
        signing_input = self._unsigned({"alg": "HS256", "typ": "JWT", "kid": self.key.kid})
        mac = hmac.new(self.key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

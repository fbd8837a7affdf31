"""The client side, for integrators and tests: a key pair with its trust file, and tokens as an EHR would sign them."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from service.errors import SetupError


def new_client(iss: str, folder: Path, kid: str | None = None) -> tuple[Path, Path]:
    """Write an ES384 private key (PEM, mode 600) and a trust file naming its public key for `iss`."""
    folder.mkdir(parents=True, exist_ok=True)
    kid = kid or str(uuid.uuid4())
    private = ec.generate_private_key(ec.SECP384R1())
    key_path = folder / "client-key.pem"
    key_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    public = json.loads(ECAlgorithm.to_jwk(private.public_key())) | {"kid": kid, "use": "sig", "alg": "ES384"}
    trust_path = folder / "trust.json"
    trust_path.write_text(json.dumps({"issuers": [{"iss": iss, "jwks": {"keys": [public]}}]}, indent=2) + "\n")
    return key_path, trust_path


class TokenSigner:
    """Signs one short-lived token per call, for the exact URL called (CDS Hooks 2.0 claims)."""

    def __init__(self, key_path: Path, iss: str, kid: str, algorithm: str = "ES384"):
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SetupError(f"{key_path} holds a {type(key).__name__}: an EC or RSA private key is needed to sign")
        self._key = key
        self._iss, self._kid, self._algorithm = iss, kid, algorithm

    def token(self, url: str) -> str:
        now = int(time.time())
        claims = {"iss": self._iss, "aud": url, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers={"kid": self._kid, "typ": "JWT"})

    @staticmethod
    def kid_of(trust_path: Path) -> str:
        return json.loads(trust_path.read_text())["issuers"][0]["jwks"]["keys"][0]["kid"]

"""Seal a young person's channel address so the database alone cannot tell who a case is.

Fernet (AES-128-CBC with an HMAC-SHA256 tag) under a key derived from `HEALTHBOT_SECRET` with
HKDF-SHA256: the token is opaque, authenticated and different each time.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CONTEXT = b"healthbot/cases/route/v1"


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=CONTEXT).derive(
        secret.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, address: str) -> str:
    """Encrypt and authenticate `address` under a key derived from `secret`."""
    return _fernet(secret).encrypt(address.encode("utf-8")).decode("ascii")


def unseal(secret: str, token: str) -> str | None:
    """Return the sealed address; None for a forged or garbled token or another secret's token."""
    try:
        return _fernet(secret).decrypt(token.encode("utf-8")).decode("utf-8")
    except (InvalidToken, binascii.Error, UnicodeError, ValueError):
        return None

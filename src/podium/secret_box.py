"""Secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key kept
outside the database, so a copy of the database alone reveals nothing.

The key is ``PODIUM_SECRET_KEY`` (a Fernet key: 32 url-safe base64 bytes) or, when that
is not set, the file ``secret.key`` in PODIUM_HOME, created with mode 0600 on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from podium.errors import InternalError, InvalidArgument
from podium.settings import Settings

KEY_FILE = "secret.key"


class SecretBox:
    """Encrypts and decrypts secret values with one key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise InvalidArgument(
                "secret_key: not a valid key; make one with `python -c \"from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"`"
            ) from None

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode())

    def decrypt(self, ciphertext: bytes, ttl_seconds: int | None = None) -> str:
        """The value; with ``ttl_seconds``, only if it was encrypted that recently."""
        try:
            return self._fernet.decrypt(ciphertext, ttl=ttl_seconds).decode()
        except InvalidToken:
            raise InternalError(
                "a stored secret cannot be decrypted with this key: the secret key "
                f"(PODIUM_SECRET_KEY or {KEY_FILE} in PODIUM_HOME) changed since it was stored"
            ) from None


def secret_box(settings: Settings) -> SecretBox:
    """The box for ``settings``: its configured key, or the home's key file (made if new)."""
    configured = settings.extra.get("secret_key")
    if configured:
        return SecretBox(str(configured).encode())
    return SecretBox(_key_file(settings.home / KEY_FILE))


def _key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: of two processes making it at once, one
    # link wins and both use its key; nobody ever reads a half-written file.
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet.generate_key())
    try:
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()
    return path.read_bytes().strip()

"""Keyed fingerprints of secrets: enough to tell whether the audit searched for the password the
build used, and nothing an attacker can reverse or test guesses against without the key.

HMAC-SHA256 with a random key made on first use, kept (mode 600) in the state folder beside the
records it makes comparable; the secrets themselves are never written anywhere.
"""

import hashlib
import hmac
import os
import secrets

from image_tasks.state import store

KEY = store.FOLDER / "fingerprint.key"


def of(values: list[str]) -> list[str]:
    """The fingerprint of each secret, sorted."""
    key = _key()
    return sorted(hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in set(values))


def _key() -> bytes:
    try:
        return KEY.read_bytes()
    except FileNotFoundError:
        pass
    KEY.parent.mkdir(exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        descriptor = os.open(KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another task made it meanwhile
        return KEY.read_bytes()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key

"""The token vault's encryption: MultiFernet over the keys in PORTAL_TOKEN_KEYS.

The first key encrypts; every key decrypts, so a new key can be put first and the old ones
retired after `manage.py rotate_token_keys` has re-encrypted every token.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class TokenUndecryptable(Exception):
    """No configured key can decrypt a stored token (its key was removed or lost)."""


@cache
def _fernet(keys: tuple[str | bytes, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("PORTAL_TOKEN_KEYS is empty: the token vault has no key.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "PORTAL_TOKEN_KEYS must be comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each)."
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.PORTAL_TOKEN_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenUndecryptable from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the first key. Raises TokenUndecryptable if no key can read it."""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenUndecryptable from None

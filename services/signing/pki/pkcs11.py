"""Keys on PKCS#11 tokens (an HSM, or SoftHSM2 in tests) through python-pkcs11.

One logged-in session per token and process, opened with pyHanko's
``open_pkcs11_session`` and shared: python-pkcs11 serializes the operations of a
session, and the PKCS#11 login state belongs to the process, so a second login
would fail with CKR_USER_ALREADY_LOGGED_IN. Writing (key generation, storing a
certificate) uses a short read-write session that reuses that login when there is
one. The PIN comes from the settings and is never logged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11.util.x509 import decode_x509_certificate
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign.pkcs11 import open_pkcs11_session

from services.signing.pki.errors import TokenError
from services.signing.settings import Pkcs11Settings

log = logging.getLogger(__name__)

# Errors after which a cached session is worth replacing by a fresh one.
STALE_SESSION_ERRORS: tuple[type[Exception], ...] = (
    pkcs11.exceptions.SessionHandleInvalid,
    pkcs11.exceptions.SessionClosed,
    pkcs11.exceptions.UserNotLoggedIn,
    pkcs11.exceptions.DeviceRemoved,
    pkcs11.exceptions.TokenNotPresent,
    pkcs11.exceptions.TokenNotRecognised,
)


def key_label(serial_hex: str) -> str:
    return f"lienthong-{serial_hex}"


def key_id(serial: int) -> bytes:
    return serial.to_bytes(20, "big")


def key_ref(token_label: str, label: str) -> str:
    return f"pkcs11:{token_label}/{label}"


def parse_key_ref(ref: str) -> tuple[str, str]:
    """``pkcs11:<token label>/<key label>`` → (token label, key label)."""
    body = ref.removeprefix("pkcs11:")
    token, sep, label = body.rpartition("/")
    if not ref.startswith("pkcs11:") or not sep or not token or not label:
        raise TokenError(f"{ref!r} is not a pkcs11:<token>/<key> reference")
    return token, label


def _describe(error: Exception) -> str:
    return type(error).__name__ + (f": {error}" if str(error) else "")


class TokenSessions:
    """The process's open sessions, one per (library, token label)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sessions: dict[tuple[str, str], pkcs11.Session] = {}

    def session(self, settings: Pkcs11Settings, token_label: str) -> pkcs11.Session:
        """The shared, logged-in session for signing with keys on this token."""
        with self._lock:
            key = (settings.library, token_label)
            session = self._sessions.get(key)
            if session is None:
                pin = _pin(settings, token_label)
                try:
                    session = open_pkcs11_session(
                        settings.library,
                        token_criteria=TokenCriteria(label=token_label),
                        user_pin=pin,
                    )
                except pkcs11.exceptions.UserAlreadyLoggedIn as e:
                    raise TokenError(
                        f"token {token_label!r} is already logged in outside this registry"
                    ) from e
                except Exception as e:
                    raise TokenError(
                        f"cannot open a session on PKCS#11 token {token_label!r} "
                        f"({settings.library}): {_describe(e)}"
                    ) from e
                self._sessions[key] = session
                log.info("opened a PKCS#11 session on token %r", token_label)
            return session

    def reopen(
        self, settings: Pkcs11Settings, token_label: str, stale: pkcs11.Session | None = None
    ) -> pkcs11.Session:
        """Drop a session that stopped working and open a new one (once per failure)."""
        with self._lock:
            key = (settings.library, token_label)
            current = self._sessions.get(key)
            if current is not None and (stale is None or current is stale):
                del self._sessions[key]
                with contextlib.suppress(Exception):
                    current.close()
            return self.session(settings, token_label)

    @contextlib.contextmanager
    def writing(self, settings: Pkcs11Settings, token_label: str) -> Iterator[pkcs11.Session]:
        """A short read-write session, logged in (through the shared login if any)."""
        with self._lock:
            token = _token(settings, token_label)
            logged_in = (settings.library, token_label) in self._sessions
            try:
                if logged_in:
                    session = token.open(rw=True)
                else:
                    session = token.open(rw=True, user_pin=_pin(settings, token_label))
            except Exception as e:
                raise TokenError(
                    f"cannot open a read-write session on token {token_label!r}: {_describe(e)}"
                ) from e
            try:
                yield session
            finally:
                with contextlib.suppress(Exception):
                    session.close()

    def close_all(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                with contextlib.suppress(Exception):
                    session.close()
            self._sessions.clear()


TOKENS = TokenSessions()


def _pin(settings: Pkcs11Settings, token_label: str) -> str:
    if not settings.pin:
        raise TokenError(
            f"no PIN for PKCS#11 token {token_label!r}: set LIENTHONG_PKCS11_PIN_FILE "
            "(or LIENTHONG_PKCS11_PIN)"
        )
    return settings.pin


def _token(settings: Pkcs11Settings, token_label: str) -> pkcs11.Token:
    try:
        return pkcs11.lib(settings.library).get_token(token_label=token_label)
    except Exception as e:
        raise TokenError(
            f"PKCS#11 token {token_label!r} not found in {settings.library}: {_describe(e)}"
        ) from e


def generate_key(
    settings: Pkcs11Settings, token_label: str, label: str, ident: bytes, size: int
) -> rsa.RSAPublicKey:
    """An RSA key pair generated on the token: private, sensitive, never extractable."""
    with TOKENS.writing(settings, token_label) as session:
        try:
            public, _private = session.generate_keypair(
                KeyType.RSA,
                size,
                id=ident,
                label=label,
                store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={Attribute.PUBLIC_EXPONENT: (65537).to_bytes(3, "big")},
                private_template={
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                },
            )
            modulus = int.from_bytes(public[Attribute.MODULUS], "big")
            exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
        except Exception as e:
            raise TokenError(
                f"key generation on token {token_label!r} failed: {_describe(e)}"
            ) from e
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def store_certificate(
    settings: Pkcs11Settings, token_label: str, label: str, ident: bytes, cert: x509.Certificate
) -> None:
    """The certificate beside its key, with the same CKA_ID and CKA_LABEL."""
    attributes = decode_x509_certificate(cert.public_bytes(serialization.Encoding.DER))
    attributes.update(
        {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.ID: ident,
            Attribute.LABEL: label,
        }
    )
    with TOKENS.writing(settings, token_label) as session:
        try:
            session.create_object(attributes)
        except Exception as e:
            raise TokenError(
                f"storing the certificate on token {token_label!r} failed: {_describe(e)}"
            ) from e


def destroy_objects(settings: Pkcs11Settings, token_label: str, label: str) -> None:
    """Best effort cleanup when issuing fails after the key was generated."""
    try:
        with TOKENS.writing(settings, token_label) as session:
            for cls in (ObjectClass.CERTIFICATE, ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                for obj in list(
                    session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label})
                ):
                    obj.destroy()
    except Exception:
        log.warning("could not remove objects %r from token %r", label, token_label, exc_info=True)

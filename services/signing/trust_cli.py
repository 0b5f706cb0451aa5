"""``lienthong trust add|list|remove``: the operator's trust store (``LIENTHONG_TRUST_DIR``).

Every certificate file in the trust directory is a trust anchor of the verifier, beside
our own PKI root (always trusted, never removable here) and the files named by
``LIENTHONG_TRUST_ROOTS`` (managed in the environment, not here). A running service picks
up a change within a few seconds; nothing needs restarting.
"""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from services.signing.pki.trust import (
    OWN_PKI,
    TRUST_DIR,
    Anchor,
    anchors,
)
from services.signing.settings import SigningSettings

MAX_NAME = 64


def _settings() -> SigningSettings:
    return SigningSettings.from_env()


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _read_certificate(path: Path) -> x509.Certificate:
    """The one certificate of a PEM or DER file, or a clear refusal."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise click.ClickException(f"{path} cannot be read: {e}") from e
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise click.ClickException(
            f"{path} is not an X.509 certificate (PEM or DER): {e}. "
            "Give the CA's certificate file (.pem, .crt, .cer or .der)."
        ) from e
    if len(certs) != 1:
        raise click.ClickException(
            f"{path} holds {len(certs)} certificates; add the root certificates one at a time"
        )
    return certs[0]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return bool(ext.value.ca)


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # another key type, a bad signature: not self-signed
        return False
    return True


def _safe_name(text: str) -> str:
    """A file name stem from a subject or ``--name``: ASCII letters, digits, ``.-_``."""
    text = text.replace("Đ", "D").replace("đ", "d")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-._").lower()
    return stem[:MAX_NAME].rstrip("-._")


def _default_name(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = cns[0].value if cns else cert.subject.rfc4514_string()
    return str(value)


def _describe(cert: x509.Certificate) -> list[str]:
    return [
        f"  subject    {cert.subject.rfc4514_string()}",
        f"  issuer     {cert.issuer.rfc4514_string()}",
        f"  sha256     {_fingerprint(cert)}",
        f"  valid      {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}",
    ]


@click.group()
def trust() -> None:
    """The trust store: the roots signatures are verified against (LIENTHONG_TRUST_DIR)."""


@trust.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="File name in the trust store (default: from the CN).")
def trust_add(file: Path, name: str | None) -> None:
    """Trust the CA certificate in FILE (PEM or DER): copy it, as PEM, to the trust store.

    Check its SHA-256 fingerprint against the one its issuer publishes first."""
    settings = _settings()
    cert = _read_certificate(file)
    if not _is_ca(cert):
        raise click.ClickException(
            f"{file} is not a CA certificate (basicConstraints cA is not true): "
            "only a CA's certificate can be a trust anchor"
        )
    fp = _fingerprint(cert)
    for anchor in anchors(settings):
        if anchor.fingerprint == fp:
            click.echo(f"already trusted ({anchor.source}, {anchor.path}):", err=True)
            click.echo("\n".join(_describe(cert)))
            return
    stem = _safe_name(name if name is not None else _default_name(cert))
    if not stem:
        stem = f"root-{fp[:16]}"
    target = settings.trust_dir / f"{stem}.pem"
    if target.exists():
        raise click.ClickException(
            f"{target} exists and holds another certificate; choose a file name with --name"
        )
    if not _self_signed(cert):
        click.echo(
            f"warning: the certificate is not self-signed (issued by "
            f"{cert.issuer.rfc4514_string()}); it is trusted as it is, without its issuer",
            err=True,
        )
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        click.echo("warning: the certificate has expired", err=True)
    elif cert.not_valid_before_utc > now:
        click.echo("warning: the certificate is not valid yet", err=True)
    try:
        settings.trust_dir.mkdir(parents=True, exist_ok=True)
        tmp = settings.trust_dir / f".{stem}.pem.tmp"
        tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        tmp.chmod(0o644)
        os.replace(tmp, target)
    except OSError as e:
        raise click.ClickException(f"cannot write {target}: {e}") from e
    click.echo(f"trusted: {target}", err=True)
    click.echo("\n".join(_describe(cert)))


@trust.command("list")
def trust_list() -> None:
    """Every trust anchor: source, subject, SHA-256 fingerprint, not-after."""
    settings = _settings()
    found = anchors(settings)
    click.echo(f"trust store: {settings.trust_dir}", err=True)
    if not found:
        click.echo(
            "no trust anchors (run `lienthong pki init`, or `lienthong trust add`)", err=True
        )
    for anchor in found:
        where = f"  ({anchor.path.name})" if anchor.source == TRUST_DIR else ""
        click.echo(
            f"{anchor.source:21}  {anchor.fingerprint}  "
            f"until {anchor.cert.not_valid_after_utc:%Y-%m-%d}  "
            f"{anchor.cert.subject.rfc4514_string()}{where}"
        )


def _matches(anchor: Anchor, wanted: str) -> bool:
    hexed = wanted.replace(":", "").lower()
    if re.fullmatch(r"[0-9a-f]{16,64}", hexed) and anchor.fingerprint.startswith(hexed):
        return True
    path = anchor.path
    return wanted in (path.name, path.stem) or _safe_name(wanted) == path.stem


@trust.command("remove")
@click.argument("which", metavar="FINGERPRINT|NAME")
def trust_remove(which: str) -> None:
    """Stop trusting a root of the trust store, named by its SHA-256 fingerprint (or its
    first 16 hex digits at least) or its file name. Our own root cannot be removed."""
    settings = _settings()
    found = [a for a in anchors(settings) if _matches(a, which)]
    if not found:
        raise click.ClickException(
            f"no trust anchor matches {which!r} (see `lienthong trust list`)"
        )
    elsewhere = [a for a in found if a.source != TRUST_DIR]
    if elsewhere:
        a = elsewhere[0]
        if a.source == OWN_PKI:
            raise click.ClickException("our own PKI root is always trusted; it cannot be removed")
        raise click.ClickException(
            f"{a.cert.subject.rfc4514_string()} comes from {a.source} ({a.path}); "
            "remove it from that setting instead"
        )
    files = sorted({a.path for a in found})
    if len(files) > 1:
        raise click.ClickException(
            f"{which!r} matches {len(files)} files ({', '.join(f.name for f in files)}); "
            "give the full fingerprint"
        )
    path = files[0]
    in_file = [a for a in anchors(settings) if a.path == path]
    if len(in_file) > 1 and len(found) < len(in_file):
        raise click.ClickException(
            f"{path} holds {len(in_file)} certificates; edit it, or remove it by its name"
        )
    try:
        path.unlink()
    except OSError as e:
        raise click.ClickException(f"cannot remove {path}: {e}") from e
    click.echo(f"removed: {path}", err=True)
    for anchor in found:
        click.echo("\n".join(_describe(anchor.cert)))


def register(group: click.Group) -> None:
    group.add_command(trust)

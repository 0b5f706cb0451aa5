"""The ``lienthong pki`` commands: create the CAs, issue, revoke and list certificates."""

from __future__ import annotations

import click

from services.common.db import Database
from services.signing.pki import issuing, lookup, names, revoking
from services.signing.pki.ca import init_pki
from services.signing.pki.certificates import fingerprint
from services.signing.settings import SigningSettings


def _settings() -> SigningSettings:
    return SigningSettings.from_env()


def _db(settings: SigningSettings) -> Database:
    return Database(settings.database_url)


@click.group()
def pki() -> None:
    """The internal PKI: root and issuing CA, TSA, OCSP, document-signing certificates."""


@pki.command("init")
@click.option(
    "--force", is_flag=True, help="Replace an existing PKI (earlier certificates stop chaining)."
)
def pki_init(force: bool) -> None:
    """Create the root CA, the issuing CA, the TSA and the OCSP responder certificates."""
    settings = _settings()
    result = init_pki(settings, force=force)
    material = result.material
    if result.created:
        click.echo(f"created the PKI in {settings.pki_dir}", err=True)
    else:
        click.echo(
            f"the PKI in {settings.pki_dir} exists; left as it is (--force replaces it)", err=True
        )
    for label, cert in (
        ("root", material.root_cert),
        ("issuing", material.issuing_cert),
        ("tsa", material.tsa_cert),
        ("ocsp", material.ocsp_cert),
    ):
        click.echo(
            f"  {label:8} {cert.subject.rfc4514_string()}"
            f"  until {cert.not_valid_after_utc:%Y-%m-%d}  sha256 {fingerprint(cert)}",
            err=True,
        )


@pki.command("issue")
@click.option("--agency", required=True, help="Agency code (mã định danh).")
@click.option("--kind", required=True, type=click.Choice(names.KINDS))
@click.option("--name", "name", required=True, help="Agency name, or the person's name.")
@click.option("--organization", default=None, help="O= for a personal certificate.")
@click.option("--title", default=None, help="The person's position (title=).")
@click.option("--days", default=names.END_ENTITY_DAYS, show_default=True, type=int)
@click.option("--pkcs11", "use_pkcs11", is_flag=True, help="Generate the key on the PKCS#11 token.")
@click.option("--token", default=None, help="Token label (default LIENTHONG_PKCS11_TOKEN).")
def pki_issue(
    agency: str,
    kind: str,
    name: str,
    organization: str | None,
    title: str | None,
    days: int,
    use_pkcs11: bool,
    token: str | None,
) -> None:
    """Issue a document-signing certificate; prints its serial (hex) on stdout."""
    settings = _settings()
    record = issuing.issue(
        _db(settings),
        settings,
        agency=agency,
        kind=kind,
        name=name,
        organization=organization,
        title=title,
        days=days,
        pkcs11=use_pkcs11,
        token_label=token,
    )
    click.echo(record.serial)
    click.echo(
        f"issued {record.kind} certificate for {record.agency_code}: {record.subject}\n"
        f"  valid {record.not_before:%Y-%m-%d} to {record.not_after:%Y-%m-%d}, "
        f"key {record.key_ref}",
        err=True,
    )


@pki.command("revoke")
@click.argument("serial")
@click.option(
    "--reason",
    default="unspecified",
    show_default=True,
    help="keyCompromise, affiliationChanged, superseded, cessationOfOperation, ...",
)
def pki_revoke(serial: str, reason: str) -> None:
    """Revoke a certificate: the CRL and the OCSP responder say so at once."""
    settings = _settings()
    record = revoking.revoke(_db(settings), serial, reason)
    click.echo(
        f"revoked {record.serial} ({record.revocation_reason}) at {record.revoked_at}", err=True
    )


@pki.command("list")
@click.option("--agency", default=None)
@click.option("--kind", default=None, type=click.Choice(names.KINDS))
@click.option("--current", is_flag=True, help="Only the current certificate of each holder.")
def pki_list(agency: str | None, kind: str | None, current: bool) -> None:
    """List issued certificates, one per line (tab-separated)."""
    settings = _settings()
    records = lookup.list_certificates(_db(settings), agency, kind, current_only=current)
    for r in records:
        state = r.status + (" current" if r.is_current else "")
        click.echo(
            f"{r.serial}\t{r.agency_code}\t{r.kind}\t{r.name}\t{state}\t"
            f"{r.not_after:%Y-%m-%d}\t{r.key_ref}"
        )
    click.echo(f"{len(records)} certificate(s)", err=True)


def register(group: click.Group) -> None:
    group.add_command(pki)

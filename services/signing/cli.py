"""Signing's commands: sign a file, register appearance images, seed the demo PKI."""

from __future__ import annotations

from pathlib import Path

import click
from pyhanko.sign.signers import Signer

from services.common.errors import ValidationFailed
from services.common.wiring import context_of
from services.signing.appearance import Box, Profile
from services.signing.context import SigningContext
from services.signing.pades import Level
from services.signing.pki.cli import pki
from services.signing.settings import SigningSettings
from services.signing.signing_service import SignerIdentity, SigningService, SignOptions


def _signing_context() -> SigningContext:
    from services.signing.app import create_app

    return context_of(create_app(SigningSettings.from_env()), SigningContext)


def _box(text: str | None) -> Box | None:
    if text is None:
        return None
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError as e:
        raise click.BadParameter("--box is x1,y1,x2,y2 in PDF points") from e
    return Box(x1, y1, x2, y2)


class Pkcs12Keys:
    """A KeySource for `--cert file.p12`: one certificate, whatever is asked."""

    def __init__(self, path: Path, password: str | None) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import pkcs12
        from pyhanko.sign.signers import SimpleSigner

        data = path.read_bytes()
        signer = SimpleSigner.load_pkcs12(
            str(path), passphrase=password.encode() if password else None
        )
        if signer is None:
            raise ValidationFailed(f"{path} cannot be opened (wrong password?)")
        loaded = pkcs12.load_pkcs12(data, password.encode() if password else None)
        assert loaded.cert is not None
        cert: x509.Certificate = loaded.cert.certificate

        def attribute(oid: x509.ObjectIdentifier) -> str | None:
            found = cert.subject.get_attributes_for_oid(oid)
            return str(found[0].value) if found else None

        common_name = attribute(x509.NameOID.COMMON_NAME) or cert.subject.rfc4514_string()
        self._signer = signer
        self._identity = SignerIdentity(
            serial=format(cert.serial_number, "x"),
            subject=cert.subject.rfc4514_string(),
            organization=attribute(x509.NameOID.ORGANIZATION_NAME) or common_name,
            common_name=common_name,
        )

    def signer(self, agency: str, kind: str, name: str | None) -> tuple[Signer, SignerIdentity]:
        return self._signer, self._identity


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--profile", required=True, type=click.Choice([p.value for p in Profile]))
@click.option("--level", default="B-LT", show_default=True, help="B-B, B-T, B-LT or B-LTA")
@click.option("--agency", default="", help="Sign with this agency's current certificate.")
@click.option("--person", default=None, help="The certificate holder, for --profile personal.")
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Sign with this PKCS#12 file instead of --agency.",
)
@click.option(
    "--cert-password",
    envvar="LIENTHONG_CERT_PASSWORD",
    default=None,
    help="The PKCS#12 password (or LIENTHONG_CERT_PASSWORD).",
)
@click.option("--signer-name", default=None, help="The name printed on the page, if different.")
@click.option("--page", type=int, default=None, help="Page (from 1) for an explicit --box.")
@click.option("--box", default=None, help="x1,y1,x2,y2 in PDF points (needs --page).")
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A seal/signature PNG instead of the registered one.",
)
@click.option("--reason", default=None)
@click.option("--location", default=None)
def sign(
    source: Path,
    output: Path,
    profile: str,
    level: str,
    agency: str,
    person: str | None,
    cert: Path | None,
    cert_password: str | None,
    signer_name: str | None,
    page: int | None,
    box: str | None,
    image: Path | None,
    reason: str | None,
    location: str | None,
) -> None:
    """Sign a PDF with a Decree 30 profile at a PAdES level."""
    if not agency and cert is None:
        raise click.UsageError("give --agency (its current certificate) or --cert FILE.p12")
    if box is not None and page is None:
        raise click.UsageError("--box needs --page")
    context = _signing_context()
    service = context.signing
    if cert is not None:
        service = SigningService(
            context.db,
            context.store,
            service.engine,
            Pkcs12Keys(cert, cert_password),
            context.spool_dir,
        )
    options = SignOptions(
        profile=Profile(profile),
        level=Level.parse(level),
        agency=agency,
        person=person,
        signer_full_name=signer_name,
        page=page,
        box=_box(box),
        reason=reason,
        location=location,
        image_png=image.read_bytes() if image else None,
    )
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as out:
            result = service.sign_file(source, out, options)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(
        f"signed {result.field_name} ({result.profile.value}, {result.level.value}) "
        f"as {result.identity.subject}: {output}",
        err=True,
    )


@pki.command("images")
@click.option("--agency", required=True)
@click.option(
    "--seal",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The agency's seal: a red, transparent PNG at real size.",
)
@click.option("--person", default=None, help="The leader whose signature image this is.")
@click.option(
    "--signature",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The leader's handwritten signature: a blue, transparent PNG.",
)
def images(agency: str, seal: Path | None, person: str | None, signature: Path | None) -> None:
    """Register an agency's seal image or a leader's signature image."""
    if seal is None and signature is None:
        raise click.UsageError("give --seal PNG, or --person NAME --signature PNG")
    if signature is not None and not person:
        raise click.UsageError("--signature needs --person")
    service = _signing_context().signing
    if seal is not None:
        row = service.register_image(agency, "seal", seal.read_bytes())
        click.echo(f"seal of {agency}: {row.width_mm:.1f} × {row.height_mm:.1f} mm", err=True)
    if signature is not None:
        row = service.register_image(agency, "signature", signature.read_bytes(), person)
        click.echo(f"signature of {person}: {row.width_mm:.1f} × {row.height_mm:.1f} mm", err=True)


def seed_demo(agencies: list[tuple[str, str]], leader: str, leader_title: str) -> None:
    """Demo signing material: the PKI, an organization certificate and a seal for each
    agency, and for the first one its leader's personal certificate and signature."""
    from services.signing.images import draw_seal, draw_signature
    from services.signing.pki import issuing, lookup
    from services.signing.pki.ca import init_pki, pki_exists

    context = _signing_context()
    settings, db, service = context.settings, context.db, context.signing
    if not pki_exists(settings):
        init_pki(settings)
    for index, (code, name) in enumerate(agencies):
        if lookup.current_certificate(db, code, "organization", None) is None:
            issuing.issue(db, settings, agency=code, kind="organization", name=name)
        if not _has_image(service, code, "seal"):
            service.register_image(code, "seal", draw_seal(name, code))
        if index == 0:
            if lookup.current_certificate(db, code, "personal", leader) is None:
                issuing.issue(
                    db,
                    settings,
                    agency=code,
                    kind="personal",
                    name=leader,
                    organization=name,
                    title=leader_title,
                )
            if not _has_image(service, code, "signature", leader):
                service.register_image(code, "signature", draw_signature(leader), leader)
    click.echo(
        f"  Signing: PKI ready; organization certificates and seals for "
        f"{len(agencies)} agencies; personal certificate and signature of {leader} "
        f"({agencies[0][0]})"
    )


def _has_image(signing: SigningService, agency: str, kind: str, person: str | None = None) -> bool:
    from services.common.errors import NotFound

    try:
        signing.current_image(agency, kind, person)
        return True
    except NotFound:
        return False


def register(group: click.Group) -> None:
    group.add_command(sign)

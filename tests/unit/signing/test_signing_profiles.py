"""Every Decree 30 profile at every PAdES level, signed through SigningService.sign_file
on a PKI made for the test session, judged by our verifier and looked at once rendered
(poppler's pdftoppm): a stamp nobody can see is a failure too."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from services.common.contract import Verdict
from services.signing.appearance import Box, Profile
from services.signing.arrival import summarize
from services.signing.pades import Level
from services.signing.pdfinfo import SignatureWidget, signature_widgets
from services.signing.pdftext import read_page
from services.signing.signing_service import SignedFile
from services.signing.verification import VerificationReport
from testkit.infra import unavailable
from tests.unit.signing.kit import LEADER, ORGANIZATION, SigningKit

LEVELS = list(Level)
PROFILES = list(Profile)
FIELDS = {
    Profile.PERSONAL: ["personal-1"],
    Profile.ORGANIZATION: ["personal-1", "organization-2"],
    Profile.COPY: ["copy-1"],
    Profile.ATTACHMENT: ["attachment-1"],
}
DPI = 72  # one pixel per point


@dataclass(frozen=True)
class SignedSet:
    level: Level
    files: dict[Profile, Path]
    results: dict[Profile, SignedFile]


@pytest.fixture(scope="module", params=LEVELS, ids=[level.value for level in LEVELS])
def signed(request: pytest.FixtureRequest, kit: SigningKit) -> SignedSet:
    """The letter signed with each profile at one level (the seal over the personal one)."""
    level: Level = request.param
    letter = kit.letter()
    files: dict[Profile, Path] = {}
    results: dict[Profile, SignedFile] = {}
    for profile, source in (
        (Profile.PERSONAL, letter),
        (Profile.ORGANIZATION, None),
        (Profile.COPY, letter),
        (Profile.ATTACHMENT, letter),
    ):
        files[profile], results[profile] = kit.sign(
            source or files[Profile.PERSONAL],
            profile,
            level,
            document_code="15/UBND-VP" if profile is Profile.ATTACHMENT else None,
        )
    return SignedSet(level, files, results)


@pytest.fixture(scope="module")
def reports(kit: SigningKit) -> Callable[[Path], VerificationReport]:
    verifier = kit.verifier()
    cache: dict[Path, VerificationReport] = {}

    def report(path: Path) -> VerificationReport:
        if path not in cache:
            cache[path] = verifier.verify(path)
        return cache[path]

    return report


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
def test_each_profile_verifies_at_its_level(
    signed: SignedSet, profile: Profile, reports: Callable[[Path], VerificationReport]
) -> None:
    report = reports(signed.files[profile])
    assert report.verdict == Verdict.VALID, report.reasons
    assert [s.field_name for s in report.signatures] == FIELDS[profile]
    assert signed.results[profile].field_name == FIELDS[profile][-1]
    assert signed.results[profile].level is signed.level
    for signature in report.signatures:
        assert signature.verdict == Verdict.VALID, (signature.field_name, signature.reasons)
        assert signature.pades_level == signed.level.value, signature.field_name
        assert signature.trusted and signature.intact and signature.crypto_valid
        assert signature.visible is True
    last = report.signatures[-1]
    assert last.signer is not None
    expected_signer = LEADER if profile is Profile.PERSONAL else ORGANIZATION
    assert last.signer.common_name == expected_signer
    assert last.signer.organization == ORGANIZATION
    if signed.level is Level.B_B:
        assert last.timestamp is None
    else:
        assert last.timestamp is not None and last.timestamp.trusted
    if signed.level in (Level.B_LT, Level.B_LTA):
        assert {r.source for r in last.revocation if r.status == "good"} == {"dss"}
    assert len(report.document_timestamps) == (
        len(FIELDS[profile]) if signed.level is Level.B_LTA else 0
    )


def test_the_personal_signature_stays_valid_under_the_seal(
    signed: SignedSet, reports: Callable[[Path], VerificationReport]
) -> None:
    report = reports(signed.files[Profile.ORGANIZATION])
    personal, organization = report.signatures
    assert personal.verdict == organization.verdict == Verdict.VALID, report.reasons
    assert personal.coverage == "entire_revision"
    assert "organization-2" in personal.changed_form_fields
    assert personal.modification_level in ("FORM_FILLING", "LTA_UPDATES")
    assert organization.coverage == (
        "entire_file" if signed.level in (Level.B_B, Level.B_T) else "entire_revision"
    )


def test_only_the_seal_counts_as_the_organization_signature(
    signed: SignedSet, reports: Callable[[Path], VerificationReport]
) -> None:
    """What verify-on-arrival tells routing's ledger: CN = O marks an organization."""
    assert summarize(reports(signed.files[Profile.PERSONAL]))["organization_signed"] is False
    sealed = summarize(reports(signed.files[Profile.ORGANIZATION]))
    assert sealed["organization_signed"] is True
    assert sealed["signature_count"] == 2
    assert summarize(reports(signed.files[Profile.COPY]))["organization_signed"] is True


# --- what the page shows ---------------------------------------------------------------------


def _render(pdf: Path, out_dir: Path) -> Image.Image:
    if shutil.which("pdftoppm") is None:
        unavailable("poppler's pdftoppm")
    prefix = out_dir / pdf.stem
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(DPI), "-f", "1", "-l", "1", "-singlefile", str(pdf), prefix],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with Image.open(f"{prefix}.png") as image:
        return image.convert("RGB")


def _pixels(image: Image.Image, box: Box, page_height: float) -> list[tuple[int, int, int]]:
    scale = DPI / 72
    crop = (
        round(box.x1 * scale),
        round((page_height - box.y2) * scale),
        round(box.x2 * scale),
        round((page_height - box.y1) * scale),
    )
    data = image.crop(crop).tobytes()  # RGB, three bytes a pixel
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]


def is_blue(p: tuple[int, int, int]) -> bool:
    return p[2] > 110 and p[2] - p[0] > 60 and p[2] - p[1] > 40


def is_red(p: tuple[int, int, int]) -> bool:
    return p[0] > 150 and p[0] - p[1] > 80 and p[0] - p[2] > 80


def is_dark(p: tuple[int, int, int]) -> bool:
    return max(p) < 110


def _widget(path: Path, name: str) -> SignatureWidget:
    _pages, widgets = signature_widgets(path)
    return next(w for w in widgets if w.field_name == name)


@pytest.fixture(scope="module")
def rendered_letter(kit: SigningKit, tmp_path_factory: pytest.TempPathFactory) -> Image.Image:
    return _render(kit.letter(), tmp_path_factory.mktemp("render-letter"))


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
def test_each_profile_shows_on_the_page(
    signed: SignedSet,
    profile: Profile,
    kit: SigningKit,
    rendered_letter: Image.Image,
    tmp_path: Path,
) -> None:
    path = signed.files[profile]
    page = read_page(kit.letter())
    height = page.box.y2
    widget = _widget(path, FIELDS[profile][-1])
    assert widget.page == 0
    assert widget.box.inside(page.box)
    image = _render(path, tmp_path)
    before = _pixels(rendered_letter, widget.box, height)
    after = _pixels(image, widget.box, height)
    box = widget.box

    if profile is Profile.PERSONAL:
        assert not any(is_blue(p) for p in before)
        assert sum(map(is_blue, after)) > 0.02 * len(after), "no blue signature drawn"
        assert [line.text for line in page.lines if box.overlaps(line.box)] == []
    elif profile is Profile.ORGANIZATION:
        seal = Box(box.x1, box.y2 - box.width, box.x2, box.y2)  # a round seal on top
        caption = Box(box.x1, box.y1, box.x2, box.y2 - box.width)
        under = _render(signed.files[Profile.PERSONAL], tmp_path)  # before the seal
        in_seal = _pixels(image, seal, height)
        assert sum(map(is_red, in_seal)) > 0.05 * len(in_seal), "no red seal drawn"
        assert not any(is_red(p) for p in _pixels(under, seal, height))
        text_before = sum(map(is_dark, _pixels(under, caption, height)))
        text_after = sum(map(is_dark, _pixels(image, caption, height)))
        assert text_after > text_before + 40, "no caption drawn"
        personal = _widget(path, "personal-1").box
        assert box.overlaps(personal) and box.x2 < personal.centre_x  # the left third
        # the personal signature still shows beside the seal
        assert any(is_blue(p) for p in _pixels(image, personal, height))
    else:
        assert not any(is_dark(p) for p in before)
        assert sum(map(is_dark, after)) > 0.02 * len(after), "no stamp text drawn"
        assert box.y2 > page.box.y2 - 30 * 72 / 25.4  # at the top of the page
        assert box.x2 > page.box.x2 - 15 * 72 / 25.4  # on the right
        assert [line.text for line in page.lines if box.overlaps(line.box)] == []

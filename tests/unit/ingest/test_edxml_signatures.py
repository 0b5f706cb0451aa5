"""edXML signatures through ingest's API: verified on the way in (by the signing
service's code, under a throwaway CA), recorded and answered, refused under the agency's
policy; packages signed on the way out; what happens when signing cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.errors import Unavailable
from services.ingest.models import Document
from tests.unit.ingest.edxml_kit import (
    EdxmlIngest,
    SigningPki,
    edx,
    make_ingest,
    sample,
    sign_as,
    test_pki,
)
from tests.unit.ingest.test_api import RECIPIENT, SENDER, THIRD, assert_problem, metadata
from tests.unit.ingest.test_edxml_api import SIGNATURE, package_of, status_of

__all__ = ["edx", "test_pki"]  # the fixtures, found here by pytest


def test_a_valid_signature_is_recorded(edx: EdxmlIngest, test_pki: SigningPki) -> None:
    body = sign_as(test_pki, SENDER, package_of(slot=True))
    answer = edx.post_package(body).get_json()
    signature = answer["signature"]
    assert signature["verdict"] == "valid"
    assert signature["organization"] == "UBND tỉnh Quảng Ninh"
    doc = edx.client.get(f"/v1/documents/{answer['id']}", headers=edx.auth(SENDER)).get_json()
    assert doc["package_signature"]["verdict"] == "valid"


def test_an_invalid_signature_is_reported_and_refused_under_the_policy(
    edx: EdxmlIngest, test_pki: SigningPki
) -> None:
    tampered = sign_as(test_pki, SENDER, package_of(slot=True)).replace(
        "Về việc".encode(), "Về viec".encode()
    )
    answer = edx.post_package(tampered, key="k1").get_json()
    assert answer["signature"]["verdict"] == "invalid"
    untrusted = edx.post_package(sign_as(test_pki, None, package_of(slot=True)), key="k2")
    assert untrusted.get_json()["signature"]["verdict"] == "indeterminate"

    policy = edx.client.put(
        "/v1/edxml/policy", json={"require_signed_packages": True}, headers=edx.auth(SENDER)
    )
    assert policy.get_json() == {"agency": SENDER, "require_signed_packages": True}
    before = edx.count(Document)
    for body in (tampered, package_of(), sign_as(test_pki, None, package_of(slot=True))):
        problem = assert_problem(edx.post_package(body, key="k3"), 422, "edxml_refused")
        assert problem["element"] == SIGNATURE
    assert edx.count(Document) == before
    good = edx.post_package(sign_as(test_pki, SENDER, package_of(slot=True)), key="k4")
    assert good.status_code == 201


def test_emitted_packages_are_signed_with_the_organization_certificate(
    edx: EdxmlIngest, tmp_path: Path
) -> None:
    answer = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    delivery = edx.deliver(answer)
    signed = edx.client.get(
        f"/v1/documents/{answer['id']}/edxml?signed=1", headers=edx.auth(SENDER)
    )
    assert signed.status_code == 200
    path = tmp_path / "signed.xml"
    path.write_bytes(signed.data)
    assert edx.signatures.verify(path)["verdict"] == "valid"
    forbidden = edx.client.get(
        f"/v1/documents/{answer['id']}/edxml?signed=1", headers=edx.auth(RECIPIENT)
    )
    assert_problem(forbidden, 403)
    edx.post_package(status_of("03"), agency=RECIPIENT)
    status = edx.client.get(
        f"/v1/deliveries/{delivery}/status.edxml?signed=1", headers=edx.auth(RECIPIENT)
    )
    path.write_bytes(status.data)
    check = edx.signatures.verify(path)
    assert (check["verdict"], check["organization"]) == ("valid", "Văn phòng Chính phủ")
    # A signed package posts back like any other, its signature verified on the way in.
    reposted = edx.post_package(signed.data, key="again").get_json()
    assert reposted["signature"]["verdict"] == "valid"


def test_the_policy_from_the_command_line(edx: EdxmlIngest) -> None:
    from click.testing import CliRunner

    from services.ingest.cli import agencies

    env = {"LIENTHONG_DATA_DIR": str(edx.data_dir), "LIENTHONG_BROKER_URL": "memory://"}
    result = CliRunner().invoke(agencies, ["signed-packages", SENDER, "--require"], env=env)
    assert result.exit_code == 0, result.output
    answer = edx.client.get("/v1/edxml/policy", headers=edx.auth(SENDER)).get_json()
    assert answer["require_signed_packages"] is True
    problem = assert_problem(edx.post_package(package_of()), 422)
    assert problem["element"] == SIGNATURE
    CliRunner().invoke(agencies, ["signed-packages", SENDER, "--allow-unsigned"], env=env)
    assert edx.post_package(package_of()).status_code == 201


@dataclass
class SigningDown:
    """The signing service's XML-DSig API when it cannot be reached."""

    def verify(self, package: Path) -> dict[str, Any]:
        raise Unavailable("the signing service cannot be reached: connection refused")

    def sign(self, agency: str, package: bytes) -> bytes:
        raise Unavailable("the signing service cannot be reached: connection refused")


def test_when_signing_is_down_a_signed_package_travels_unless_the_policy_requires(
    tmp_path: Path, test_pki: SigningPki
) -> None:
    edx = make_ingest(tmp_path, test_pki, signatures=SigningDown())
    try:
        body = sign_as(test_pki, SENDER, package_of(slot=True))
        answer = edx.post_package(body, key="down-1").get_json()
        assert answer["signature"]["verdict"] == "indeterminate"
        assert "could not be checked" in answer["signature"]["reasons"][0]
        edx.client.put(
            "/v1/edxml/policy", json={"require_signed_packages": True}, headers=edx.auth(SENDER)
        )
        assert_problem(edx.post_package(body, key="down-2"), 503)
        assert edx.count(Document) == 1 and edx.spooled_files() == []
    finally:
        edx.ctx.db.dispose()


def test_a_package_from_another_agency_is_refused_before_its_signature_is_checked(
    edx: EdxmlIngest, test_pki: SigningPki
) -> None:
    body = sign_as(
        test_pki,
        SENDER,
        package_of({**metadata(RECIPIENT), "From": {"OrganId": SENDER}}, slot=True),
    )
    problem = assert_problem(edx.post_package(body, agency=THIRD), 403)
    assert problem["element"].endswith("MessageHeader/From/OrganId")
    assert edx.signatures.verified == []  # the signing service was not asked

"""Hostile input at ingest's API answers 4xx and stores nothing: deep, non-finite,
non-UTF-8 or NUL-bearing metadata, dates out of range, oversize metadata parts, PDFs
that claim absurd page counts, out-of-range query numbers, and unbounded status parts.
A status routing has committed is answered as a success, whatever follows it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from services.common.contract import Status
from services.ingest.models import BUS
from tests.unit.ingest.hostile import deep_json, deep_value, pdf_with_count
from tests.unit.ingest.test_api import (
    RECIPIENT,
    SENDER,
    SMALL_PDF,
    Ingest,
    _dispatch,
    _inbox,
    _report,
    assert_nothing_stored,
    assert_problem,
    ingest,  # the fixture, shared with the API tests
    metadata,
    post_document,
)

__all__ = ["ingest"]


def _meta_text(**changes: str) -> str:
    """Metadata as JSON text with some values replaced by raw JSON (e.g. Infinity)."""
    text = json.dumps(metadata(RECIPIENT))
    for placeholder, raw in changes.items():
        text = text.replace(json.dumps(placeholder), raw)
    return text


def _refused(ingest: Ingest, meta: Any, status: int = 422, pdf: bytes | None = None) -> None:
    before = ingest.count(BUS.outbox)
    response = post_document(ingest, pdf or SMALL_PDF.read_bytes(), meta)
    assert_problem(response, status)
    assert_nothing_stored(ingest, before)


def test_metadata_nested_10000_deep_is_422(ingest: Ingest) -> None:
    _refused(ingest, '{"To": ' + deep_json(10_000) + "}")
    _refused(ingest, deep_json(10_000, leaf="{}", key="Subject"))


def test_metadata_nested_past_the_depth_limit_is_422(ingest: Ingest) -> None:
    meta = metadata(RECIPIENT)
    meta["OtherInfo"] = deep_value(40)
    _refused(ingest, meta)


@pytest.mark.parametrize("field", ["Priority", "PromulgationAmount"])
@pytest.mark.parametrize("raw", ["Infinity", "-Infinity", "NaN", "1e400", "9" * 5000])
def test_non_finite_or_huge_numbers_are_422(ingest: Ingest, raw: str, field: str) -> None:
    meta = metadata(RECIPIENT)
    meta["OtherInfo"] = {"Priority": 1, field: "NUMBER"}  # PromulgationAmount: not checked
    text = json.dumps(meta).replace('"NUMBER"', raw)
    _refused(ingest, text)


@pytest.mark.parametrize("field", ["Subject", "CodeNumber"])
@pytest.mark.parametrize("raw", ['"\\ud800"', '"a\\udfffb"', '"12\\u0000"'])
def test_lone_surrogates_and_nul_are_422(ingest: Ingest, field: str, raw: str) -> None:
    meta = metadata(RECIPIENT)
    if field == "Subject":
        meta["Subject"] = "PLACEHOLDER"
    else:
        meta["Code"]["CodeNumber"] = "PLACEHOLDER"
    _refused(ingest, json.dumps(meta).replace('"PLACEHOLDER"', raw))


def test_a_metadata_file_part_with_invalid_utf8_is_422(ingest: Ingest) -> None:
    before = ingest.count(BUS.outbox)
    raw = json.dumps(metadata(RECIPIENT)).encode().replace(b"UBND-VP", b"UBND-\xff")
    response = _post_metadata_file(ingest, raw)
    assert_problem(response, 422)
    assert_nothing_stored(ingest, before)


def test_a_metadata_form_field_with_invalid_utf8_is_422(ingest: Ingest) -> None:
    """The same bytes as a plain form field (no filename), which the form parser would
    otherwise decode with replacement characters and store."""
    before = ingest.count(BUS.outbox)
    raw = json.dumps(metadata(RECIPIENT)).encode().replace(b"UBND-VP", b"UBND-\xff")
    boundary = "lt-boundary-7d1"
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n',
            b"Content-Type: application/pdf\r\n\r\n",
            SMALL_PDF.read_bytes(),
            f"\r\n--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="metadata"\r\n\r\n',
            raw,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    response = ingest.client.post(
        "/v1/documents",
        data=body,
        headers=ingest.auth(SENDER),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert_problem(response, 422)
    assert_nothing_stored(ingest, before)


@pytest.mark.parametrize("day", ["0001/01/01", "0999-12-31", "1899/12/31", "2100/01/01"])
def test_promulgation_dates_out_of_range_are_422(ingest: Ingest, day: str) -> None:
    meta = metadata(RECIPIENT)
    meta["PromulgationInfo"]["PromulgationDate"] = day
    _refused(ingest, meta)


def test_document_ids_carry_a_four_digit_year(ingest: Ingest) -> None:
    meta = metadata(RECIPIENT)
    meta["PromulgationInfo"]["PromulgationDate"] = "1900-01-02"
    meta["DueDate"] = None
    response = post_document(ingest, SMALL_PDF.read_bytes(), meta)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["document_id"] == f"{SENDER},1900/01/02,12/UBND-VP"


def _post_metadata_file(ingest: Ingest, raw: bytes) -> Any:
    data = {
        "file": (io.BytesIO(SMALL_PDF.read_bytes()), "a.pdf", "application/pdf"),
        "metadata": (io.BytesIO(raw), "metadata.json", "application/json"),
    }
    return ingest.client.post(
        "/v1/documents",
        data=data,
        headers=ingest.auth(SENDER),
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("as_file", [True, False])
def test_metadata_over_the_cap_is_413_as_a_field_or_a_file(ingest: Ingest, as_file: bool) -> None:
    cap = ingest.ctx.settings.max_metadata_bytes
    meta = metadata(RECIPIENT)
    meta["Padding"] = "x" * 60_000
    meta["More"] = ["y" * 60_000] * (cap // 60_000 + 1)
    raw = json.dumps(meta)
    assert len(raw) > cap
    before = ingest.count(BUS.outbox)
    if as_file:
        response = _post_metadata_file(ingest, raw.encode())
    else:
        response = post_document(ingest, SMALL_PDF.read_bytes(), raw)
    assert response.status_code == 413, response.get_data(as_text=True)
    assert_nothing_stored(ingest, before)


def test_metadata_as_a_file_part_under_the_cap_is_accepted(ingest: Ingest) -> None:
    response = _post_metadata_file(ingest, json.dumps(metadata(RECIPIENT)).encode())
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("count", ["9223372036854775808", "2147483648", "10001"])
def test_an_absurd_page_count_is_422_and_nothing_is_stored(ingest: Ingest, count: str) -> None:
    _refused(ingest, metadata(RECIPIENT), pdf=pdf_with_count(count))


def test_a_plausible_page_count_is_accepted(ingest: Ingest) -> None:
    response = post_document(ingest, pdf_with_count("1"), metadata(RECIPIENT))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["page_count"] == 1


def test_bytes_stored_for_a_document_that_fails_to_be_recorded_are_removed(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("services.ingest.submission.add_to_outbox", failing)
    before = ingest.count(BUS.outbox)
    response = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT))
    assert response.status_code == 500
    assert_nothing_stored(ingest, before)


@pytest.mark.parametrize("version", ["99999999999999999999999", "-1", "0", "1e3", "٣"])
def test_an_out_of_range_content_version_is_400(ingest: Ingest, version: str) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    response = ingest.client.get(
        f"/v1/documents/{doc['id']}/content?version={version}", headers=ingest.auth(SENDER)
    )
    assert_problem(response, 400)


def test_content_is_served_not_to_be_sniffed_or_cached(ingest: Ingest) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    content = ingest.client.get(f"/v1/documents/{doc['id']}/content", headers=ingest.auth(SENDER))
    assert content.status_code == 200
    assert content.headers["X-Content-Type-Options"] == "nosniff"
    assert content.headers["Cache-Control"] == "no-store"
    view = ingest.client.get(f"/v1/documents/{doc['id']}", headers=ingest.auth(SENDER))
    assert view.headers["X-Content-Type-Options"] == "nosniff"
    assert view.headers["Cache-Control"] == "no-store"


# --- status reports --------------------------------------------------------------------


def _delivered(ingest: Ingest) -> str:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    return _dispatch(ingest, doc)


def test_a_status_body_nested_10000_deep_is_400(ingest: Ingest) -> None:
    delivery_id = _delivered(ingest)
    response = ingest.client.post(
        f"/v1/deliveries/{delivery_id}/status",
        data='{"code": "03", "x": ' + deep_json(10_000) + "}",
        content_type="application/json",
        headers=ingest.auth(RECIPIENT),
    )
    assert_problem(response, 400)
    assert ingest.routing.reports == []


@pytest.mark.parametrize("depth", [5_000, 800, 5])
def test_deep_staff_is_refused_before_routing_hears_of_it(ingest: Ingest, depth: int) -> None:
    delivery_id = _delivered(ingest)
    response = ingest.client.post(
        f"/v1/deliveries/{delivery_id}/status",
        data='{"code": "03", "staff": ' + deep_json(depth, leaf="{}", key="Staff") + "}",
        content_type="application/json",
        headers=ingest.auth(RECIPIENT),
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert ingest.routing.reports == []
    assert [i["status"] for i in _inbox(ingest, RECIPIENT)] == [Status.ARRIVED]


def test_a_1_mb_staff_is_refused(ingest: Ingest) -> None:
    delivery_id = _delivered(ingest)
    response = _report(ingest, delivery_id, "03", staff={"Staff": "x" * 1_000_000})
    assert response.status_code in (413, 422), response.get_data(as_text=True)
    assert ingest.routing.reports == []


@pytest.mark.parametrize(
    "extra",
    [
        {"staff": {"Staff": "x" * 5000}},
        {"description": "y" * 2001},
        {"staff": "Trần Thị B"},
    ],
)
def test_oversize_staff_or_description_is_422(ingest: Ingest, extra: dict[str, Any]) -> None:
    delivery_id = _delivered(ingest)
    assert_problem(_report(ingest, delivery_id, "03", **extra), 422)
    assert ingest.routing.reports == []


def test_a_status_routing_committed_is_a_success_even_if_recording_it_here_fails(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery_id = _delivered(ingest)

    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("ingest's database is busy")

    monkeypatch.setattr("services.ingest.projections.apply_status", failing)
    response = _report(ingest, delivery_id, "03", staff={"Staff": "Trần Thị B"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "03"
    assert ingest.routing.states[delivery_id].status == Status.REGISTERED


def test_a_recall_reason_and_staff_are_bounded(ingest: Ingest) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    for body in ({"reason": "z" * 2001}, {"staff": deep_value(50)}):
        response = ingest.client.post(
            f"/v1/documents/{doc['id']}/recall", json=body, headers=ingest.auth(SENDER)
        )
        assert response.status_code in (400, 422), response.get_data(as_text=True)

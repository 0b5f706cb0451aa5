"""Hostile JSON and parameters on ingest's API: metadata, status reports, content
versions, webhooks. Each is refused with a 4xx in time (never a 5xx), and a refusal
stores nothing; what is accepted is told truthfully."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testkit.hostile import (
    GRACE_SECONDS,
    LONE_SURROGATE,
    NOT_FINITE,
    NUL_IN_TEXT,
    PLAIN_BUDGET_SECONDS,
    MiB,
    json_with,
    nested_json,
)
from testkit.official_doc import official_letter
from testkit.stack import metadata_to

from .conftest import RECIPIENT, SENDER, AbuseStack, no_server_error

pytestmark = pytest.mark.abuse

BUDGET = PLAIN_BUDGET_SECONDS + GRACE_SECONDS


def _meta(abuse: AbuseStack) -> dict[str, Any]:
    return metadata_to(RECIPIENT, number=abuse.next_number())


def _post_raw(abuse: AbuseStack, raw: str | bytes, *, as_file: bool = False) -> requests.Response:
    pdf = ("doc.pdf", official_letter(), "application/pdf")
    data = raw.encode() if isinstance(raw, str) else raw
    started = time.monotonic()
    if as_file:
        files = {"file": pdf, "metadata": ("metadata.json", data, "application/json")}
        response = abuse.sender.http.post(
            f"{abuse.url('ingest')}/v1/documents", files=files, timeout=BUDGET
        )
    else:
        response = abuse.sender.http.post(
            f"{abuse.url('ingest')}/v1/documents",
            files={"file": pdf},
            data={"metadata": data},
            timeout=BUDGET,
        )
    assert time.monotonic() - started < BUDGET
    return no_server_error(response)


HOSTILE_METADATA: dict[str, tuple[tuple[str, ...], str]] = {
    "nested-10000-dict": (("OtherInfo", "Appendixes"), nested_json(10_000, "dict")),
    "nested-10000-list": (("To",), nested_json(10_000, "list")),
    "subject-lone-surrogate": (("Subject",), LONE_SURROGATE),
    "number-lone-surrogate": (("Code", "CodeNumber"), LONE_SURROGATE),
    "number-nul": (("Code", "CodeNumber"), NUL_IN_TEXT),
    "subject-nul": (("Subject",), '"V\\u1ec1 vi\\u1ec7c\\u0000"'),
    "priority-huge": (("OtherInfo", "Priority"), "1" + "0" * 30),
    "priority-text-number": (("OtherInfo", "Priority"), '"1e999"'),
    "subject-200k": (("Subject",), json.dumps("V" * 200_000)),
    "number-20k": (("Code", "CodeNumber"), json.dumps("1" * 20_000)),
    **{f"priority-{v}": (("OtherInfo", "Priority"), v) for v in NOT_FINITE},
    **{f"steering-{v}": (("SteeringType",), v) for v in NOT_FINITE[:1]},
}


@pytest.mark.parametrize("case", sorted(HOSTILE_METADATA))
def test_hostile_metadata_is_refused_and_nothing_is_stored(abuse: AbuseStack, case: str) -> None:
    path, raw_value = HOSTILE_METADATA[case]
    before = abuse.settled()
    response = _post_raw(abuse, json_with(_meta(abuse), path, raw_value))
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/problem+json"
    assert abuse.stored() == before


def test_metadata_that_is_not_utf8_is_refused(abuse: AbuseStack) -> None:
    raw = json.dumps(_meta(abuse)).encode().replace(b"UBND-VP", b"UBND-\xff\xfe")
    before = abuse.settled()
    for as_file in (False, True):
        response = _post_raw(abuse, raw, as_file=as_file)
        assert 400 <= response.status_code < 500, response.text[:300]
    assert abuse.stored() == before


@pytest.mark.parametrize("megabytes", [5, 20])
def test_metadata_as_a_file_part_has_the_form_fields_limit(
    abuse: AbuseStack, megabytes: int
) -> None:
    """Sent as a file part, metadata is held to the same limit as the form field (the
    form field's 500 KB), and reading it does not balloon ingest's memory."""
    meta = _meta(abuse)
    meta["OtherInfo"]["Direction"] = "x" * (megabytes * 1_000_000)
    raw = json.dumps(meta)
    abuse.watch.sample()
    ingest_before = abuse.watch.peak_mib("ingest")
    before = abuse.settled()
    response = _post_raw(abuse, raw, as_file=True)
    assert response.status_code in (400, 413, 422), response.text[:300]
    assert abuse.stored() == before
    abuse.watch.sample()
    assert abuse.watch.peak_mib("ingest") - ingest_before < 64


def test_a_date_before_year_1000_keeps_four_digits(abuse: AbuseStack) -> None:
    meta = _meta(abuse)
    meta["PromulgationInfo"]["PromulgationDate"] = "0001/01/01"
    before = abuse.settled()
    response = _post_raw(abuse, json.dumps(meta))
    if response.status_code == 201:
        assert ",0001/01/01," in response.json()["document_id"]
    else:
        assert 400 <= response.status_code < 500
        assert abuse.stored() == before


# --- status reports -------------------------------------------------------------------


def _delivery(abuse: AbuseStack) -> str:
    item = abuse.arrives(abuse.send_normal(), timeout=10)
    return str(item["delivery_id"])


def _report_raw(abuse: AbuseStack, delivery_id: str, raw: str) -> requests.Response:
    started = time.monotonic()
    response = abuse.clients[RECIPIENT].http.post(
        f"{abuse.url('ingest')}/v1/deliveries/{delivery_id}/status",
        data=raw.encode(),
        headers={"Content-Type": "application/json"},
        timeout=BUDGET,
    )
    assert time.monotonic() - started < BUDGET
    return no_server_error(response)


def _status_of(abuse: AbuseStack, delivery_id: str) -> str:
    items = abuse.clients[RECIPIENT].inbox()
    return str(next(i["status"] for i in items if i["delivery_id"] == delivery_id))


def _staff_nested(depth: int) -> str:
    return '{"Staff":' * depth + '"Trần Thị Bình"' + "}" * depth


HOSTILE_STATUS = {
    "body-nested-10000": '{"code":"03","description":' + nested_json(10_000) + "}",
    "body-is-nested-list": nested_json(10_000),
    "staff-nested-5000": '{"code":"03","staff":' + _staff_nested(5_000) + "}",
    "staff-1mb": json.dumps({"code": "03", "staff": {"Staff": "x" * MiB}}),
    "staff-lone-surrogate": '{"code":"03","staff":{"Staff":' + LONE_SURROGATE + "}}",
    "description-nul": '{"code":"03","description":' + NUL_IN_TEXT + "}",
    "code-infinity": '{"code":Infinity}',
}


@pytest.mark.parametrize("case", sorted(HOSTILE_STATUS))
def test_hostile_status_reports_are_refused_and_nothing_is_recorded(
    abuse: AbuseStack, case: str
) -> None:
    delivery_id = _delivery(abuse)
    before = abuse.settled()
    response = _report_raw(abuse, delivery_id, HOSTILE_STATUS[case])
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    time.sleep(0.3)
    assert abuse.stored() == before
    assert _status_of(abuse, delivery_id) == "01"


def test_a_status_is_answered_as_it_was_recorded(abuse: AbuseStack) -> None:
    """staff 800 deep: refused and not recorded, or recorded and told so; either way a
    plain retry then agrees, and the sender sees 03 once."""
    delivery_id = _delivery(abuse)
    first = _report_raw(abuse, delivery_id, '{"code":"03","staff":' + _staff_nested(800) + "}")
    time.sleep(0.3)
    if first.status_code == 200:
        assert _status_of(abuse, delivery_id) == "03"
    else:
        assert 400 <= first.status_code < 500
        assert _status_of(abuse, delivery_id) == "01"
        retry = _report_raw(abuse, delivery_id, '{"code":"03"}')
        assert retry.status_code == 200, retry.text
    events = abuse.sender.http.get(
        f"{abuse.url('ingest')}/v1/documents/{_document_of(abuse, delivery_id)}/timeline",
        timeout=BUDGET,
    ).json()["events"]
    assert [e["code"] for e in events if e["OrganId"] == RECIPIENT].count("03") == 1


def _document_of(abuse: AbuseStack, delivery_id: str) -> str:
    items = abuse.clients[RECIPIENT].inbox()
    return str(next(i["id"] for i in items if i["delivery_id"] == delivery_id))


# --- content and webhooks -------------------------------------------------------------


@pytest.mark.parametrize("version", ["99999999999999999999999", "-1", "0", "1e3", "9" * 5000])
def test_a_content_version_out_of_range_is_a_4xx(abuse: AbuseStack, version: str) -> None:
    doc_id = abuse.send_normal()
    response = no_server_error(
        abuse.sender.http.get(
            f"{abuse.url('ingest')}/v1/documents/{doc_id}/content",
            params={"version": version},
            timeout=BUDGET,
        )
    )
    assert 400 <= response.status_code < 500, response.status_code


def test_content_is_served_not_to_be_sniffed_or_cached(abuse: AbuseStack) -> None:
    response = abuse.sender.content(abuse.send_normal())
    assert response.status_code == 200
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert "no-store" in response.headers.get("Cache-Control", "")


SSRF_URLS = [
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://100.100.100.200/latest/meta-data",
    "http://[fd00::1]/hook",
    "http://[fd00:ec2::254]/latest/meta-data",
    "http://169.254.169.254/latest/meta-data",
    "http://2852039166/latest/meta-data",  # 169.254.169.254 as one decimal number
    "http://0xA9FEA9FE/latest/meta-data",
    "http://0251.0376.0251.0376/latest/meta-data",
    "http://169.254.169.254./latest/meta-data",
    "http://[::ffff:169.254.169.254]/latest/meta-data",
]


@pytest.mark.parametrize("url", SSRF_URLS)
def test_a_webhook_to_a_private_or_metadata_address_is_refused(abuse: AbuseStack, url: str) -> None:
    """Refused at registration by default (private ranges are opt-in per deployment)."""
    agency = abuse.clients[RECIPIENT]
    hook = f"{abuse.url('ingest')}/v1/webhook"
    try:
        response = no_server_error(agency.http.put(hook, json={"url": url}, timeout=BUDGET))
        assert 400 <= response.status_code < 500, (url, response.status_code)
        assert agency.http.get(hook, timeout=BUDGET).json().get("url") != url
    finally:
        agency.http.delete(hook, timeout=BUDGET)


def test_a_revoked_key_is_refused(abuse: AbuseStack) -> None:
    """`lienthong keys revoke` for a key made with `keys create`: a running ingest stops
    taking it within LIENTHONG_API_KEY_CACHE_SECONDS (the stack sets 0)."""
    assert "revoke" in abuse.stack.cli("keys", "--help").stdout
    key = abuse.stack.cli("keys", "create", SENDER, "--label", "to-revoke").stdout.strip()
    url = f"{abuse.url('ingest')}/v1/inbox"
    bearer = {"Authorization": f"Bearer {key}"}
    assert requests.get(url, headers=bearer, timeout=BUDGET).status_code == 200
    abuse.stack.cli("keys", "revoke", SENDER, "--label", "to-revoke")
    assert requests.get(url, headers=bearer, timeout=BUDGET).status_code == 401


# --- properties -----------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
FIELDS = [
    ("Subject",),
    ("Code", "CodeNumber"),
    ("Code", "CodeNotation"),
    ("OtherInfo", "Priority"),
    ("PromulgationInfo", "PromulgationDate"),
    ("DueDate",),
    ("To",),
    ("SteeringType",),
    ("SignerInfo",),
]


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES)
def test_any_metadata_value_gets_201_or_a_4xx_that_stores_nothing(
    abuse: AbuseStack, field: tuple[str, ...], value: object
) -> None:
    before = abuse.settled()
    response = _post_raw(abuse, json_with(_meta(abuse), field, json.dumps(value)))
    if response.status_code != 201:
        assert 400 <= response.status_code < 500
        assert abuse.stored() == before


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(staff=JSON_VALUES, description=JSON_VALUES)
def test_any_status_body_gets_200_or_a_4xx(
    abuse: AbuseStack, staff: object, description: object
) -> None:
    delivery_id = _delivery(abuse)
    raw = json.dumps({"code": "03", "staff": staff, "description": description})
    response = _report_raw(abuse, delivery_id, raw)
    time.sleep(0.2)
    expected = "03" if response.status_code == 200 else "01"
    if response.status_code != 200:
        assert 400 <= response.status_code < 500
    assert _status_of(abuse, delivery_id) == expected

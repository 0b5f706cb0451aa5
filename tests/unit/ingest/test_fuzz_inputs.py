"""Property tests through Flask's test client: whatever JSON the metadata or a status
report carries (deep, huge or non-finite numbers, odd strings, wrong shapes), ingest
answers a 2xx or a 4xx, never a 5xx, and a 4xx leaves nothing stored."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.models import BUS, Delivery, Document, WebhookJob
from tests.unit.ingest.hostile import deep_json
from tests.unit.ingest.test_api import (
    RECIPIENT,
    SMALL_PDF,
    Ingest,
    _dispatch,
    ingest,  # the fixture, shared with the API tests
    metadata,
    post_document,
)

__all__ = ["ingest"]

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text with lone surrogates, NUL and other control characters among the ordinary ones.
odd_text = st.text(
    st.characters(codec=None, categories=None, exclude_characters=None),
    max_size=40,
) | st.sampled_from(["\ud800", "a\x00b", "", " ", "9" * 30, "0001/01/01", "Infinity"])
numbers = (
    st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 4, 5, 2**31, 2**63, 1e308])
)
scalars = st.none() | st.booleans() | numbers | odd_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=20,
)
FIELDS = [
    ("Subject",),
    ("Code", "CodeNumber"),
    ("Code", "CodeNotation"),
    ("PromulgationInfo", "PromulgationDate"),
    ("OtherInfo", "Priority"),
    ("DueDate",),
    ("SteeringType",),
    ("Paper",),
    ("To",),
    ("Bussiness",),
    ("SignerInfo",),
    ("DocumentType", "Type"),
]


def _with(meta: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    node = meta
    for part in path[:-1]:
        child = node.get(part)
        node[part] = child if isinstance(child, dict) else {}
        node = node[part]
    node[path[-1]] = value
    return meta


def _as_json(value: object) -> str:
    return json.dumps(value)  # NaN and Infinity as JS literals, surrogates as \\ud800


metadata_texts = st.one_of(
    st.builds(
        lambda path, value: _as_json(_with(metadata(RECIPIENT), path, value)),
        st.sampled_from(FIELDS),
        json_values,
    ),
    json_values.map(_as_json),
    st.integers(min_value=1, max_value=3000).map(
        lambda depth: _as_json(metadata(RECIPIENT)).replace(
            '"Subject": ', '"Subject": ' + deep_json(depth) + ', "S": '
        )
    ),
)


def _stored(ingest: Ingest) -> tuple[int, ...]:
    return (
        ingest.count(Document),
        ingest.count(BUS.outbox),
        len(ingest.stored_objects()),
        len(ingest.spooled_files()),
        ingest.count(WebhookJob),
    )


@FUZZ
@given(text=metadata_texts)
def test_any_metadata_is_2xx_or_4xx_and_a_4xx_stores_nothing(ingest: Ingest, text: str) -> None:
    before = _stored(ingest)
    response = post_document(ingest, SMALL_PDF.read_bytes(), text)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert _stored(ingest) == before


status_bodies = st.one_of(
    st.fixed_dictionaries(
        {"code": st.sampled_from(["03", "04", "05", "06", "02", "13", "99"]) | json_values},
        optional={"description": json_values, "staff": json_values, "extra": json_values},
    ).map(_as_json),
    json_values.map(_as_json),
    st.integers(min_value=1, max_value=12_000).map(
        lambda depth: '{"code": "04", "staff": ' + deep_json(depth, "{}", "Staff") + "}"
    ),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)


@FUZZ
@given(body=status_bodies)
def test_any_status_report_is_2xx_or_4xx_and_a_4xx_changes_nothing(
    ingest: Ingest, body: str
) -> None:
    if not hasattr(ingest, "fuzz_delivery"):
        doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
        ingest.fuzz_delivery = _dispatch(ingest, doc)  # type: ignore[attr-defined]
    delivery_id: str = ingest.fuzz_delivery  # type: ignore[attr-defined]
    with ingest.ctx.db.reading() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        state_before = (row.status, row.status_seq)
    stored_before = _stored(ingest)
    response = ingest.client.post(
        f"/v1/deliveries/{delivery_id}/status",
        data=body.encode("utf-8", "surrogatepass"),
        content_type="application/json",
        headers=ingest.auth(RECIPIENT),
    )
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        with ingest.ctx.db.reading() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None
            assert (row.status, row.status_seq) == state_before
        assert _stored(ingest) == stored_before

"""services.common.web.parse_json: every JSON body is parsed here under the input limits,
and nothing it is given raises anything but a 400 or a 413."""

from __future__ import annotations

import pytest

from services.common.errors import BadRequest, PayloadTooLarge
from services.common.settings import Env, InputLimits, load_common
from services.common.web import parse_json, whole_number
from tests.unit.ingest.hostile import deep_json

LIMITS = InputLimits()


@pytest.mark.parametrize(
    "raw",
    [
        deep_json(10_000),
        deep_json(100_000, leaf="{}", key="a"),
        deep_json(LIMITS.json_max_depth + 1),
        '{"Priority": Infinity}',
        '{"Priority": -Infinity}',
        '{"Priority": NaN}',
        '{"Priority": 1e400}',
        '{"n": ' + "9" * 5000 + "}",
        '{"n": 9223372036854775808}',
        '{"s": "\\ud800"}',
        '{"\\udc00": 1}',
        '{"s": "a\\u0000b"}',
        '{"s\\u0000": 1}',
        b'{"s": "\xff"}',
        b'{"s": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes: not UTF-8
        '{"s": "' + "x" * (LIMITS.json_max_string + 1) + '"}',
        "[" + ",".join(["1"] * (LIMITS.json_max_items + 1)) + "]",
        "",
        "{",
    ],
)
def test_hostile_json_is_a_400(raw: str | bytes) -> None:
    with pytest.raises(BadRequest):
        parse_json(raw, LIMITS)


def test_a_body_over_the_size_limit_is_a_413() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_json('"' + "x" * LIMITS.json_max_bytes + '"', LIMITS)


def test_ordinary_json_passes() -> None:
    value = parse_json('{"a": [1, 2.5, -3, true, null, "Việt Nam"], "b": {"c": {}}}', LIMITS)
    assert value == {"a": [1, 2.5, -3, True, None, "Việt Nam"], "b": {"c": {}}}
    assert parse_json(deep_json(LIMITS.json_max_depth), LIMITS)
    assert parse_json('{"n": 9223372036854775807}', LIMITS) == {"n": 2**63 - 1}


@pytest.mark.parametrize("raw", ["99999999999999999999999", "-1", "1.5", "1e3", "٣", " ", "0x1"])
def test_whole_numbers_out_of_range_or_malformed_are_400(raw: str) -> None:
    with pytest.raises(BadRequest):
        whole_number(raw, "version", minimum=0, maximum=2**31 - 1)


def test_the_limits_are_settings(tmp_path: object) -> None:
    env = Env(
        {
            "LIENTHONG_DATA_DIR": str(tmp_path),
            "LIENTHONG_MAX_JSON_DEPTH": "10",
            "LIENTHONG_MAX_STAFF_BYTES": "100",
        }
    )
    limits = load_common(env).limits
    assert (limits.json_max_depth, limits.staff_max_bytes) == (10, 100)
    assert limits.json_max_bytes == InputLimits().json_max_bytes

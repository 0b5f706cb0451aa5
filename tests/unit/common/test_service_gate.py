"""The gate of a service that takes bodies from the platform's own services only: the
token and the size are judged from the headers, before waitress reads a body."""

from __future__ import annotations

from services.common.runtime import RequestHead, service_gate

TOKEN = "service-token-0123456789abcdef"
LIMIT = 1024


def _head(path: str, size: int, token: str | None = None, chunked: bool = False) -> RequestHead:
    headers = {"AUTHORIZATION": f"Bearer {token}"} if token else {}
    return RequestHead("POST", path, headers, size, chunked)


def test_a_body_without_the_token_is_refused_before_it_is_read() -> None:
    gate = service_gate(TOKEN, LIMIT)
    for head in (_head("/v1/verify", 150 * 2**20), _head("/v1/verify", 10, "wrong-token")):
        refusal = gate(head)
        assert refusal is not None and refusal.code == 401


def test_a_body_over_the_limit_is_refused_even_with_the_token() -> None:
    refusal = service_gate(TOKEN, LIMIT)(_head("/v1/verify", LIMIT + 1, TOKEN))
    assert refusal is not None and refusal.code == 413


def test_within_the_limit_with_the_token_or_without_a_body_passes() -> None:
    gate = service_gate(TOKEN, LIMIT)
    assert gate(_head("/v1/verify", LIMIT, TOKEN)) is None
    assert gate(RequestHead("GET", "/healthz", {}, 0, False)) is None


def test_public_paths_take_small_bodies_from_anyone() -> None:
    gate = service_gate(TOKEN, LIMIT, public={"/pki/": 64})
    assert gate(_head("/pki/tsa", 64)) is None
    refusal = gate(_head("/pki/ocsp", 65))
    assert refusal is not None and refusal.code == 413
    other = gate(_head("/v1/verify", 10))
    assert other is not None and other.code == 401

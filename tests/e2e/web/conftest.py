"""One running Liên Thông for the web app's tests: the embedded shape started with
`lienthong up` (all four services in one process), the demo agencies and their
signing material from `lienthong demo seed`, and an admin from `lienthong users add`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.stack import Stack
from tests.e2e.web.browser import one_time_password

SENDER, FIRST, SECOND = "000.00.00.H41", "000.00.01.H41", "000.00.02.H41"


@dataclass
class WebStack:
    stack: Stack
    base: str
    admin_email: str
    admin_password: str  # one-time

    def add_user(self, email: str, agency: str, role: str, name: str, title: str = "") -> str:
        args = ["users", "add", email, "--agency", agency, "--role", role, "--name", name]
        if title:
            args += ["--title", title]
        return one_time_password(self.stack.cli(*args).stdout)


# One stack per test module: what one module sends (exchanges, registers) must not change
# what another counts (the dashboard's figures).
@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    data: Path = tmp_path_factory.mktemp("web-e2e")
    stack = Stack(data, {"LIENTHONG_WEB_SECURE_COOKIES": "never"})
    stack.cli("migrate")
    stack.cli("demo", "seed")
    admin = stack.cli(
        "users", "add", "quantri@nghean.gov.vn", "--agency", SENDER, "--role", "admin",
        "--name", "Quản trị viên",
    )  # fmt: skip
    stack.start("up", name="up")
    try:
        stack.wait_healthy(("web", "ingest", "signing", "routing"))
        yield WebStack(
            stack, stack.url("web"), "quantri@nghean.gov.vn", one_time_password(admin.stdout)
        )
    finally:
        stack.stop_all()

"""A person on the web app without a browser: forms posted with their CSRF token."""

from __future__ import annotations

import re
from typing import Any

import requests

#: What the tests and benches set at a first login.
NEW_PASSWORD = "mật-khẩu-mới-2026"
PIN = "246810"

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


class Person:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.csrf = ""

    def _remember(self, html: str) -> None:
        found = _TOKEN.findall(html)
        if found:  # the page's own form last (the header's sign-out form comes first)
            self.csrf = found[-1]

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        response = self.http.get(self.base + path, timeout=60, **kwargs)
        self._remember(response.text)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any
    ) -> requests.Response:
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        response = self.http.post(self.base + path, data=body, timeout=120, **kw)
        self._remember(response.text)
        return response

    def log_in(self, email: str, password: str) -> requests.Response:
        self.get("/login")
        return self.post("/login", {"email": email, "password": password, "next": ""})

    def first_login(self, email: str, one_time: str, *, pin: bool = False) -> None:
        answer = self.log_in(email, one_time)
        assert answer.url.endswith("/password"), answer.url
        changed = self.post(
            "/password",
            {
                "current_password": one_time,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        )
        assert not changed.url.endswith("/password"), changed.text[-2000:]
        if pin:
            self.get("/pin")
            self.post("/pin", {"password": NEW_PASSWORD, "pin": PIN})

"""Request plumbing of the web app: who is signed in, the CSRF check, the language,
rendering, and errors as pages."""

from __future__ import annotations

import csv
import io
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from services.common.errors import LienThongError
from services.common.wiring import current
from services.web import security
from services.web.context import WebContext
from services.web.i18n import DEFAULT, LANGUAGES, vn_date, vn_datetime
from services.web.models import User, WebSession
from services.web.rules import PRIORITIES, ROLE_NAMES, Action, may, visible_agencies

log = logging.getLogger(__name__)

COOKIE = "lt_session"
LOGIN_CSRF = "lt_login_csrf"
PUBLIC = {"static", "health.healthz", "auth.login", "auth.login_post", "auth.language"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def ctx() -> WebContext:
    return current(WebContext)


def user() -> User:
    found = g.get("user")
    if not isinstance(found, User):
        abort(401)
    return found


def web_session() -> WebSession:
    found = g.get("web_session")
    assert isinstance(found, WebSession)
    return found


def gettext(text: str, **values: Any) -> str:
    translations = g.get("translations") or ctx().catalogs[DEFAULT]
    translated = translations.gettext(text)
    return translated % values if values else translated


_ = gettext


def secure_request() -> bool:
    mode = ctx().settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.is_secure)


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=secure_request(),
        path="/",
        max_age=ctx().settings.session_hours * 3600,
    )


_REGISTRY: dict[str, Any] = {"at": 0.0, "items": [], "names": {}}


def _fresh_registry() -> None:
    """The agencies' registry from ingest (with its names by code), kept for a minute."""
    if time.monotonic() - _REGISTRY["at"] > 60 or not _REGISTRY["items"]:
        items = ctx().ingest.agencies(user().agency_code)
        names: dict[str, str] = {}
        for item in items:
            names.setdefault(str(item["code"]), str(item["name"]))
        _REGISTRY.update(items=items, names=names, at=time.monotonic())


def registry() -> list[dict[str, Any]]:
    """The agencies' registry from ingest, kept for a minute."""
    _fresh_registry()
    return list(_REGISTRY["items"])


def agency_name(code: str) -> str:
    """An agency's name from the registry (the code when it is not there): by code,
    as a page may name every agency of the registry."""
    _fresh_registry()
    names: dict[str, str] = _REGISTRY["names"]
    return names.get(code, code)


def seen_agencies() -> set[str]:
    person = user()
    parents = {a["code"]: a.get("parent") for a in registry()} if person.role == "monitor" else {}
    return visible_agencies(person.agency_code, person.role, parents)


def agency_tree(exclude: str | None = None) -> list[tuple[dict[str, Any], int]]:
    """The registry as a tree, parents before their children: (agency, depth)."""
    items = [a for a in registry() if a["code"] != exclude]
    codes = {a["code"] for a in items}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for a in sorted(items, key=lambda a: str(a["name"])):
        parent = a.get("parent") if a.get("parent") in codes else None
        children.setdefault(parent, []).append(a)
    ordered: list[tuple[dict[str, Any], int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for a in children.get(parent, []):
            ordered.append((a, depth))
            walk(a["code"], depth + 1)

    walk(None, 0)
    return ordered


def viewed_agency() -> str:
    """The agency whose lists are shown: one's own, or (monitors) one below it."""
    asked = request.args.get("agency") or user().agency_code
    if asked not in seen_agencies():
        abort(404)
    return asked


def require(action: Action) -> User:
    person = user()
    if not may(person.role, action):
        abort(403)
    return person


def before_request() -> BaseResponse | None:
    context = ctx()
    g.lang = (
        request.cookies.get("lt_lang") if request.cookies.get("lt_lang") in LANGUAGES else DEFAULT
    )
    found = security.session_of(context.db, context.policy, request.cookies.get(COOKIE))
    if found is not None:
        g.web_session, g.user = found
    g.translations = context.catalogs.get(g.lang, context.catalogs[DEFAULT])
    if request.endpoint in PUBLIC:
        if request.endpoint == "auth.login_post":
            given = request.form.get("csrf_token")
            cookie = request.cookies.get(LOGIN_CSRF)
            if not (given and cookie and secrets.compare_digest(given, cookie)):
                abort(400, description="missing or wrong CSRF token")
        return None
    if found is None:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path))
        abort(401)
    if request.method in UNSAFE:
        given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
        if not security.csrf_matches(found[0], given):
            abort(400, description="missing or wrong CSRF token")
    if found[1].must_change_password and request.endpoint not in (
        "auth.password",
        "auth.password_post",
        "auth.logout",
    ):
        return redirect(url_for("auth.password"))
    return None


def csv_response(name: str, header: list[str], rows: list[list[str]]) -> Response:
    """A register as CSV for a spreadsheet (UTF-8 with a BOM, which Excel needs)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def render(template: str, code: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(template, **values), code


def _error_page(status: int, detail: str) -> tuple[str, int]:
    titles = {
        400: "Yêu cầu không hợp lệ",
        401: "Cần đăng nhập",
        403: "Không có quyền",
        404: "Không tìm thấy",
        409: "Trạng thái đã thay đổi",
        422: "Dữ liệu chưa đúng",
    }
    title = titles.get(status, "Lỗi hệ thống")
    return render("error.html", status, title=title, detail=detail, status=status)


def register_views(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda text: gettext(text),
        lambda one, many, n: gettext(one if n == 1 else many),
        newstyle=True,
    )
    app.jinja_env.filters["vndate"] = vn_date
    app.jinja_env.filters["vntime"] = vn_datetime
    app.jinja_env.globals.update(
        may=lambda action: may(user().role, Action(action)) if g.get("user") else False,
        agency_name=agency_name,
        PRIORITIES=PRIORITIES,
        priority_name=lambda p: gettext(PRIORITIES.get(int(p or 0), "Thường")),
        role_name=lambda r: gettext(ROLE_NAMES.get(str(r), str(r))),
        seen_agencies=lambda: sorted(seen_agencies()),
        locked=lambda u: u.locked_until is not None and u.locked_until > security.now(),
    )
    app.before_request(before_request)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        found = g.get("web_session")
        token = found.csrf if isinstance(found, WebSession) else ""
        return {
            "me": g.get("user"),
            "lang": g.get("lang", DEFAULT),
            "csrf_field": Markup(f'<input type="hidden" name="csrf_token" value="{token}">'),
            "csrf_token": token,
        }

    @app.errorhandler(LienThongError)
    def _ours(error: LienThongError) -> tuple[str, int]:
        if error.status >= 500:
            log.error("%s: %s", error.code, error.detail)
        return _error_page(error.status, error.detail)

    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        return _error_page(error.code or 500, error.description or "")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unhandled error on %s", request.path)
        return _error_page(500, "the request failed; it has been logged")


View = Callable[..., Any]

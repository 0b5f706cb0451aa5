"""Signing in and out, the first-login password change, one's signing PIN, language."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, make_response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from services.common.errors import LienThongError
from services.web import security
from services.web import users as people
from services.web.i18n import LANGUAGES
from services.web.views.base import (
    COOKIE,
    LOGIN_CSRF,
    _,
    ctx,
    render,
    secure_request,
    set_session_cookie,
    user,
    web_session,
)

auth = Blueprint("auth", __name__)

HOME_OF = {
    "leader": "outgoing.waiting",
    "clerk": "incoming.inbox",
    "specialist": "incoming.my_work",
    "monitor": "monitor.dashboard",
    "admin": "admin.users",
}


def _safe_next(raw: str | None) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith("/") or raw.startswith("//"):
        return None
    return raw


@auth.get("/")
def home() -> BaseResponse:
    return redirect(url_for(HOME_OF.get(user().role, "verify.form")))


def _login_page(error: str = "", status: int = 200) -> BaseResponse:
    # One token per browser until it logs in: a second tab (or a favicon fetch sent to
    # the login page) must not invalidate the form already shown.
    kept = request.cookies.get(LOGIN_CSRF, "")
    token = (
        kept
        if 20 <= len(kept) <= 64 and kept.replace("-", "").replace("_", "").isalnum()
        else secrets.token_urlsafe(24)
    )
    body, code = render(
        "login.html",
        status,
        error=error,
        login_csrf=token,
        next=_safe_next(request.values.get("next")) or "",
    )
    response = make_response(body, code)
    response.set_cookie(
        LOGIN_CSRF, token, httponly=True, samesite="Strict", secure=secure_request(), path="/login"
    )
    return response


@auth.get("/login")
def login() -> BaseResponse:
    return _login_page()


@auth.post("/login")
def login_post() -> BaseResponse:
    context = ctx()
    try:
        person, token = security.log_in(
            context.db,
            context.policy,
            request.form.get("email", ""),
            request.form.get("password", ""),
        )
    except LienThongError as e:
        return _login_page(_(_LOGIN_ERRORS.get(e.detail, "Email hoặc mật khẩu không đúng.")), 401)
    target = _safe_next(request.form.get("next"))
    if person.must_change_password:
        target = url_for("auth.password")
    response = make_response(redirect(target or url_for("auth.home")))
    old = request.cookies.get(COOKIE)
    if old:
        security.end_session(context.db, security.token_hash(old))  # rotated at login
    set_session_cookie(response, token)
    response.delete_cookie(LOGIN_CSRF, path="/login")
    return response


_LOGIN_ERRORS = {
    "wrong email or password": "Email hoặc mật khẩu không đúng.",
    "this account is disabled": "Tài khoản đã bị khóa bởi quản trị.",
    "this account is locked for a while after failed logins": (
        "Tài khoản tạm khóa 15 phút vì đăng nhập sai nhiều lần."
    ),
}


@auth.post("/logout")
def logout() -> BaseResponse:
    security.end_session(ctx().db, web_session().token_hash)
    security.record(ctx().db, user(), "logout")
    response = make_response(redirect(url_for("auth.login")))
    response.delete_cookie(COOKIE, path="/")
    return response


@auth.get("/password")
def password() -> tuple[str, int]:
    return render("password.html", forced=user().must_change_password)


@auth.post("/password")
def password_post() -> BaseResponse | tuple[str, int]:
    person = user()
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return render(
            "password.html",
            422,
            forced=person.must_change_password,
            error=_("Hai mật khẩu mới không khớp."),
        )
    try:
        people.change_password(ctx().db, person.id, request.form.get("current_password", ""), new)
    except LienThongError as e:
        return render("password.html", 422, forced=person.must_change_password, error=e.detail)
    security.record(ctx().db, person, "password.changed")
    return redirect(url_for("auth.home"))


@auth.get("/pin")
def pin() -> tuple[str, int]:
    return render("pin.html", has_pin=bool(user().pin_hash))


@auth.post("/pin")
def pin_post() -> BaseResponse | tuple[str, int]:
    person = user()
    try:
        people.set_pin(
            ctx().db, person.id, request.form.get("password", ""), request.form.get("pin", "")
        )
    except LienThongError as e:
        return render("pin.html", 422, has_pin=bool(person.pin_hash), error=e.detail)
    security.record(ctx().db, person, "pin.set")
    return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))


@auth.get("/lang/<language>")
def language(language: str) -> BaseResponse:
    response = make_response(redirect(_safe_next(request.args.get("next")) or url_for("auth.home")))
    if language in LANGUAGES:
        response.set_cookie("lt_lang", language, samesite="Lax", secure=secure_request(), path="/")
    return response

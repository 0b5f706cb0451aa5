"""Quản trị: people, the activity list, certificates, seals and signature images."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from services.common.errors import NotFound, ValidationFailed
from services.web import security
from services.web import users as people
from services.web.models import Activity
from services.web.rules import Action, Role
from services.web.views.base import _, ctx, render, require

admin = Blueprint("admin", __name__, url_prefix="/admin")


@admin.get("/users")
def users() -> tuple[str, int]:
    person = require(Action.ADMIN)
    rows = people.agency_users(ctx().db, person.agency_code)
    return render(
        "admin_users.html",
        rows=rows,
        roles=[r.value for r in Role],
        created=request.args.get("created"),
        password=None,
    )


@admin.post("/users")
def add_user() -> tuple[str, int]:
    person = require(Action.ADMIN)
    c = ctx()
    made, password = people.add_user(
        c.db,
        request.form.get("email", ""),
        person.agency_code,
        request.form.get("role", ""),
        request.form.get("name", ""),
        request.form.get("title", ""),
    )
    security.record(c.db, person, "user.created", made.email, made.role)
    rows = people.agency_users(c.db, person.agency_code)
    return render(
        "admin_users.html",
        rows=rows,
        roles=[r.value for r in Role],
        created=made.email,
        password=password,
    )


@admin.post("/users/<int:user_id>")
def change_user(user_id: int) -> BaseResponse | tuple[str, int]:
    person = require(Action.ADMIN)
    c = ctx()
    action = request.form.get("action", "")
    if action in ("disable", "enable"):
        if user_id == person.id:
            raise ValidationFailed(_("Không thể tự khóa tài khoản của mình."))
        changed = people.set_disabled(c.db, person.agency_code, user_id, action == "disable")
    elif action == "reset":
        changed, password = people.reset_password(c.db, person.agency_code, user_id)
        security.record(c.db, person, "user.reset", changed.email)
        rows = people.agency_users(c.db, person.agency_code)
        return render(
            "admin_users.html",
            rows=rows,
            roles=[r.value for r in Role],
            created=changed.email,
            password=password,
        )
    elif action == "role":
        changed = people.set_role(c.db, person.agency_code, user_id, request.form.get("role", ""))
    else:
        abort(400)
    security.record(c.db, person, f"user.{action}", changed.email)
    return redirect(url_for("admin.users"))


@admin.get("/activity")
def activity() -> tuple[str, int]:
    person = require(Action.ADMIN)
    import sqlalchemy as sa

    with ctx().db.reading() as session:
        rows = list(
            session.scalars(
                sa.select(Activity)
                .where(Activity.agency_code == person.agency_code)
                .order_by(Activity.id.desc())
                .limit(300)
            )
        )
    return render("admin_activity.html", rows=rows)


@admin.get("/certificates")
def certificates() -> tuple[str, int]:
    person = require(Action.ADMIN)
    rows = ctx().signing.certificates(person.agency_code)
    leaders = people.agency_users(ctx().db, person.agency_code)
    return render("admin_certificates.html", rows=rows, people=leaders)


@admin.post("/certificates")
def issue_certificate() -> BaseResponse:
    person = require(Action.ADMIN)
    kind = request.form.get("kind", "personal")
    name = request.form.get("name", "")
    made = ctx().signing.issue(person.agency_code, kind, name, request.form.get("title") or None)
    security.record(ctx().db, person, "certificate.issued", made["serial"], name)
    return redirect(url_for("admin.certificates"))


@admin.post("/certificates/<serial>/revoke")
def revoke_certificate(serial: str) -> BaseResponse:
    person = require(Action.ADMIN)
    ctx().signing.revoke(person.agency_code, serial, request.form.get("reason") or None)
    security.record(ctx().db, person, "certificate.revoked", serial)
    return redirect(url_for("admin.certificates"))


@admin.get("/images")
def images() -> tuple[str, int]:
    person = require(Action.ADMIN)
    leaders = people.agency_users(ctx().db, person.agency_code, "leader")
    return render("admin_images.html", leaders=leaders)


@admin.post("/images")
def upload_image() -> BaseResponse:
    person = require(Action.ADMIN)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(_("Chọn tệp PNG."))
    kind = request.form.get("kind", "seal")
    holder = request.form.get("person") or None
    ctx().signing.register_image(
        person.agency_code,
        kind,
        holder if kind == "signature" else None,
        upload.stream.read(20 * 1024 * 1024 + 1),
    )
    security.record(ctx().db, person, f"image.{kind}", holder or person.agency_code)
    return redirect(url_for("admin.images"))


@admin.get("/images/<kind>.png")
def image(kind: str) -> BaseResponse:
    person = require(Action.ADMIN)
    if kind not in ("seal", "signature"):
        abort(404)
    try:
        png = ctx().signing.image(person.agency_code, kind, request.args.get("person") or None)
    except NotFound:
        abort(404)
    return Response(png, mimetype="image/png")

"""Kiểm tra chữ ký số: drop a PDF, read a plain Vietnamese report, download it."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, Response, abort, request
from werkzeug.wrappers import Response as BaseResponse

from services.common.errors import ValidationFailed
from services.web import security
from services.web.rules import Action
from services.web.views.base import _, ctx, render, require

verify = Blueprint("verify", __name__)

VERDICT_WORDS = {
    "valid": "Hợp lệ",
    "invalid": "Không hợp lệ",
    "indeterminate": "Chưa xác định",
    "unsigned": "Không có chữ ký số",
    "unreadable": "Không đọc được tệp",
}


def summary(report: dict[str, Any]) -> str:
    verdict = report.get("verdict", "")
    count = len(report.get("signatures") or [])
    if verdict == "valid":
        return _("Tệp có %(n)s chữ ký số, tất cả hợp lệ; tệp không bị sửa sau khi ký.", n=count)
    if verdict == "unsigned":
        return _("Tệp không có chữ ký số nào.")
    if verdict == "invalid":
        return _("Tệp có chữ ký số không hợp lệ: xem lý do bên dưới.")
    if verdict == "unreadable":
        return _("Không đọc được tệp PDF này.")
    return _("Chưa xác định được chữ ký số: xem lý do bên dưới.")


@verify.get("/verify")
def form() -> tuple[str, int]:
    require(Action.VERIFY)
    return render("verify.html")


@verify.post("/verify")
def check() -> tuple[str, int]:
    person = require(Action.VERIFY)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(_("Chọn tệp PDF."))
    data = upload.stream.read(ctx().settings.max_upload_bytes + 1)
    if len(data) > ctx().settings.max_upload_bytes:
        raise ValidationFailed(_("Tệp quá lớn."))
    report = ctx().signing.verify(data, upload.filename)
    assert isinstance(report, dict)
    token = secrets.token_urlsafe(16)
    ctx().reports_dir.mkdir(parents=True, exist_ok=True)
    (ctx().reports_dir / f"{person.id}-{token}.json").write_text(
        json.dumps(report, ensure_ascii=False)
    )
    security.record(ctx().db, person, "verify", upload.filename, str(report.get("verdict")))
    return render(
        "verify_report.html",
        report=report,
        summary=summary(report),
        token=token,
        words=VERDICT_WORDS,
    )


@verify.get("/verify/<token>.html")
def download(token: str) -> BaseResponse:
    person = require(Action.VERIFY)
    if not token.replace("-", "").replace("_", "").isalnum():
        abort(404)
    path = ctx().reports_dir / f"{person.id}-{token}.json"
    if not path.exists():
        abort(404)
    report = json.loads(path.read_text())
    body, _status = render(
        "verify_download.html",
        report=report,
        summary=summary(report),
        token=token,
        words=VERDICT_WORDS,
        standalone=True,
    )
    response = Response(body, mimetype="text/html")
    response.headers["Content-Disposition"] = 'attachment; filename="bao-cao-kiem-tra-chu-ky.html"'
    return response

"""A self-contained HTML page for a :class:`VerificationReport` (inline CSS, every value
escaped). Labels are Vietnamese with the English term in parentheses."""

from __future__ import annotations

from html import escape

from services.common.contract import Verdict
from services.signing.verification.model import (
    CertificateInfo,
    RevocationInfo,
    SignatureReport,
    TimestampInfo,
    VerificationReport,
)

VERDICT_LABELS: dict[str, tuple[str, str]] = {
    Verdict.VALID: ("Hợp lệ", "valid"),
    Verdict.INVALID: ("Không hợp lệ", "invalid"),
    Verdict.INDETERMINATE: ("Chưa xác định được", "indeterminate"),
    Verdict.UNSIGNED: ("Chưa ký", "unsigned"),
    Verdict.UNREADABLE: ("Không đọc được tệp", "unreadable"),
}

_COLOURS: dict[str, tuple[str, str]] = {
    Verdict.VALID: ("#0f5132", "#d1e7dd"),
    Verdict.INVALID: ("#842029", "#f8d7da"),
    Verdict.INDETERMINATE: ("#664d03", "#fff3cd"),
    Verdict.UNSIGNED: ("#41464b", "#e2e3e5"),
    Verdict.UNREADABLE: ("#41464b", "#e2e3e5"),
}

_KIND = {
    "signature": ("Chữ ký", "signature"),
    "document_timestamp": ("Dấu thời gian tài liệu", "document time-stamp"),
    "empty_field": ("Ô chữ ký trống", "empty signature field"),
    "unknown": ("Không xác định", "unknown"),
}

_TIME_SOURCE = {
    "now": ("thời điểm xác minh", "verification time"),
    "signature_timestamp": ("dấu thời gian của chữ ký", "signature time-stamp"),
    "document_timestamp": ("dấu thời gian tài liệu", "document time-stamp"),
    "claimed": ("thời điểm do người ký tự khai, chưa được chứng minh", "claimed by the signer"),
}

_COVERAGE = {
    "entire_file": ("Toàn bộ tệp", "entire file"),
    "entire_revision": ("Toàn bộ phiên bản đã ký; có cập nhật sau đó", "entire revision"),
    "other": ("Bất thường: không phủ hết phiên bản", "other / non-standard"),
}

_REVOCATION = {
    "good": ("Chưa bị thu hồi", "good"),
    "revoked": ("Đã bị thu hồi", "revoked"),
    "unknown": ("Không rõ", "unknown"),
    "not_checked": ("Không kiểm tra (chứng thư gốc)", "not checked: trust anchor"),
}

CSS = """
body{font-family:"Times New Roman",Tinos,"Liberation Serif",serif;margin:2rem auto;
max-width:60rem;color:#212529;line-height:1.45;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ced4da}h3{font-size:1.05rem;margin:.2rem 0}
.en{color:#6c757d;font-size:.9em}
.badge{display:inline-block;padding:.25rem .7rem;border-radius:.4rem;font-weight:bold}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #e9ecef}
th{width:16rem;font-weight:600}
.card{border:1px solid #ced4da;border-radius:.5rem;padding:1rem;margin:1rem 0}
ul{margin:.2rem 0 .2rem 1.2rem;padding:0}code{font-size:.85em;word-break:break-all}
.chain li{margin-bottom:.3rem}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _label(vi: str, en: str) -> str:
    return f'{_e(vi)} <span class="en">({_e(en)})</span>'


def _badge(verdict: str) -> str:
    vi, en = VERDICT_LABELS.get(verdict, (verdict, verdict))
    fg, bg = _COLOURS.get(verdict, ("#212529", "#e9ecef"))
    return f'<span class="badge" style="color:{fg};background:{bg}">{_e(vi)} ({_e(en)})</span>'


def _row(vi: str, en: str, value_html: str) -> str:
    return f"<tr><th>{_label(vi, en)}</th><td>{value_html}</td></tr>"


def _list(items: tuple[str, ...] | list[str]) -> str:
    if not items:
        return "—"
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _yes_no(value: bool | None) -> str:
    if value is None:
        return "—"
    return _label("Có", "yes") if value else _label("Không", "no")


def _cert(c: CertificateInfo) -> str:
    return (
        f"<strong>{_e(c.subject)}</strong><br>"
        f'<span class="en">Nhà phát hành (issuer): {_e(c.issuer)}<br>'
        f"Số hiệu (serial): <code>{_e(c.serial)}</code> · "
        f"Hiệu lực (validity): {_e(c.not_before)} → {_e(c.not_after)}<br>"
        f"SHA-256: <code>{_e(c.sha256)}</code></span>"
    )


def _chain(chain: tuple[CertificateInfo, ...]) -> str:
    if not chain:
        return "—"
    return '<ol class="chain">' + "".join(f"<li>{_cert(c)}</li>" for c in chain) + "</ol>"


def _revocation(items: tuple[RevocationInfo, ...]) -> str:
    if not items:
        return "—"
    rows = []
    for r in items:
        vi, en = _REVOCATION.get(r.status, (r.status, r.status))
        extra = []
        if r.kind:
            extra.append(f"{r.kind.upper()}" + (f", {r.source}" if r.source else ""))
        if r.issued_at:
            extra.append(f"phát hành (issued) {r.issued_at}")
        if r.revoked_at:
            extra.append(f"thu hồi lúc (revoked at) {r.revoked_at}")
        if r.reason:
            extra.append(f"lý do (reason) {r.reason}")
        rows.append(
            f"<li>{_e(r.subject)}: {_label(vi, en)}"
            + (f' <span class="en">[{_e("; ".join(extra))}]</span>' if extra else "")
            + "</li>"
        )
    return "<ul>" + "".join(rows) + "</ul>"


def _timestamp(ts: TimestampInfo | None) -> str:
    if ts is None:
        return _label("Không có", "none")
    state = (
        _label("Tin cậy", "trusted")
        if ts.trusted
        else _label("Không tin cậy hoặc không hợp lệ", "untrusted or invalid")
    )
    return (
        f"{_e(ts.time)} — {state}<br>"
        f'<span class="en">TSA: {_e(ts.tsa)}'
        + (f" · vấn đề (problem): {_e(ts.problem)}" if ts.problem else "")
        + "</span>"
    )


def _indication(indication: str | None, sub: str | None) -> str:
    """ETSI EN 319 102-1 main indication and sub-indication, as the standard names them."""
    if indication is None:
        return "—"
    return f"<code>{_e(indication)}</code>" + (f" / <code>{_e(sub)}</code>" if sub else "")


def _changes(s: SignatureReport) -> str:
    items = []
    for c in s.changes:
        verdict = (
            _label("được phép", "allowed")
            if c.allowed
            else _label("không được phép", "not allowed")
        )
        items.append(f"<li>r{c.revision} · {_e(c.kind)}: {_e(c.detail)} — {verdict}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _signature(s: SignatureReport) -> str:
    kind_vi, kind_en = _KIND.get(s.kind, (s.kind, s.kind))
    rows = [
        _row("Loại", "kind", _label(kind_vi, kind_en)),
        _row("Kết luận", "verdict", _badge(s.verdict)),
        _row("Chỉ dấu ETSI", "ETSI indication", _indication(s.indication, s.sub_indication)),
        _row("Lý do", "reasons", _list(s.reasons)),
    ]
    if s.changes:
        rows.append(_row("Thay đổi sau khi ký", "changes after signing", _changes(s)))
    if s.kind != "empty_field":
        src = s.validation_time_source
        src_vi, src_en = _TIME_SOURCE.get(src or "", (src or "—", src or "—"))
        cov_vi, cov_en = _COVERAGE.get(s.coverage or "", ("—", "—"))
        rows += [
            _row("Người ký", "signer", _cert(s.signer) if s.signer else "—"),
            _row("Chuỗi chứng thư", "certificate chain", _chain(s.chain)),
            _row(
                "Tin cậy",
                "trusted",
                _yes_no(s.trusted)
                + (f" — {_e(s.trust_anchor)}" if s.trust_anchor else "")
                + (f' <span class="en">[{_e(s.trust_problem)}]</span>' if s.trust_problem else "")
                + (f"<br>{_e(s.trust_path_problem)}" if s.trust_path_problem else ""),
            ),
            _row("Tình trạng thu hồi", "revocation", _revocation(s.revocation)),
            _row("Thời điểm ký", "signing time", _e(s.signing_time) or "—"),
            _row(
                "Thời điểm dùng để xác minh",
                "validation time",
                f"{_e(s.validation_time) or '—'} " + (_label(src_vi, src_en) if src else ""),
            ),
            _row("Dấu thời gian", "time-stamp", _timestamp(s.timestamp)),
            _row("Mức PAdES", "PAdES level", _e(s.pades_level) or "—"),
            _row(
                "Phạm vi ký",
                "coverage",
                _label(cov_vi, cov_en)
                + (
                    f' <span class="en">ByteRange {_e(list(s.byte_range))}</span>'
                    if s.byte_range
                    else ""
                ),
            ),
            _row(
                "Thay đổi sau khi ký",
                "changes after signing",
                _e(s.modification_level or "—")
                + (f"<br>{_e(s.suspicious_modification)}" if s.suspicious_modification else "")
                + (
                    f"<br>Trường thay đổi (changed fields): {_e(', '.join(s.changed_form_fields))}"
                    if s.changed_form_fields
                    else ""
                ),
            ),
            _row("Toàn vẹn", "intact", _yes_no(s.intact)),
            _row("Chữ ký mật mã đúng", "cryptographically valid", _yes_no(s.crypto_valid)),
            _row(
                "Thuật toán",
                "algorithms",
                _e(" / ".join(x for x in (s.digest_algorithm, s.signature_mechanism) if x)) or "—",
            ),
            _row("Định dạng", "SubFilter", _e(s.sub_filter) or "—"),
        ]
        if s.certification:
            rows.append(_row("Chữ ký chứng nhận", "certification (DocMDP)", _e(s.certification)))
    rows.append(_row("Ghi chú", "notes", _list(s.notes)))
    return f'<div class="card"><h3>{_e(s.field_name)}</h3><table>{"".join(rows)}</table></div>'


def render_html(report: VerificationReport) -> str:
    """The report as one HTML document (UTF-8, no external resources)."""
    summary = [
        _row("Kết luận", "verdict", _badge(report.verdict)),
        _row(
            "Chỉ dấu ETSI",
            "ETSI indication",
            _indication(report.indication, report.sub_indication),
        ),
        _row("Tệp", "file", _e(report.file_name) or "—"),
        _row("Kích thước", "size", f"{report.file_size} bytes" if report.file_size else "—"),
        _row("SHA-256", "SHA-256", f"<code>{_e(report.sha256)}</code>" if report.sha256 else "—"),
        _row("Số phiên bản", "revisions", _e(report.revisions) or "—"),
        _row("Mã hoá", "encrypted", _yes_no(report.encrypted)),
        _row("Thời điểm xác minh", "verified at", _e(report.verified_at) or "—"),
        _row("Chứng thư gốc tin cậy", "trust anchors", _list(report.trust_anchors)),
        _row(
            "Tải dữ liệu thu hồi qua mạng",
            "revocation fetching",
            _yes_no(report.fetching_allowed),
        ),
        _row("Lý do", "reasons", _list(report.reasons)),
        _row("Ghi chú", "notes", _list(report.notes)),
    ]
    none = f"<p>{_label('Không có', 'none')}</p>"
    sigs = "".join(_signature(s) for s in report.signatures) or none
    dts = "".join(_signature(s) for s in report.document_timestamps) or none
    title = "Kết quả xác minh chữ ký số (Signature verification report)"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_label('Kết quả xác minh chữ ký số', 'signature verification report')}</h1>"
        f"<table>{''.join(summary)}</table>"
        f"<h2>{_label('Các trường chữ ký', 'signature fields')}</h2>{sigs}"
        f"<h2>{_label('Dấu thời gian tài liệu', 'document time-stamps')}</h2>{dts}"
        "</body></html>\n"
    )

"""The monitors' dashboard in Chromium, on the running stack: exchanges sent by the
agencies below a province (one sealed, one unsigned, one with a paper copy) and one by
a sibling province; the province's monitor sees the figures, the ranking and why each
exchange is or is not fully electronic, downloads the exports and the quarterly report,
and never sees the sibling province."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from testkit.official_doc import official_letter
from testkit.stack import AgencyClient, metadata_to, wait_for
from tests.e2e.web import flows
from tests.e2e.web.browser import axe_violations, chromium, shot
from tests.e2e.web.conftest import FIRST, SECOND, SENDER, WebStack

pytestmark = pytest.mark.e2e

SIBLING = "000.00.00.H40"  # another province: never visible to Nghệ An's monitor
WARD = "000.01.01.H41"  # an office under Sở Nội vụ: the second level below the province
MONITOR = "giamsat@nghean.gov.vn"
CLERK = "vanthu.giamsat@nghean.gov.vn"


def _key(web: WebStack, code: str) -> AgencyClient:
    key = web.stack.cli("keys", "create", code).stdout.strip().splitlines()[-1]
    return AgencyClient(web.stack.url("ingest"), code, key)


def _received(client: AgencyClient, subject: str) -> dict[str, Any]:
    return dict(wait_for(lambda: [i for i in client.inbox() if i["subject"] == subject])[0])


def _exchanges(web: WebStack, tmp_path: Path) -> None:
    """Three exchanges from below Nghệ An, one from the sibling province."""
    stack = web.stack
    stack.cli("agencies", "add", SIBLING, "UBND tỉnh Hà Tĩnh (demo)")
    stack.cli("agencies", "add", WARD, "Phòng Tổ chức, Sở Nội vụ (demo)", "--parent", FIRST)
    first, second, sibling = _key(web, FIRST), _key(web, SECOND), _key(web, SIBLING)

    letter = tmp_path / "letter.pdf"
    letter.write_bytes(official_letter())
    sealed = tmp_path / "sealed.pdf"
    stack.cli(
        "sign", str(letter), "-o", str(sealed), "--profile", "copy", "--agency", FIRST,
        "--level", "B-B",
    )  # fmt: skip
    subject_sealed = "Về việc báo cáo số liệu văn bản điện tử quý IV"
    answer = first.send(
        sealed.read_bytes(), metadata_to(SECOND, number="31", subject=subject_sealed)
    )
    assert answer.status_code == 201, answer.text
    # The recipient registers it: the exchange is then fully electronic.
    item = _received(second, subject_sealed)
    assert second.report(item["delivery_id"], "03").status_code in (200, 201)

    unsigned = metadata_to(FIRST, number="32", subject="Về việc góp ý dự thảo quy chế")
    assert second.send(letter.read_bytes(), unsigned).status_code == 201
    paper = metadata_to(SENDER, number="33", subject="Về việc gửi kèm bản giấy hồ sơ")
    paper["Paper"] = 1
    assert first.send(letter.read_bytes(), paper).status_code == 201
    other = metadata_to(SENDER, number="34", subject="Văn bản của tỉnh bạn")
    assert sibling.send(letter.read_bytes(), other).status_code == 201


def _status(page: Page, url: str) -> int:
    response = page.goto(url)
    assert response is not None
    return response.status


def _figure(page: Page, name: str) -> str:
    return page.locator(f'[data-figure="{name}"] .value').inner_text().strip()


def test_the_monitors_dashboard(web: WebStack, tmp_path: Path) -> None:
    _exchanges(web, tmp_path)
    monitor_otp = web.add_user(
        MONITOR, SENDER, "monitor", "Lê Thị Giám Sát", "Chuyên viên Sở Nội vụ"
    )
    clerk_otp = web.add_user(CLERK, SENDER, "clerk", "Phan Văn Thư", "Văn thư")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        base = web.base

        # A clerk has no dashboard.
        flows.first_login(page, base, CLERK, clerk_otp)
        assert _status(page, f"{base}/monitor") == 403
        flows.log_out(page)

        flows.first_login(page, base, MONITOR, monitor_otp)
        page.get_by_role("link", name="Giám sát").click()
        expect(page).to_have_url(re.compile(r"/monitor"))

        # The ledger follows the events: wait until all three exchanges are counted and
        # the sealed one has been registered.
        def counted() -> bool:
            page.reload()
            if not page.locator(".figures").count():  # an error page says why
                raise AssertionError(page.locator("main").inner_text())
            return _figure(page, "exchanges") == "3" and _figure(page, "share") == "33,3%"

        wait_for(counted, timeout=60, interval=1.0)
        assert _figure(page, "not-electronic") == "2"
        assert _figure(page, "signed") == "33,3%"
        ranking = page.locator("section", has_text="Xếp hạng cơ quan trực thuộc")
        expect(ranking).to_contain_text("Sở Nội vụ tỉnh Nghệ An")
        expect(ranking).to_contain_text("Sở Tài chính tỉnh Nghệ An")
        expect(page.locator("main")).not_to_contain_text("Hà Tĩnh")
        expect(page.locator("svg.chart title").first).to_have_text(
            "Tỷ lệ văn bản điện tử theo thời gian"
        )
        # Why the two others are not: both unsigned, one with a paper copy.
        why = page.locator("#reasons")
        not_signed = why.locator("tr", has=page.locator('[data-reason="not_signed"]'))
        expect(not_signed.locator("td").first).to_have_text("2")
        paper = why.locator("tr", has=page.locator('[data-reason="paper"]'))
        expect(paper.locator("td").first).to_have_text("1")
        assert not axe_violations(page), axe_violations(page)
        shot(page, "monitor-dashboard")
        why.locator('[data-reason="paper"]').click()
        expect(page.locator("table.list tbody tr")).to_have_count(1)
        expect(page.locator("table.list")).to_contain_text("Về việc gửi kèm bản giấy hồ sơ")
        page.go_back()

        # Every figure leads to the exchanges behind it, each saying why.
        page.locator('[data-figure="not-electronic"]').click()
        table = page.locator("table.list")
        expect(table).to_contain_text("Về việc góp ý dự thảo quy chế")
        expect(table).to_contain_text("Không có chữ ký số hợp lệ của cơ quan ban hành")
        expect(table).to_contain_text("Có gửi kèm bản giấy")
        expect(table).not_to_contain_text("báo cáo số liệu văn bản điện tử quý IV")
        assert not axe_violations(page), axe_violations(page)
        shot(page, "monitor-exchanges")
        page.get_by_role("link", name="Có gửi kèm bản giấy").first.click()
        expect(page.locator("table.list tbody tr")).to_have_count(1)

        # Exports and the quarterly report.
        page.get_by_role("link", name="Về bảng giám sát").click()
        with page.expect_download() as xlsx:
            page.get_by_role("link", name="Danh sách văn bản và lý do (Excel)").click()
        assert Path(xlsx.value.path()).read_bytes()[:2] == b"PK"
        with page.expect_download() as csv:
            page.locator("ul.downloads li").first.get_by_role("link", name="CSV").click()
        assert "hoàn toàn điện tử" in Path(csv.value.path()).read_text(encoding="utf-8-sig").lower()
        href = page.get_by_role("link", name=re.compile("Báo cáo quý")).get_attribute("href")
        response = page.request.get(f"{base}{href}")
        assert response.status == 200 and response.body()[:5] == b"%PDF-"

        # The levels below the province, and never the sibling province.
        page.get_by_label("Cấp xếp hạng").select_option("1")
        page.get_by_role("button", name="Xem").click()
        expect(ranking).to_contain_text("Sở Nội vụ")
        assert _status(page, f"{base}/monitor?agency={SIBLING}") == 404
        assert _status(page, f"{base}/monitor/exchanges?agency={SIBLING}") == 404
        assert _status(page, f"{base}/monitor/download/figures.csv?agency={SIBLING}") == 404
        page.goto(f"{base}/monitor?agency={FIRST}")
        expect(page.locator("h1")).to_contain_text("Sở Nội vụ")

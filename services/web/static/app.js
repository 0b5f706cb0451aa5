// Liên Thông web: a few lines of plain JS. Every page works without it; it adds
// keyboard shortcuts, the draggable signature box, live progress and refreshes.
"use strict";
(function () {
  const typing = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);

  // Keyboard: "/" search, j/k move in lists, Enter opens, a screen's main action by its letter.
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) return;
    const list = document.querySelector("[data-list] tbody");
    if ((e.key === "j" || e.key === "k") && list) {
      const rows = Array.from(list.rows);
      let i = rows.findIndex((r) => r.classList.contains("active"));
      rows.forEach((r) => r.classList.remove("active"));
      i = e.key === "j" ? Math.min(rows.length - 1, i + 1) : Math.max(0, i - 1);
      const row = rows[i];
      if (row) { row.classList.add("active"); const a = row.querySelector("a"); if (a) a.focus(); }
      e.preventDefault();
      return;
    }
    const target = document.querySelector('[data-shortcut="' + e.key + '"]');
    if (target) {
      e.preventDefault();
      if (target.tagName === "INPUT") target.focus();
      else if (target.tagName === "A") target.click();
      else { const pin = target.form && target.form.querySelector("input[name=pin]"); if (pin && !pin.value) pin.focus(); else target.click(); }
    }
  });

  // Select all rows of a list.
  document.querySelectorAll("[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      box.closest("table").querySelectorAll("tbody input[type=checkbox]").forEach((c) => { c.checked = box.checked; });
    });
  });

  // Filter a list as one types (recipients by name or code).
  document.querySelectorAll("[data-filter]").forEach((input) => {
    input.addEventListener("input", () => {
      const words = input.value.trim().toLowerCase();
      document.querySelectorAll(input.dataset.filter).forEach((li) => { li.hidden = words && !li.textContent.toLowerCase().includes(words); });
    });
  });

  // The signature box: where Decree 30 puts it, dragged (or moved with arrow keys) elsewhere.
  document.querySelectorAll(".page[data-placement]").forEach((page) => {
    const p = JSON.parse(page.dataset.placement);
    const [px1, , px2, py2] = p.page_box;
    let [x1, y1, x2, y2] = p.box;
    const box = page.querySelector(".sigbox");
    const img = page.querySelector("img");
    const form = document.getElementById("sign-form");
    const scale = () => img.clientWidth / (px2 - px1);
    const draw = () => {
      const s = scale();
      box.style.left = (x1 - px1) * s + "px"; box.style.top = (py2 - y2) * s + "px";
      box.style.width = (x2 - x1) * s + "px"; box.style.height = (y2 - y1) * s + "px";
    };
    const moved = () => { if (form) form.elements.box.value = JSON.stringify([x1, y1, x2, y2].map((v) => Math.round(v * 10) / 10)); };
    const move = (dx, dy) => {
      const w = x2 - x1, h = y2 - y1;
      x1 = Math.max(px1, Math.min(px2 - w, x1 + dx)); x2 = x1 + w;
      y1 = Math.max(p.page_box[1], Math.min(py2 - h, y1 + dy)); y2 = y1 + h;
      draw(); moved();
    };
    img.complete ? draw() : img.addEventListener("load", draw);
    window.addEventListener("resize", draw);
    let start = null;
    box.addEventListener("pointerdown", (e) => { start = [e.clientX, e.clientY]; box.setPointerCapture(e.pointerId); });
    box.addEventListener("pointermove", (e) => {
      if (!start) return;
      const s = scale();
      move((e.clientX - start[0]) / s, -(e.clientY - start[1]) / s);
      start = [e.clientX, e.clientY];
    });
    box.addEventListener("pointerup", () => { start = null; });
    box.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 20 : 5;
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[e.key];
      if (d) { e.preventDefault(); move(d[0], d[1]); }
    });
  });

  // A batch's live progress.
  const batch = document.getElementById("batch");
  if (batch) {
    const words = JSON.parse(document.getElementById("batch-words").textContent);
    const tick = async () => {
      const answer = await fetch(batch.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const p = await answer.json();
      document.getElementById("bar").value = p.finished;
      document.getElementById("finished").textContent = p.finished;
      document.getElementById("failed").textContent = p.failed;
      p.items.forEach((item) => {
        const cell = batch.querySelector('tr[data-draft="' + item.draft + '"] td.st');
        if (cell) { cell.className = "st " + item.state; cell.textContent = words[item.state] + (item.message ? ": " + item.message : ""); }
      });
      if (!p.done) setTimeout(tick, 300); else batch.dataset.done = "1";
    };
    tick();
  }

  // Timelines refresh while the page is open.
  const timelines = document.getElementById("timelines");
  if (timelines && timelines.dataset.refresh) {
    setInterval(async () => {
      const answer = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!answer.ok) return;
      const doc = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = doc.getElementById("timelines");
      if (fresh && fresh.innerHTML !== timelines.innerHTML) timelines.innerHTML = fresh.innerHTML;
    }, Number(timelines.dataset.refresh) * 1000);
  }

  // Drop a PDF on the verify form.
  document.querySelectorAll(".dropzone").forEach((zone) => {
    const input = zone.querySelector("input[type=file]");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault(); zone.classList.remove("over");
      if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; zone.requestSubmit(); }
    });
  });
})();

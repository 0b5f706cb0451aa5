"""PDF pages as images, rendered on the server by poppler (pdftoppm), cached on disk
by the file's hash. Untrusted files: each render runs in its own process, bounded."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from services.common.errors import ValidationFailed

RENDER_SECONDS = 30
_PAGES = re.compile(rb"^Pages:\s+(\d+)", re.MULTILINE)


class PageRenderer:
    def __init__(self, cache_dir: Path, resolution: int = 96) -> None:
        self.cache_dir = cache_dir
        self.resolution = resolution

    def page_count(self, pdf: bytes) -> int:
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            try:
                done = subprocess.run(
                    ["pdfinfo", f.name], capture_output=True, timeout=RENDER_SECONDS, check=False
                )
            except subprocess.TimeoutExpired as e:
                raise ValidationFailed("the PDF could not be read in time") from e
        found = _PAGES.search(done.stdout)
        if done.returncode != 0 or found is None:
            raise ValidationFailed("the file is not a readable PDF")
        return int(found.group(1))

    def page_png(self, sha256: str, pdf_bytes: bytes | None, page: int) -> Path:
        """Page ``page`` (1-based) of the PDF with this hash; ``pdf_bytes`` is read only
        when the page is not cached yet (None: the caller fetches it, see ``cached``)."""
        target = self.cache_dir / sha256[:2] / f"{sha256}-{page}-{self.resolution}.png"
        if target.exists():
            return target
        if pdf_bytes is None:
            raise FileNotFoundError(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir) as tmp:
            source = Path(tmp) / "in.pdf"
            source.write_bytes(pdf_bytes)
            out = Path(tmp) / "page"
            try:
                done = subprocess.run(
                    [
                        "pdftoppm",
                        "-png",
                        "-r",
                        str(self.resolution),
                        "-f",
                        str(page),
                        "-l",
                        str(page),
                        "-singlefile",
                        str(source),
                        str(out),
                    ],
                    capture_output=True,
                    timeout=RENDER_SECONDS,
                    check=False,
                )
            except subprocess.TimeoutExpired as e:
                raise ValidationFailed("the page could not be drawn in time") from e
            rendered = out.with_suffix(".png")
            if done.returncode != 0 or not rendered.exists():
                raise ValidationFailed(f"page {page} could not be drawn")
            rendered.replace(target)
        return target

    def cached(self, sha256: str, page: int) -> Path | None:
        target = self.cache_dir / sha256[:2] / f"{sha256}-{page}-{self.resolution}.png"
        return target if target.exists() else None

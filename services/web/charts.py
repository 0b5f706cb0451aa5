"""Charts drawn on the server as SVG: no script, no CDN, printable, and readable by a
screen reader (each chart has a title and a description; the page also shows the same
figures as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 40


@dataclass(frozen=True)
class Series:
    label: str
    colour: str  # a CSS colour; the legend names it too, colour is never the only cue
    values: Sequence[float | None]  # shares 0..1, one per period; None: nothing to count


def share_chart(
    periods: Sequence[str], series: Sequence[Series], *, title: str, description: str
) -> Markup:
    """Grouped bars, one group per period, one bar per series, 0–100 %."""
    n = max(len(periods), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / n
    bar_w = max(2.0, min(28.0, group_w * 0.8 / max(len(series), 1)))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 24 * len(series)}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
    ]
    for pct in (0, 25, 50, 75, 100):
        y = TOP + plot_h * (1 - pct / 100)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#d0d5dd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{pct}%</text>'
        )
    step = max(1, n // 12)  # at most about twelve period labels
    for i, period in enumerate(periods):
        x0 = LEFT + group_w * i + (group_w - bar_w * len(series)) / 2
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else None
            if value is None:
                continue
            h = plot_h * max(0.0, min(1.0, value))
            x, y = x0 + j * bar_w, TOP + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{s.colour}"><title>{escape(s.label)}, {escape(period)}: '
                f"{value * 100:.1f}%</title></rect>"
            )
        if i % step == 0:
            cx = LEFT + group_w * (i + 0.5)
            parts.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11">{escape(period)}</text>'
            )
    for j, s in enumerate(series):
        y = HEIGHT + 24 * j
        parts.append(
            f'<rect x="{LEFT}" y="{y - 10}" width="14" height="14" fill="{s.colour}"/>'
            f'<text x="{LEFT + 22}" y="{y + 2}" font-size="12">{escape(s.label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))

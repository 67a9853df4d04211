"""Dashboard charts drawn on the server as SVG (no script, nothing from a CDN). Each function takes
plain numbers and returns markup that is safe to embed: every text is escaped."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK, MUTED, OK, BAD, GRID = "#1d2330", "#565d6b", "#17753f", "#b42525", "#d9dce3"


def _svg(width: int, height: int, title: str, body: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308 - every text inside went through escape()
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">'
        f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, anchor: str = "middle", fill: str = MUTED, size: int = 12) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}">'
            f"{escape(text)}</text>")


def share_bars(rows: list[tuple[str, int, int]], title: str) -> SafeString:
    """Stacked bars per bucket: (label, confirmed, rejected) -> the confirmed share, with n."""
    width, height, left, bottom, top = 560, 220, 40, 40, 16
    plot_w, plot_h = width - left - 10, height - top - bottom
    body = [f'<line x1="{left}" y1="{top + plot_h * (1 - f):.1f}" x2="{width - 10}" y2="{top + plot_h * (1 - f):.1f}" '
            f'stroke="{GRID}"/>' + _text(left - 6, top + plot_h * (1 - f) + 4, f"{f:.0%}", "end")
            for f in (0, 0.5, 1)]
    step = plot_w / max(len(rows), 1)
    for i, (label, good, bad) in enumerate(rows):
        n = good + bad
        x, w = left + i * step + step * 0.15, step * 0.7
        share = good / n if n else 0
        h = plot_h * share
        body.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{plot_h:.1f}" fill="{BAD}" '
                    f'fill-opacity="{0.85 if n else 0.08}"><title>{escape(label)}: {bad} rejected</title></rect>')
        body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{OK}">'
                    f"<title>{escape(label)}: {good} of {n} confirmed</title></rect>")
        body.append(_text(x + w / 2, top + plot_h + 16, label))
        body.append(_text(x + w / 2, top + plot_h + 30, f"n={n}", size=11))
    return _svg(width, height, title, body)


def day_bars(rows: list[tuple[str, int]], title: str) -> SafeString:
    """One bar per day: (label, decisions)."""
    width, height, left, bottom, top = 560, 200, 40, 34, 16
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max([n for _, n in rows] + [1])
    step = plot_w / max(len(rows), 1)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="{GRID}"/>',
            _text(left - 6, top + 4, str(peak), "end"), _text(left - 6, top + plot_h + 4, "0", "end")]
    for i, (label, n) in enumerate(rows):
        x, w, h = left + i * step + step * 0.15, step * 0.7, plot_h * n / peak
        body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#2f4fc7">'
                    f"<title>{escape(label)}: {n} decisions</title></rect>")
        if len(rows) <= 8 or i % 2 == (len(rows) - 1) % 2:  # every other day when crowded, always the last
            body.append(_text(x + w / 2, top + plot_h + 16, label, size=11))
    return _svg(width, height, title, body)


def heat_map(labels_y: list[str], labels_x: list[str], counts: dict[tuple[str, str], int],
             title: str) -> SafeString:
    """Counts of (row, column) pairs as shaded cells; the diagonal is where the two agree."""
    cell, left, top = 30, 110, 100
    width, height = left + cell * len(labels_x) + 10, top + cell * len(labels_y) + 10
    peak = max(list(counts.values()) + [1])
    body = []
    for j, name in enumerate(labels_x):
        x = left + j * cell + cell / 2
        body.append(f'<text transform="translate({x:.1f},{top - 6}) rotate(-50)" fill="{MUTED}" font-size="11">'
                    f"{escape(name)}</text>")
    for i, row in enumerate(labels_y):
        y = top + i * cell
        body.append(_text(left - 6, y + cell / 2 + 4, row, "end", size=11))
        for j, col in enumerate(labels_x):
            n = counts.get((row, col), 0)
            shade = 0.08 + 0.92 * (n / peak) if n else 0.03
            color = OK if row == col else BAD
            body.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{color}" '
                        f'fill-opacity="{shade:.2f}"><title>seller {escape(row)}, final {escape(col)}: {n}</title>'
                        "</rect>")
            if n:
                fill = "#ffffff" if shade > 0.55 else INK
                body.append(_text(left + j * cell + (cell - 2) / 2, y + cell / 2 + 3, str(n), fill=fill, size=10))
    return _svg(width, height, title, body)

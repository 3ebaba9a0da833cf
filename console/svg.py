"""Charts and maps drawn on the server as SVG: no script, no tile server, text escaped as any page text."""

from markupsafe import escape

BAR_COLOURS = ("#2f6fb0", "#3a9a5b", "#c0392b", "#8e6bb3")


def bars(rows: list[tuple[str, list[float]]], series: list[str], *, width: int = 640) -> str:
    """A horizontal grouped bar chart: one row per label, one bar per series, the value printed beside it."""
    top = max((v for _, values in rows for v in values), default=0) or 1
    bar, gap, left = 14, 10, 170
    height = max(1, len(rows)) * (bar * len(series) + gap) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'viewBox="0 0 {width} {height}"><title>{escape(" / ".join(series))}</title>']
    for i, name in enumerate(series):
        out.append(f'<rect x="{left + i * 120}" y="4" width="10" height="10" fill="{BAR_COLOURS[i % 4]}"/>'
                   f'<text x="{left + i * 120 + 14}" y="13" font-size="11">{escape(name)}</text>')
    y = 26
    for label, values in rows:
        out.append(f'<text x="{left - 6}" y="{y + bar}" font-size="12" text-anchor="end">{escape(label[:18])}</text>')
        for i, value in enumerate(values):
            length = (width - left - 60) * (value or 0) / top
            out.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar - 2}" '
                       f'fill="{BAR_COLOURS[i % 4]}"/><text x="{left + length + 4:.1f}" y="{y + bar - 3}" '
                       f'font-size="11">{value:g}</text>')
            y += bar
        y += gap
    out.append("</svg>")
    return "".join(out)


def points_map(points: list[dict], *, width: int = 640, height: int = 420, marker: dict | None = None) -> str:
    """Points placed by their coordinates (an equirectangular projection fitted to their box), each a circle
    sized by its problem count and titled with its name; `marker` (lat, lng) is drawn as a cross."""
    located = _located(points)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" fill="#f4f6f8"/>']
    if located or marker:
        xy = _projection(located + ([marker] if marker else []), width, height)
        top = max([p.get("count", 0) for p in located] + [1])
        out += [_circle(p, xy, top) for p in located]
        out += [_cross(*xy(marker["lat"], marker["lng"]))] if marker else []
    out.append("</svg>")
    return "".join(out)


def _located(points: list[dict]) -> list[dict]:
    return [p for p in points if p.get("lat") is not None and p.get("lng") is not None]


def _projection(located: list[dict], width: int, height: int):
    """(lat, lng) → (x, y): the box of `located` centred and scaled to fit (at least about 200 m across)."""
    lats, lngs = [p["lat"] for p in located], [p["lng"] for p in located]
    span = max(max(lats) - min(lats), max(lngs) - min(lngs), 0.002)
    scale = min(width, height) * 0.85 / span
    cx, cy = (max(lngs) + min(lngs)) / 2, (max(lats) + min(lats)) / 2
    return lambda lat, lng: (width / 2 + (lng - cx) * scale, height / 2 - (lat - cy) * scale)


def _cross(x: float, y: float) -> str:
    return (f'<path d="M{x - 8:.1f} {y:.1f}H{x + 8:.1f}M{x:.1f} {y - 8:.1f}V{y + 8:.1f}" stroke="#c0392b" '
            'stroke-width="3"/>')


def _circle(point: dict, xy, top: int) -> str:
    x, y = xy(point["lat"], point["lng"])
    r = 4 + 14 * (point.get("count", 0) / top)
    fill = "#c0392b" if point.get("hot") else "#2f6fb0"
    circle = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" fill-opacity="0.6">'
              f'<title>{escape(point["name"])}: {point.get("count", 0)}</title></circle>')
    if point.get("hot"):
        circle += f'<text x="{x + r + 2:.1f}" y="{y + 4:.1f}" font-size="11">{escape(point["name"][:16])}</text>'
    return circle

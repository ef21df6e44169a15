"""The report's two drawings, as inline SVG text: the timeline chart and the lateral-movement graph.

Hand-drawn SVG instead of a charting library: the report must open offline from a USB stick with
no scripts fetched, and the bytes must be identical for the same case (fixed-precision numbers,
sorted inputs). Every label is escaped: host names and accounts come from attacker-written logs.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

from forensics.timeutil import IST, parse_iso_utc

LEVEL_COLOURS = {
    "critical": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#1976d2", "informational": "#78909c",
}  # fmt: skip
METHOD_COLOURS = {
    "RDP": "#6a1b9a", "SMB/PsExec": "#c62828", "SMB/network logon": "#ef6c00", "SMB admin share": "#ef6c00",
    "WinRM": "#2e7d32", "WMI": "#00838f", "SSH": "#1565c0", "explicit credentials": "#5d4037",
}  # fmt: skip
MAX_LANES = 40
MAX_NODES = 40
TICKS = 5  # time labels across the chart; five leave room for full dates


def _f(x: float) -> str:
    """Fixed-precision number text, so the same drawing always has the same bytes."""
    return f"{x:.1f}"


def _t(s: str | None) -> datetime | None:
    return parse_iso_utc(s) if s else None


def timeline_chart(
    findings: list[dict[str, Any]],
    coverage: list[dict[str, Any]],
    lateral: list[dict[str, Any]],
    offsets: dict[str, float],
) -> str:
    """Hosts as lanes over corrected time: coverage bars, findings as dots, lateral hops as arrows.

    ``findings`` items need ``host``, ``level``, ``title``, ``first_utc``, ``last_utc`` (corrected).
    """
    lanes = _lanes(findings, coverage, lateral)
    times = [t for f in findings for t in (_t(f["first_utc"]), _t(f["last_utc"])) if t]
    times += [t for e in lateral for t in (_t(e["first_utc"]),) if t]
    if not times:
        times = [t for c in coverage for t in (_t(c["first_utc"]), _t(c["last_utc"])) if t]
    if not lanes or not times:
        return '<p class="muted">Nothing to draw: no timed findings or events.</p>'
    lo, hi = min(times), max(times)
    span = max((hi - lo).total_seconds(), 60.0)
    pad = span * 0.04
    t0 = lo.timestamp() - pad
    total = span + 2 * pad
    left, right, top, lane_h = 175.0, 20.0, 50.0, 30.0
    width = 1200.0
    plot_w = width - left - right
    height = top + lane_h * len(lanes) + 20.0

    def x(dt: datetime) -> float:
        """Horizontal position of a time."""
        return left + (dt.timestamp() - t0) / total * plot_w

    y_of = {h: top + lane_h * i + lane_h / 2 for i, h in enumerate(lanes)}
    out = [
        f'<svg id="timeline-chart" xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" role="img" aria-label="Attack timeline by host">',
        '<defs><marker id="tl-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
    ]
    out += _ticks(t0, total, left, plot_w, top, height)
    for h in lanes:
        y = y_of[h]
        out.append(f'<line x1="{_f(left)}" y1="{_f(y)}" x2="{_f(width - right)}" y2="{_f(y)}" stroke="#eef1f5" '
                   'stroke-width="14"/>')  # fmt: skip
        label = h if len(h) <= 24 else h[:23] + "…"
        off = offsets.get(h)
        out.append(f'<text x="{_f(left - 8)}" y="{_f(y + 4)}" text-anchor="end">{escape(label)}'
                   + (f'<tspan fill="#b71c1c"> *</tspan><title>{escape(h)}: clock offset {off:+.1f} s corrected</title>'
                      if off else f"<title>{escape(h)}</title>") + "</text>")  # fmt: skip
    out += _coverage_bars(coverage, lanes, y_of, x, t0, total, left, plot_w)
    for e in lateral:
        ts = _t(e["first_utc"])
        if ts is None or e["source"] not in y_of or e["target"] not in y_of:
            continue
        colour = METHOD_COLOURS.get(e["method"], "#444")
        xs = x(ts)
        out.append(
            f'<line class="hop" x1="{_f(xs)}" y1="{_f(y_of[e["source"]])}" x2="{_f(xs)}" y2="{_f(y_of[e["target"]])}" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3" marker-end="url(#tl-arrow)">'
            f"<title>{escape(e['source'])} → {escape(e['target'])} {escape(e['method'])} as {escape(e['account'] or '?')} "
            f"at {escape(e['first_utc'] or '')}</title></line>"
        )
    for f in findings:
        out += _finding_mark(f, y_of, x)
    out.append("</svg>")
    return "\n".join(out)


def _lanes(
    findings: list[dict[str, Any]], coverage: list[dict[str, Any]], lateral: list[dict[str, Any]]
) -> list[str]:
    """Hosts with findings first (by first finding), then hosts only in lateral edges or coverage."""
    first: dict[str, str] = {}
    for f in findings:
        if f.get("host") and f.get("first_utc"):
            first[f["host"]] = min(first.get(f["host"], "~"), f["first_utc"])
    lanes = sorted(first, key=lambda h: (first[h], h))
    for e in lateral:
        for h in (e["source"], e["target"]):
            if h not in lanes and not h.startswith("("):
                lanes.append(h)
    for c in coverage:
        if c.get("host") and c["host"] not in lanes:
            lanes.append(c["host"])
    return lanes[:MAX_LANES]


def _ticks(t0: float, total: float, left: float, plot_w: float, top: float, height: float) -> list[str]:
    out = [
        f'<text x="{_f(left)}" y="12" fill="#5f6b7a">UTC above, IST below; * = host clock corrected</text>'
    ]
    long_span = total > 86400
    for i in range(TICKS):
        frac = i / (TICKS - 1)
        u = datetime.fromtimestamp(t0 + total * frac, tz=UTC)
        ist = u.astimezone(IST)
        xpos = left + plot_w * frac
        anchor = "start" if i == 0 else "end" if i == TICKS - 1 else "middle"
        fmt = "%Y-%m-%d %H:%M" if long_span else "%H:%M:%S"
        first = u.strftime("%Y-%m-%d ") if i == 0 and not long_span else ""
        out.append(
            f'<line x1="{_f(xpos)}" y1="{_f(top - 8)}" x2="{_f(xpos)}" y2="{_f(height - 14)}" stroke="#e3e7ed"/>'
        )
        out.append(f'<text x="{_f(xpos)}" y="26" text-anchor="{anchor}">{first}{u.strftime(fmt)} UTC</text>')
        out.append(f'<text x="{_f(xpos)}" y="38" text-anchor="{anchor}" fill="#5f6b7a">'
                   f'{ist.strftime(fmt)} IST</text>')  # fmt: skip
    return out


def _coverage_bars(
    coverage: list[dict[str, Any]], lanes: list[str], y_of: dict[str, float], x: Any,
    t0: float, total: float, left: float, plot_w: float,
) -> list[str]:  # fmt: skip
    spans: dict[str, tuple[datetime, datetime]] = {}
    for c in coverage:
        h, a, b = c.get("host"), _t(c.get("first_utc")), _t(c.get("last_utc"))
        if h in y_of and a and b:
            lo, hi = spans.get(h, (a, b))
            spans[h] = (min(lo, a), max(hi, b))
    out = []
    for h in lanes:
        if h not in spans:
            continue
        a = max(x(spans[h][0]), left)
        b = min(x(spans[h][1]), left + plot_w)
        if b <= a:
            continue
        out.append(f'<line class="coverage" x1="{_f(a)}" y1="{_f(y_of[h])}" x2="{_f(b)}" y2="{_f(y_of[h])}" '
                   f'stroke="#b8c2cf" stroke-width="4"><title>{escape(h)}: logs cover {escape(spans[h][0].isoformat())} '
                   f'.. {escape(spans[h][1].isoformat())}</title></line>')  # fmt: skip
    return out


def _finding_mark(f: dict[str, Any], y_of: dict[str, float], x: Any) -> list[str]:
    a, b = _t(f.get("first_utc")), _t(f.get("last_utc"))
    host = f.get("host")
    if a is None or host not in y_of:
        return []
    colour = LEVEL_COLOURS.get(f.get("level") or "", "#444")
    y = y_of[host]
    tip = escape(f"[{f.get('level')}] {f.get('title')} on {host} at {f.get('first_utc')}")
    out = []
    if b is not None and b > a:
        out.append(f'<line x1="{_f(x(a))}" y1="{_f(y)}" x2="{_f(x(b))}" y2="{_f(y)}" stroke="{colour}" '
                   'stroke-width="6" stroke-linecap="round" opacity="0.6"/>')  # fmt: skip
    out.append(f'<circle class="finding-dot" cx="{_f(x(a))}" cy="{_f(y)}" r="6" fill="{colour}" stroke="#fff" '
               f'stroke-width="1"><title>{tip}</title></circle>')  # fmt: skip
    return out


def lateral_graph(lateral: list[dict[str, Any]], patient_zero: str | None, impact_hosts: set[str]) -> str:
    """Hosts on a circle, one arrow per (source, target, method), labelled with method and account."""
    nodes: list[str] = []
    for e in lateral:
        for h in (e["source"], e["target"]):
            if h not in nodes:
                nodes.append(h)
    nodes = nodes[:MAX_NODES]
    if not nodes:
        return '<p class="muted">No lateral movement was found in the events.</p>'
    width, height = 900.0, 560.0
    cx, cy, radius = width / 2, height / 2 + 10, min(width, height) / 2 - 80
    pos = {}
    for i, h in enumerate(nodes):
        ang = -math.pi / 2 + 2 * math.pi * i / len(nodes)
        pos[h] = (cx + radius * math.cos(ang), cy + radius * math.sin(ang))
    out = [
        f'<svg id="lateral-graph" xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" role="img" aria-label="Lateral movement graph">',
        "<defs>" + "".join(
            f'<marker id="lm-arrow-{i}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
            for i, c in enumerate(_colours())
        ) + "</defs>",
        '<text x="12" y="20" fill="#5f6b7a">arrow: source → target, labelled with the method (accounts in the tooltip and the table); '
        'red ring: patient zero; dark fill: impact</text>',
    ]  # fmt: skip
    for pair in _pairs(lateral):
        if pair["source"] in pos and pair["target"] in pos:
            out.append(_edge(pair, pos))
    for h in nodes:
        px, py = pos[h]
        ring = "#b71c1c" if h == patient_zero else "#37474f"
        fill = "#37474f" if h in impact_hosts else "#eceff1"
        label = _short_host(h)
        # the name sits under the circle with a white halo, so arrows and dark fills never hide it
        out.append(
            f'<g class="node"><circle cx="{_f(px)}" cy="{_f(py)}" r="26" fill="{fill}" stroke="{ring}" '
            f'stroke-width="{4 if h == patient_zero else 1.5}"/>'
            f'<text x="{_f(px)}" y="{_f(py + 42)}" text-anchor="middle" font-weight="bold" stroke="#ffffff" '
            f'stroke-width="4" paint-order="stroke" style="fill:#1d2430">{escape(label)}</text>'
            f"<title>{escape(h)}</title></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _colours() -> list[str]:
    return [*METHOD_COLOURS.values(), "#444"]


def _pairs(lateral: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One arrow per (source, target): methods and accounts merged, the busiest method first."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in lateral:
        grouped.setdefault((e["source"], e["target"]), []).append(e)
    out = []
    for (src, dst), es in grouped.items():
        counts: dict[str, int] = {}
        for e in es:
            counts[e["method"]] = counts.get(e["method"], 0) + e["count"]
        methods = sorted(counts, key=lambda m: (-counts[m], m))
        accounts = sorted({e["account"] or "?" for e in es})
        out.append({
            "source": src, "target": dst, "method": methods[0], "methods": methods, "accounts": accounts,
            "count": sum(counts.values()), "first_utc": min((e["first_utc"] or "~") for e in es),
        })  # fmt: skip
    return out


def _short_host(h: str) -> str:
    """``WIN-TS01.dims.local`` -> ``WIN-TS01``; addresses stay whole."""
    if h.replace(".", "").isdigit() or ":" in h:
        return h
    short = h.split(".", 1)[0]
    return short if len(short) <= 20 else short[:19] + "…"


def _edge(e: dict[str, Any], pos: dict[str, tuple[float, float]]) -> str:
    (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
    dx, dy = x2 - x1, y2 - y1
    dist = math.hypot(dx, dy) or 1.0
    ux, uy = dx / dist, dy / dist
    # stop at the node circles; bend parallel edges apart so their labels do not overlap
    sx, sy, ex, ey = x1 + ux * 28, y1 + uy * 28, x2 - ux * 30, y2 - uy * 30
    bend = 25.0
    mx, my = (sx + ex) / 2 - uy * bend, (sy + ey) / 2 + ux * bend
    colours = _colours()
    colour = METHOD_COLOURS.get(e["method"], "#444")
    idx = colours.index(colour)
    # the label names the main method only: accounts and other methods are in the tooltip and the
    # table under the graph, so labels of converging edges do not pile on each other
    label = e["methods"][0] + (" …" if len(e["methods"]) > 1 else "")
    tip = (
        f"{e['source']} → {e['target']}: {', '.join(e['methods'])} as {', '.join(e['accounts'])}, "
        f"{e['count']}x, first {e['first_utc']}"
    )
    # label at t = 0.65 on the curve, nearer the target: arrows fanning out of one host keep apart there
    t = 0.65
    lx = (1 - t) ** 2 * sx + 2 * (1 - t) * t * mx + t**2 * ex
    ly = (1 - t) ** 2 * sy + 2 * (1 - t) * t * my + t**2 * ey
    return (
        f'<g class="edge"><path d="M{_f(sx)},{_f(sy)} Q{_f(mx)},{_f(my)} {_f(ex)},{_f(ey)}" fill="none" '
        f'stroke="{colour}" stroke-width="2" marker-end="url(#lm-arrow-{idx})"/>'
        f'<text x="{_f(lx)}" y="{_f(ly)}" text-anchor="middle" stroke="#ffffff" stroke-width="3" '
        f'paint-order="stroke" style="fill:{colour}">{escape(label)}</text>'
        f"<title>{escape(tip)}</title></g>"
    )

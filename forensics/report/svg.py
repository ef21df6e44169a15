"""The report's two drawings, as inline SVG: the timeline chart and the lateral-movement graph.

Hand-drawn SVG instead of a charting library: the report must open offline from a USB stick with
no scripts fetched, and the bytes must be identical for the same case (fixed-precision numbers,
sorted inputs). The functions here compute the geometry; the templates
(``templates/*.svg.j2``) write the markup, escaping every label (host names and accounts come
from attacker-written logs).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from forensics.report.templating import render
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
    return str(render("timeline_chart.svg.j2", c=_chart(findings, coverage, lateral, offsets)))


def _chart(
    findings: list[dict[str, Any]],
    coverage: list[dict[str, Any]],
    lateral: list[dict[str, Any]],
    offsets: dict[str, float],
) -> dict[str, Any] | None:
    """The chart's geometry, numbers as fixed-precision text; None when there is nothing to draw."""
    lanes = _lanes(findings, coverage, lateral)
    times = [t for f in findings for t in (_t(f["first_utc"]), _t(f["last_utc"])) if t]
    times += [t for e in lateral for t in (_t(e["first_utc"]),) if t]
    if not times:
        times = [t for c in coverage for t in (_t(c["first_utc"]), _t(c["last_utc"])) if t]
    if not lanes or not times:
        return None
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
    hops = []
    for e in lateral:
        ts = _t(e["first_utc"])
        if ts is None or e["source"] not in y_of or e["target"] not in y_of:
            continue
        hops.append({
            "x": _f(x(ts)), "y1": _f(y_of[e["source"]]), "y2": _f(y_of[e["target"]]),
            "colour": METHOD_COLOURS.get(e["method"], "#444"),
            "title": f"{e['source']} → {e['target']} {e['method']} as {e['account'] or '?'} at {e['first_utc'] or ''}",
        })  # fmt: skip
    return {
        "width": _f(width), "height": _f(height), "left": _f(left), "right": _f(width - right),
        "label_x": _f(left - 8), "ticks": _ticks(t0, total, left, plot_w, top, height),
        "lanes": [_lane(h, y_of[h], offsets.get(h)) for h in lanes],
        "bars": _coverage_bars(coverage, lanes, y_of, x, left, plot_w), "hops": hops,
        "marks": [m for f in findings if (m := _finding_mark(f, y_of, x)) is not None],
    }  # fmt: skip


def _lane(host: str, y: float, offset: float | None) -> dict[str, Any]:
    return {"host": host, "label": host if len(host) <= 24 else host[:23] + "…", "y": _f(y), "text_y": _f(y + 4),
            "offset": f"{offset:+.1f}" if offset else None}  # fmt: skip


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


def _ticks(t0: float, total: float, left: float, plot_w: float, top: float, height: float) -> list[dict[str, str]]:
    long_span = total > 86400
    out = []
    for i in range(TICKS):
        frac = i / (TICKS - 1)
        u = datetime.fromtimestamp(t0 + total * frac, tz=UTC)
        ist = u.astimezone(IST)
        fmt = "%Y-%m-%d %H:%M" if long_span else "%H:%M:%S"
        first = u.strftime("%Y-%m-%d ") if i == 0 and not long_span else ""
        out.append({
            "x": _f(left + plot_w * frac), "y1": _f(top - 8), "y2": _f(height - 14),
            "anchor": "start" if i == 0 else "end" if i == TICKS - 1 else "middle",
            "utc": first + u.strftime(fmt), "ist": ist.strftime(fmt),
        })  # fmt: skip
    return out


def _coverage_bars(
    coverage: list[dict[str, Any]], lanes: list[str], y_of: dict[str, float], x: Any, left: float, plot_w: float,
) -> list[dict[str, str]]:  # fmt: skip
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
        out.append({"host": h, "x1": _f(a), "x2": _f(b), "y": _f(y_of[h]), "first": spans[h][0].isoformat(),
                    "last": spans[h][1].isoformat()})  # fmt: skip
    return out


def _finding_mark(f: dict[str, Any], y_of: dict[str, float], x: Any) -> dict[str, Any] | None:
    a, b = _t(f.get("first_utc")), _t(f.get("last_utc"))
    host = f.get("host")
    if a is None or host not in y_of:
        return None
    return {
        "x": _f(x(a)), "x2": _f(x(b)) if b is not None and b > a else None, "y": _f(y_of[host]),
        "colour": LEVEL_COLOURS.get(f.get("level") or "", "#444"),
        "tip": f"[{f.get('level')}] {f.get('title')} on {host} at {f.get('first_utc')}",
    }  # fmt: skip


def lateral_graph(lateral: list[dict[str, Any]], patient_zero: str | None, impact_hosts: set[str]) -> str:
    """Hosts on a circle, one arrow per (source, target), labelled with its main method."""
    return str(render("lateral_graph.svg.j2", g=_graph(lateral, patient_zero, impact_hosts)))


def _graph(lateral: list[dict[str, Any]], patient_zero: str | None, impact_hosts: set[str]) -> dict[str, Any] | None:
    """The graph's geometry, numbers as fixed-precision text; None without lateral movement."""
    nodes: list[str] = []
    for e in lateral:
        for h in (e["source"], e["target"]):
            if h not in nodes:
                nodes.append(h)
    nodes = nodes[:MAX_NODES]
    if not nodes:
        return None
    width, height = 900.0, 560.0
    cx, cy, radius = width / 2, height / 2 + 10, min(width, height) / 2 - 80
    pos = {}
    for i, h in enumerate(nodes):
        ang = -math.pi / 2 + 2 * math.pi * i / len(nodes)
        pos[h] = (cx + radius * math.cos(ang), cy + radius * math.sin(ang))
    edges = [_edge(p, pos) for p in _pairs(lateral) if p["source"] in pos and p["target"] in pos]
    # the name sits under the circle with a white halo, so arrows and dark fills never hide it
    drawn = [{
        "host": h, "x": _f(pos[h][0]), "y": _f(pos[h][1]), "label_y": _f(pos[h][1] + 42), "label": _short_host(h),
        "fill": "#37474f" if h in impact_hosts else "#eceff1", "ring": "#b71c1c" if h == patient_zero else "#37474f",
        "ring_width": 4 if h == patient_zero else 1.5,
    } for h in nodes]  # fmt: skip
    return {"width": _f(width), "height": _f(height), "colours": _colours(), "edges": edges, "nodes": drawn}


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


def _edge(e: dict[str, Any], pos: dict[str, tuple[float, float]]) -> dict[str, Any]:
    (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
    dx, dy = x2 - x1, y2 - y1
    dist = math.hypot(dx, dy) or 1.0
    ux, uy = dx / dist, dy / dist
    # stop at the node circles; bend parallel edges apart so their labels do not overlap
    sx, sy, ex, ey = x1 + ux * 28, y1 + uy * 28, x2 - ux * 30, y2 - uy * 30
    bend = 25.0
    mx, my = (sx + ex) / 2 - uy * bend, (sy + ey) / 2 + ux * bend
    colour = METHOD_COLOURS.get(e["method"], "#444")
    # the label names the main method only: accounts and other methods are in the tooltip and the
    # table under the graph, so labels of converging edges do not pile on each other
    # label at t = 0.65 on the curve, nearer the target: arrows fanning out of one host keep apart there
    t = 0.65
    return {
        "sx": _f(sx), "sy": _f(sy), "mx": _f(mx), "my": _f(my), "ex": _f(ex), "ey": _f(ey),
        "lx": _f((1 - t) ** 2 * sx + 2 * (1 - t) * t * mx + t**2 * ex),
        "ly": _f((1 - t) ** 2 * sy + 2 * (1 - t) * t * my + t**2 * ey),
        "colour": colour, "marker": _colours().index(colour),
        "label": e["methods"][0] + (" …" if len(e["methods"]) > 1 else ""),
        "tip": f"{e['source']} → {e['target']}: {', '.join(e['methods'])} as {', '.join(e['accounts'])}, "
               f"{e['count']}x, first {e['first_utc']}",
    }  # fmt: skip

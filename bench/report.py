"""The human summary of a benchmark: one row per step, the errors listed underneath."""

from __future__ import annotations

from typing import Any

from bench.results import PASSES
from bench.wiredesk import SERVED_CATEGORY

CELL = 56  # widest table cell; the full error is listed under the table and in --json


def fmt_step(step: dict[str, Any], unit: str) -> str:
    """A step's cell: seconds and throughput in ``unit``/s, or its error cut to CELL."""
    if step.get("error"):
        error = step["error"]
        return error if len(error) <= CELL else error[: CELL - 1] + "…"
    rate = step.get("per_second")
    seconds = step.get("seconds")
    if unit == "req":
        return f"{rate:,.0f} req/s"
    text = f"{seconds:.2f} s"
    return f"{text} ({rate:,.0f} {unit}/s)" if rate else text


def _peak(*steps: dict[str, Any]) -> str:
    peaks = [f"{s['peak_mb']:.0f}" if s.get("peak_mb") else "-" for s in steps]
    return " / ".join(peaks)


def table(results: dict[str, Any]) -> str:
    """The human summary: step, Wiredesk, reader, ratio (wall), ratio in-process, peak MB
    (Wiredesk / reader)."""
    wd, rd, ratio = results["wiredesk"], results["reader"], results["ratios"]
    inside = results.get("ratios_in_process", {})
    n = results["workload"]
    rows = [
        (
            f"seed ingest ({n['seeds']} files)",
            fmt_step(wd["seeds"], "files"),
            "",
            "",
            "",
            _peak(wd["seeds"]),
        ),
    ]
    labels = {
        "first_pass": (f"first pass ({n['entries']} entries)", "entries"),
        "not_modified_pass": (f"all-304 pass ({n['feeds']} feeds)", "feeds"),
        "changed_pass": (f"10% changed ({n['changed_feeds']} feeds)", "entries"),
    }
    for step, (label, unit) in labels.items():
        r = ratio[step]
        rows.append(
            (
                label,
                fmt_step(wd[step], unit),
                fmt_step(rd[step], unit),
                f"{r:.2f}x" if r else "-",
                f"{inside[step]:.2f}x" if inside.get(step) else "-",
                _peak(wd[step], rd[step]),
            )
        )
    rows.append(
        (
            "full publish (10 cat. x 3)",
            fmt_step(wd["publish"], ""),
            "",
            "",
            "",
            _peak(wd["publish"]),
        )
    )
    for kind in ("plain", "conditional"):
        step = wd[f"serve_{kind}"]
        rows.append(
            (
                f"serve /{SERVED_CATEGORY}.rss {kind}",
                fmt_step(step, "req"),
                "",
                "",
                "",
                _peak(step),
            )
        )
    for count, entry in results["scale"].items():
        for what in ("publish", "search"):
            label = f"{what} @ {int(count):,} stored"
            rows.append((label, fmt_step(entry[what], ""), "", "", "", _peak(entry[what])))
    header = ("step", "Wiredesk", "reader", "ratio", "in-process", "peak MB")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [line(header, widths), line(tuple("-" * w for w in widths), widths)]
    lines += [line(row, widths) for row in rows]
    errors = sorted(set(_errors(results)))
    return "\n".join(lines + _parsers(wd) + (["", "errors:", *errors] if errors else []))


def _parsers(wd: dict[str, Any]) -> list[str]:
    """Which parser read the feeds of each pass: the fast path, or feedparser and why."""
    lines = []
    for step in PASSES:
        counts = wd.get(step, {}).get("parsers")
        if counts:
            parts = [f"{parser} {n}" for parser, n in sorted(counts.items(), key=lambda c: -c[1])]
            lines.append(f"  {step}: " + ", ".join(parts))
    heading = "feeds by parser (the fast path, or the reason it left a feed to feedparser):"
    return ["", heading, *lines] if lines else []


def _errors(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["error"]] if isinstance(value.get("error"), str) and value["error"] else []
        return own + [e for k, v in value.items() if k != "runs" for e in _errors(v)]
    return []


def line(cells: tuple[str, ...], widths: list[int]) -> str:
    """One row of the table, each cell padded to its column's width."""
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

"""Folding the samples of the runs into the figures the table and --json report."""

from __future__ import annotations

import statistics
from typing import Any

from bench.proc import Measured

Sample = dict[str, Any]
PASSES = ("first_pass", "not_modified_pass", "changed_pass")


def sample(measured: Measured, who: str, **extra: Any) -> Sample:
    """One timed child as a JSON-ready dict; ``error`` is set when it failed."""
    return {
        "seconds": measured.seconds,
        "peak_mb": measured.peak_mb,
        "error": "" if measured.ok else measured.failure(who),
        **extra,
    }


FAST = "fast path"


def parsers(sources: list[dict[str, Any]]) -> dict[str, int]:
    """How many parsed feeds of a ``collect --json`` pass the lxml fast path read, and how
    many it left to feedparser, by its reason (sources not modified or failed are left out)."""
    counts: dict[str, int] = {}
    for source in sources:
        if source.get("not_modified") or source.get("skipped") or source.get("error"):
            continue
        parser = source.get("declined") or FAST
        counts[parser] = counts.get(parser, 0) + 1
    return counts


def median_step(samples: list[Sample], count: int | None = None) -> dict[str, Any]:
    """Fold the samples of one step across runs: median seconds, largest peak, and the
    throughput ``count / median`` when a count is given. The first error wins."""
    errors = [s["error"] for s in samples if s.get("error")]
    if errors:
        return {"error": errors[0], "runs": samples}
    seconds = statistics.median(s["seconds"] for s in samples)
    folded: dict[str, Any] = {
        "seconds": seconds,
        "peak_mb": max(s["peak_mb"] for s in samples),
        "runs": samples,
    }
    if count is not None:
        folded.update(count=count, per_second=count / seconds if seconds else None)
    if all("in_process_seconds" in s for s in samples):
        folded["in_process_seconds"] = statistics.median(s["in_process_seconds"] for s in samples)
    if "per_second" in samples[0]:
        folded["per_second"] = statistics.median(s["per_second"] for s in samples)
    if "parsers" in samples[0]:
        folded["parsers"] = samples[0]["parsers"]  # the same feeds in every run
    return folded


def ratios(wd: dict[str, Any], rd: dict[str, Any]) -> dict[str, float | None]:
    """Wiredesk's throughput divided by reader's, for each of the three passes."""
    out: dict[str, float | None] = {}
    for step in PASSES:
        ours, theirs = wd[step].get("per_second"), rd[step].get("per_second")
        out[step] = ours / theirs if ours and theirs else None
    return out


def ratios_in_process(wd: dict[str, Any], rd: dict[str, Any]) -> dict[str, float | None]:
    """The same ratios from the time each program reports for the pass itself, without
    interpreter start-up, imports, config and store opening: what a daemon's later passes
    see. Both handle the same feeds, so throughput ratio = reader's time / Wiredesk's."""
    out: dict[str, float | None] = {}
    for step in PASSES:
        ours, theirs = wd[step].get("in_process_seconds"), rd[step].get("in_process_seconds")
        out[step] = theirs / ours if ours and theirs else None
    return out

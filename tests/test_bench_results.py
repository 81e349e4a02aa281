"""The bench's arithmetic and table: medians, both kinds of ratio, one column each."""

from __future__ import annotations

from bench.pg import ceiling
from bench.report import table
from bench.results import PASSES, median_step, ratios, ratios_in_process


def samples(*pairs: tuple[float, float]) -> list[dict]:
    return [
        {"seconds": wall, "in_process_seconds": inside, "peak_mb": 50.0, "error": ""}
        for wall, inside in pairs
    ]


def test_medians_ratios_and_the_table() -> None:
    wd = {step: median_step(samples((2, 1), (4, 3), (3, 2)), 100) for step in PASSES}
    rd = {step: median_step(samples((6, 5), (6, 4), (9, 8)), 100) for step in PASSES}
    assert (wd["first_pass"]["seconds"], wd["first_pass"]["in_process_seconds"]) == (3, 2)
    assert ratios(wd, rd)["first_pass"] == 2.0  # (100/3) / (100/6)
    assert ratios_in_process(wd, rd)["first_pass"] == 2.5  # 5 s / 2 s
    step = {"seconds": 1.0, "peak_mb": 60.0, "error": ""}
    results = {
        "workload": {"seeds": 10, "entries": 100, "feeds": 2, "changed_feeds": 1},
        "wiredesk": {
            **wd,
            "seeds": step,
            "publish": step,
            "serve_plain": {**step, "per_second": 900.0},
            "serve_conditional": {**step, "per_second": 950.0},
        },
        "reader": rd,
        "ratios": ratios(wd, rd),
        "ratios_in_process": ratios_in_process(wd, rd),
        "scale": {"1000": {"publish": step, "search": step}},
    }
    lines = table(results).splitlines()
    assert lines[0].split() == ["step", "Wiredesk", "reader", "ratio", "in-process", "peak", "MB"]
    first = next(line for line in lines if line.startswith("first pass"))
    assert "2.00x" in first and "2.50x" in first


def test_a_failed_sample_has_no_in_process_ratio() -> None:
    failed = [{"seconds": 1.0, "peak_mb": 1.0, "error": "wiredesk step failed: boom"}]
    wd = {step: median_step(failed, 10) for step in PASSES}
    rd = {step: median_step(samples((1, 1)), 10) for step in PASSES}
    assert ratios_in_process(wd, rd) == dict.fromkeys(PASSES)


def test_two_nodes_can_beat_one_by_at_most_the_cores_over_the_cpu_a_second_it_used() -> None:
    # one node: 10 s, and 8 + 4 + 0.5 CPU seconds in all: on 2 cores it needs 6.25 s
    one = {"seconds": 10.0, "cpu": {"nodes": 8.0, "postgres": 4.0, "feed_server": 0.5}}
    assert ceiling(one, cores=2) == 1.6
    server_elsewhere = {**one, "cpu": {**one["cpu"], "postgres": None}}
    assert ceiling(server_elsewhere, cores=2) is None

"""Scale: Wiredesk's publish and search over synthetic stores of growing size.

Each store is built once by the child ``python -m bench.scale_store`` (through the store
API) and cached under bench/out/scale, keyed by the store code so a schema change
rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from bench import OUT, ROOT, wiredesk
from bench.proc import run_measured
from bench.results import median_step, sample

SEARCH_WORD = "railway"  # in one synthetic article of five


def scale_store(count: int, *, timeout: float) -> tuple[Path | None, dict[str, Any]]:
    """A synthetic store of ``count`` articles, built once and cached under bench/out/scale
    (keyed by the store code, so a schema change rebuilds it). Returns its path (None when
    the build failed) and what the build took."""
    folder = OUT / "scale"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"store-{count}-{_store_code_key()}.db"
    marker = db.with_suffix(".json")
    if marker.exists():
        return db, {**json.loads(marker.read_text()), "cached": True}
    for stale in folder.glob(f"{db.name}*"):
        stale.unlink()
    measured = run_measured(
        [sys.executable, "-m", "bench.scale_store", str(db), str(count)],
        cwd=ROOT,
        timeout=timeout,
    )
    if not measured.ok:
        return None, {"error": measured.failure("wiredesk")}
    built = {**json.loads(measured.stdout), "peak_mb": measured.peak_mb}
    marker.write_text(json.dumps(built))
    return db, {**built, "cached": False}


def _store_code_key() -> str:
    digest = hashlib.sha1()
    files = sorted((ROOT / "aggregator" / "store").rglob("*.py"))
    files += [ROOT / "aggregator" / "models.py", ROOT / "bench" / "scale_store.py"]
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def scale_steps(
    sizes: tuple[int, ...], *, runs: int, timeout: float, build_timeout: float
) -> dict[str, Any]:
    """Publish of one category and ``articles --search`` over a synthetic store of each
    size, ``runs`` times each (medians); each child is killed after ``timeout`` seconds."""
    results: dict[str, Any] = {}
    for count in sizes:
        db, build = scale_store(count, timeout=build_timeout)
        entry: dict[str, Any] = {"build": build}
        if db is None:
            entry["publish"] = entry["search"] = {"error": build["error"]}
            results[str(count)] = entry
            continue
        entry |= publish_and_search(str(db), OUT / "scale" / f"run-{count}", runs, timeout)
        results[str(count)] = entry
    return results


def publish_and_search(store: str, folder: Path, runs: int, timeout: float) -> dict[str, Any]:
    """The medians of ``runs`` publishes of one category and ``runs`` ``articles --search``
    over the filled store at ``store`` (a SQLite path or a PostgreSQL URL), working in
    ``folder``; each child is killed after ``timeout`` seconds."""
    config = wiredesk.write_config(
        folder / "scale.yaml",
        store=store,
        publish_dir=folder / "pub",
        port=wiredesk.free_port(),
        categories=[{"name": wiredesk.SERVED_CATEGORY, "section": "World"}],
    )
    publish = ["publish", "--config", str(config)]
    search = ["articles", "--config", str(config), "--search", SEARCH_WORD]
    search += ["--limit", "50", "--json"]
    return {
        "publish": median_step(
            [sample(wiredesk.cli(publish, timeout=timeout), "wiredesk") for _ in range(runs)]
        ),
        "search": median_step(
            [sample(wiredesk.cli(search, timeout=timeout), "wiredesk") for _ in range(runs)]
        ),
    }

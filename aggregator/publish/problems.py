"""The open problems of the desk's sources, for ``sources.atom`` and ``sources.rss``: pure
functions of the config, the sources' states, their newest stories and ``now``.

A problem is one source in one kind of trouble: ``failing`` (``FAILING_AFTER`` failures in
a row), ``gone`` (410, disabled), ``moved`` (a permanent redirect the config should
follow), ``seed`` (a seed file that does not parse) or ``stale`` (no new story for longer
than its ``stale_after``). ``reconcile`` carries each one's ``since`` from one publish to
the next (the store keeps them in between), so its id stays the same while it lasts; its
``changed`` time moves when its detail does; a problem that went away becomes a closing
entry, kept for ``KEEP_CLOSED``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from aggregator.config import Config, Source
from aggregator.models import Problem, SourceState

FAILING_AFTER = 3  # failures in a row
KEEP_CLOSED = timedelta(days=7)

_ADVICE = {
    "failing": "Check the URL in a browser; if the feed moved, put its new URL in the config; "
    "if it is gone for good, remove the source.",
    "gone": "The server says the feed is gone for good (410): remove the source, or put a "
    "new URL in the config to switch it back on.",
    "moved": "Put the new URL in the config (the desk already fetches it there).",
    "seed": "Fix the file so it is in the seed-article shape (see README); the rest of the "
    "folder is ingested meanwhile.",
    "stale": "Check that the feed still publishes; raise or remove its stale_after if it is "
    "just quiet.",
}


def advice(problem: Problem) -> str:
    """What the operator can do about ``problem``."""
    return "Nothing to do: it works again." if problem.closed else _ADVICE[problem.kind]


def detect(
    config: Config,
    states: Mapping[str, SourceState],
    newest: Mapping[str, datetime],
    now: datetime,
) -> dict[str, tuple[str, str]]:
    """The problems the configured sources have at ``now``: key -> (kind, detail).
    ``newest`` holds the time of each source's newest story (for ``stale_after``)."""
    found: dict[str, tuple[str, str]] = {}
    for source in config.sources:
        state = states.get(source.name)
        for kind, detail in _problems(config, source, state, newest.get(source.name), now):
            found[f"{source.name}/{kind}"] = (kind, detail)
    return found


def _problems(
    config: Config,
    source: Source,
    state: SourceState | None,
    newest: datetime | None,
    now: datetime,
) -> list[tuple[str, str]]:
    if state is None:
        return []
    found = []
    if state.disabled:
        found.append(("gone", state.last_error))
    elif state.error_streak >= FAILING_AFTER:
        found.append(("failing", state.last_error))
    elif source.is_seed_folder and state.last_error:
        found.append(("seed", state.last_error))
    if source.url and state.origin_url == source.url and state.url not in ("", source.url):
        found.append(("moved", f"{source.url} moved permanently to {state.url}"))
    stale_after = config.stale_after(source)
    # A source never seen to bring a story is measured from its first fetch.
    since = newest or (state.last_fetch if state.last_fetch else None)
    if stale_after is not None and since is not None and now - since > stale_after:
        found.append(("stale", f"no new story since {since.isoformat()}"))
    return found


def reconcile(
    previous: Sequence[Problem], found: Mapping[str, tuple[str, str]], now: datetime
) -> list[Problem]:
    """The problems to publish at ``now``: those ``found``, keeping the ``since`` (and the
    ``changed``, when the detail is the same) of the ones already open in ``previous``; a
    closing entry for each open one no longer found; closing entries younger than
    ``KEEP_CLOSED``. Newest change first."""
    open_before = {p.key: p for p in previous if p.closed is None}
    result = [p for p in previous if p.closed is not None and now - p.closed < KEEP_CLOSED]
    for key, (kind, detail) in found.items():
        before = open_before.get(key)
        if before is None:
            source = key.rsplit("/", 1)[0]
            result.append(Problem(source=source, kind=kind, detail=detail, since=now, changed=now))
        elif before.detail != detail:
            result.append(replace(before, detail=detail, changed=now))
        else:
            result.append(before)
    for key, before in open_before.items():
        if key not in found:
            result.append(replace(before, closed=now, changed=now))
    return sorted(result, key=lambda p: (p.changed, p.key), reverse=True)

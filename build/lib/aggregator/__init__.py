"""Wiredesk: a news wire desk that collects, folds duplicates and republishes.

The pipeline, one module per stage::

    config.yaml ─▶ config ─▶ collector ──────────────────────────────────────▶ publish ─▶ server
                              │  fetch (HTTP) ─▶ parse (feedparser) ─┐          ▲
                              │  seeds (text files) ─────────────────┼▶ store ──┘ filters
                              │                                      │   (dedup)
    daemon (APScheduler) ─────┘                                      └─ one Article type

``models`` holds the values that cross these boundaries, ``errors`` the exception tree,
and ``cli`` turns argv into calls and exit codes. Beside the daemon, ``health`` decides
what ``/healthz`` says and ``metrics`` keeps what ``/metrics`` serves.
"""

__version__ = "0.1.0"

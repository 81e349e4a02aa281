"""HTTP for the publish folder: the feeds with validators and gzip, ``/healthz`` and
``/metrics``.

::

    rules.py   pure decisions: which file a path names, Content-Type, ETag, 304, gzip
    app.py     make_app: the WSGI app (reads the publish folder; never opens the store)
    run.py     FeedServer (waitress in a thread, for the daemon), serve_forever (`serve`)

The daemon tells the server how it is doing through a callable returning ``Health``
(decided by ``aggregator.health``), and hands it its metrics page.
"""

from aggregator.server.app import HealthCheck, make_app
from aggregator.server.run import FeedServer, max_age_for, serve_forever

__all__ = ["FeedServer", "HealthCheck", "make_app", "max_age_for", "serve_forever"]

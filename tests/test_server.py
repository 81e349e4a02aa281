"""The HTTP server over a real socket on 127.0.0.1: headers, validators, gzip, HEAD,
traversal attempts, /healthz, and starting and stopping it from another thread."""

from __future__ import annotations

import configparser
import gzip
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import pytest

from aggregator.config import load_config
from aggregator.errors import ListenError
from aggregator.models import Health, Passes, PassSummary
from aggregator.server import FeedServer, HealthCheck, make_app, max_age_for
from tests.builders import FIXTURES, ROOT, Site
from tests.faults.harness import free_port

MAX_AGE = 900
SECRET = "not for subscribers"


def serve(folder: Path, health: HealthCheck | None = None) -> Iterator[Site]:
    server = FeedServer(make_app(folder, max_age=MAX_AGE, health=health))
    server.start("127.0.0.1", 0)
    try:
        yield Site(folder, server.port)
    finally:
        server.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    folder = tmp_path / "feeds"
    shutil.copytree(FIXTURES / "server", folder)
    (tmp_path / "secret.txt").write_text(SECRET)
    yield from serve(folder)


def replace(path: Path, content: bytes) -> None:
    """Rewrite a file the way publish does (a new file renamed over the old one), with an
    mtime a minute later so second-resolution validators see the change too."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    later = path.stat().st_mtime + 60
    os.utime(temporary, (later, later))
    temporary.replace(path)


@pytest.mark.parametrize(
    ("target", "content_type"),
    [
        ("/all.rss", "application/rss+xml; charset=utf-8"),
        ("/all.atom", "application/atom+xml; charset=utf-8"),
        ("/all.json", "application/feed+json; charset=utf-8"),
        ("/index.opml", "text/x-opml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ],
)
def test_each_format_has_its_content_type_and_the_file_s_bytes(
    site: Site, target: str, content_type: str
) -> None:
    reply = site.get(target)
    name = target.removeprefix("/") or "index.html"
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    assert reply.body == (site.folder / name).read_bytes()
    assert reply.headers["content-length"] == str(len(reply.body))
    assert reply.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["vary"] == "Accept-Encoding"


def test_other_files_get_a_guessed_type_and_images_are_not_gzipped(site: Site) -> None:
    (site.folder / "style.css").write_text("body { margin: 0 }\n")
    (site.folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    css = site.get("/style.css", {"Accept-Encoding": "gzip"})
    png = site.get("/logo.png", {"Accept-Encoding": "gzip"})
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["content-encoding"] == "gzip"
    assert png.headers["content-type"] == "image/png"
    assert "content-encoding" not in png.headers
    assert "vary" not in png.headers
    assert png.body == (site.folder / "logo.png").read_bytes()


def test_validators_come_from_the_file(site: Site) -> None:
    path = site.folder / "all.rss"
    reply = site.get("/all.rss")
    etag = reply.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert reply.headers["last-modified"] == formatdate(path.stat().st_mtime, usegmt=True)
    assert site.get("/all.rss").headers["etag"] == etag


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", '"other", {etag}', "*", "W/{etag}", '"a",W/"b" , {etag}'],
)
def test_if_none_match_gives_304(site: Site, if_none_match: str) -> None:
    etag = site.get("/all.rss").headers["etag"]
    reply = site.get("/all.rss", {"If-None-Match": if_none_match.format(etag=etag)})
    assert reply.status == 304
    assert reply.body == b""
    assert reply.headers["etag"] == etag
    assert reply.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "content-length" not in reply.headers


def test_a_different_etag_gives_the_feed(site: Site) -> None:
    assert site.get("/all.rss", {"If-None-Match": '"stale"'}).status == 200


def test_if_modified_since(site: Site) -> None:
    last_modified = site.get("/all.rss").headers["last-modified"]
    hour_before = formatdate((site.folder / "all.rss").stat().st_mtime - 3600, usegmt=True)
    assert site.get("/all.rss", {"If-Modified-Since": last_modified}).status == 304
    assert site.get("/all.rss", {"If-Modified-Since": hour_before}).status == 200
    assert site.get("/all.rss", {"If-Modified-Since": "yesterday-ish"}).status == 200


def test_if_none_match_takes_precedence_over_if_modified_since(site: Site) -> None:
    last_modified = site.get("/all.rss").headers["last-modified"]
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert site.get("/all.rss", headers).status == 200


def test_a_changed_file_is_served_again_with_new_validators(site: Site) -> None:
    first = site.get("/all.json")
    replace(site.folder / "all.json", b'{"version": "https://jsonfeed.org/version/1.1"}')
    conditional = {
        "If-None-Match": first.headers["etag"],
        "Accept-Encoding": "identity",
    }
    second = site.get("/all.json", conditional)
    assert second.status == 200
    assert second.body == b'{"version": "https://jsonfeed.org/version/1.1"}'
    assert second.headers["etag"] != first.headers["etag"]
    since = site.get("/all.json", {"If-Modified-Since": first.headers["last-modified"]})
    assert since.status == 200


def test_head_gives_get_s_headers_and_no_body(site: Site) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    try:
        for encoding in ("identity", "gzip"):
            connection.request("HEAD", "/all.rss", headers={"Accept-Encoding": encoding})
            head = connection.getresponse()
            assert head.read() == b""
            # The next response on the same connection parses only if HEAD sent no body.
            connection.request("GET", "/all.rss", headers={"Accept-Encoding": encoding})
            get = connection.getresponse()
            body = get.read()
            assert head.status == get.status == 200
            for name in ("content-type", "content-length", "etag", "last-modified"):
                assert head.getheader(name) == get.getheader(name)
            assert int(head.getheader("content-length")) == len(body)
    finally:
        connection.close()


def test_gzip_when_accepted(site: Site) -> None:
    plain = site.get("/all.rss")
    zipped = site.get("/all.rss", {"Accept-Encoding": "br;q=1.0, gzip;q=0.8"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) == len(zipped.body) < len(plain.body)
    assert gzip.decompress(zipped.body) == plain.body
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.headers["etag"].endswith('-gzip"')
    again = site.get("/all.rss", {"Accept-Encoding": "gzip"})
    assert (again.body, again.headers["etag"]) == (zipped.body, zipped.headers["etag"])
    revalidated = site.get(
        "/all.rss", {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
    )
    assert revalidated.status == 304


def test_gzip_follows_a_changed_file(site: Site) -> None:
    site.get("/all.atom", {"Accept-Encoding": "gzip"})
    replace(site.folder / "all.atom", b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
    reply = site.get("/all.atom", {"Accept-Encoding": "gzip"})
    assert gzip.decompress(reply.body) == b"<feed xmlns='http://www.w3.org/2005/Atom'/>"


@pytest.mark.parametrize(
    "accept_encoding", ["", "identity", "gzip;q=0", "br, deflate", "*;q=0", "*, gzip;q=0"]
)
def test_no_gzip_unless_accepted(site: Site, accept_encoding: str) -> None:
    reply = site.get("/all.rss", {"Accept-Encoding": accept_encoding})
    assert "content-encoding" not in reply.headers
    assert reply.body == (site.folder / "all.rss").read_bytes()


def test_star_accepts_gzip(site: Site) -> None:
    assert site.get("/all.rss", {"Accept-Encoding": "*"}).headers["content-encoding"] == "gzip"


@pytest.mark.parametrize(
    "target",
    ["/missing.rss", "/all.rss/", "/sub", "/.hidden.rss", "/all.rss.tmp", "/all.rss~", "/%ff"],
)
def test_404_for_anything_not_published(site: Site, target: str) -> None:
    (site.folder / "sub").mkdir()
    (site.folder / ".hidden.rss").write_text("draft")
    (site.folder / "all.rss.tmp").write_text("half written")
    (site.folder / "all.rss~").write_text("editor backup")
    reply = site.get(target)
    assert reply.status == 404
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_a_folder_path_serves_its_index(site: Site) -> None:
    (site.folder / "sub").mkdir()
    (site.folder / "sub" / "index.html").write_text("<p>sub</p>")
    reply = site.get("/sub/")
    assert (reply.status, reply.body) == (200, b"<p>sub</p>")


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/a/../../secret.txt",
        "/./../secret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/all.rss%00.html",
        "//etc/passwd",
        "/etc/passwd",
        "/%2fetc/passwd",
        "http://127.0.0.1/../secret.txt",
        "/outside/secret.txt",
        "/leak.txt",
    ],
)
def test_nothing_outside_the_folder(site: Site, target: str) -> None:
    (site.folder / "leak.txt").symlink_to(site.folder.parent / "secret.txt")
    (site.folder / "outside").symlink_to(site.folder.parent)
    reply = site.get(target)
    assert reply.status == 404
    assert SECRET.encode() not in reply.body
    assert b"root:" not in reply.body


def test_a_symlink_inside_the_folder_is_served(site: Site) -> None:
    (site.folder / "latest.rss").symlink_to(site.folder / "all.rss")
    reply = site.get("/latest.rss")
    assert reply.status == 200
    assert reply.body == (site.folder / "all.rss").read_bytes()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_only_get_and_head(site: Site, method: str) -> None:
    reply = site.get("/all.rss", method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_healthz_without_a_daemon(site: Site) -> None:
    reply = site.get("/healthz")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert json.loads(reply.body) == {"status": "ok", "scheduler": "not running (serve only)"}


def test_healthz_serves_the_daemons_verdict_as_it_is(tmp_path: Path) -> None:
    started = datetime(2024, 4, 2, 6, 10, tzinfo=UTC)
    finished = started + timedelta(seconds=3)
    passes = Passes(
        passes=1,
        last_pass_finished=finished,
        last_pass=PassSummary(started=started, finished=finished, sources=2, errors=0, changed=5),
        sources_due=2,
    )
    state = {"health": Health(scheduler="running", passes=passes)}
    for site in serve(tmp_path, health=lambda: state["health"]):
        healthy = site.get("/healthz")
        state["health"] = Health(scheduler="stopped", reasons=("x",))
        failing = site.get("/healthz")
        head = site.get("/healthz", method="HEAD")
        no_metrics = site.get("/metrics")
    assert healthy.status == 200
    assert json.loads(healthy.body) == {
        "status": "ok",
        "scheduler": "running",
        "store": "ok",
        "passes": 1,
        "failed_passes_in_a_row": 0,
        "last_error": "",
        "last_error_at": None,
        "last_pass_finished": "2024-04-02T06:10:03+00:00",
        "last_pass": {
            "started": "2024-04-02T06:10:00+00:00",
            "finished": "2024-04-02T06:10:03+00:00",
            "sources": 2,
            "errors": 0,
            "changed": 5,
        },
        "sources_due": 2,
        "sources_overdue": 0,
    }
    assert failing.status == 503
    assert json.loads(failing.body) == {
        "status": "failing",
        "reasons": ["x"],
        "scheduler": "stopped",
    }
    assert head.status == 503 and head.body == b""
    assert no_metrics.status == 404  # metrics are the daemon's; `serve` alone has none


def test_one_debug_line_per_request(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="aggregator.server"):
        site.get("/all.rss")
        site.get("/nope")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("aggregator.server")]
    assert len(lines) == 2
    assert '"GET /all.rss" 200' in lines[0]
    assert '"GET /nope" 404' in lines[1]


def test_stop_closes_open_connections_and_frees_the_port(tmp_path: Path) -> None:
    server = FeedServer(make_app(tmp_path, max_age=60))
    server.start("127.0.0.1", 0)
    port = server.port
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        server.stop()
        assert idle.recv(1) == b""  # the server closed the kept-alive connection
    finally:
        idle.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    server.stop()  # a second stop is harmless


def test_port_is_a_number_so_the_startup_log_line_formats(tmp_path: Path) -> None:
    server = FeedServer(make_app(tmp_path, max_age=60))
    server.start("127.0.0.1", 0)
    try:
        assert "port %d" % server.port == f"port {server.port}"  # noqa: UP031
    finally:
        server.stop()


def test_start_reports_an_address_in_use(tmp_path: Path) -> None:
    server = FeedServer(make_app(tmp_path, max_age=60))
    server.start("127.0.0.1", 0)
    try:
        with pytest.raises(ListenError, match=rf"^127\.0\.0\.1:{server.port}: cannot listen"):
            FeedServer(make_app(tmp_path, max_age=60)).start("127.0.0.1", server.port)
    finally:
        server.stop()


def test_max_age_is_the_shortest_interval(tmp_path: Path) -> None:
    config_file = tmp_path / "feeds.yaml"
    config_file.write_text(
        textwrap.dedent(
            """
            defaults: {interval: 30m}
            sources:
              - {name: slow, url: "https://example.org/a.rss"}
              - {name: quick, url: "https://example.org/b.rss", interval: 5m}
            """
        )
    )
    assert max_age_for(load_config(config_file)) == 300
    config_file.write_text("defaults: {interval: 2h}\n")
    assert max_age_for(load_config(config_file)) == int(timedelta(hours=2).total_seconds())
    config_file.write_text("defaults: {interval: 30d}\n")
    assert max_age_for(load_config(config_file)) == 86_400  # at most a day


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_forever_stops_cleanly_on_a_signal(tmp_path: Path, stop_signal: int) -> None:
    shutil.copytree(FIXTURES / "server", tmp_path / "feeds")
    port = free_port()
    (tmp_path / "feeds.yaml").write_text(
        f"publish: {{dir: feeds}}\nserver: {{host: 127.0.0.1, port: {port}}}\n"
    )
    script = (
        "import sys; from aggregator.config import load_config;"
        "from aggregator.server import serve_forever;"
        "serve_forever(load_config(sys.argv[1]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "feeds.yaml")], cwd=ROOT
    )
    try:
        site = Site(tmp_path / "feeds", port)
        deadline = time.monotonic() + 20
        while True:  # bounded poll until it listens
            try:
                reply = site.get("/all.rss")
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        assert reply.status == 200
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


# The deployment files: they cannot be built here, so check that they agree with each
# other and with the config they ship, and run the image's health check for real.


def dockerfile_instructions() -> dict[str, list[str]]:
    """Each instruction's arguments, continuation lines joined, by keyword."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.setdefault(keyword, []).append(" ".join(rest.split()))
    return instructions


def systemd_unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "wiredesk.service")
    return unit


def test_the_service_config_fits_the_unit_and_the_image() -> None:
    config = load_config(ROOT / "deploy" / "feeds.yaml")
    store_dir, feeds_dir = str(Path(config.store).parent), str(config.publish.dir)
    docker = dockerfile_instructions()
    service = systemd_unit()["Service"]
    assert config.server.host == "0.0.0.0"
    assert docker["FROM"] == ["python:3.11-slim"]
    assert docker["USER"] == ["wiredesk"]
    assert [json.loads(v) for v in docker["VOLUME"]] == [[store_dir, feeds_dir]]
    assert docker["EXPOSE"] == [str(config.server.port)]
    assert f"127.0.0.1:{config.server.port}/healthz" in docker["HEALTHCHECK"][0]
    assert "deploy/feeds.yaml /config/feeds.yaml" in docker["COPY"]
    assert json.loads(docker["CMD"][0]) == ["wiredesk", "run", "--config", "/config/feeds.yaml"]
    assert service["ReadWritePaths"].split() == [store_dir, feeds_dir]
    assert service["ExecStart"] == (
        "/opt/wiredesk/.venv/bin/wiredesk run --config /etc/wiredesk/feeds.yaml"
    )
    seeds = next(s for s in config.sources if s.is_seed_folder)
    state_dirs = [f"/var/lib/{name}" for name in service["StateDirectory"].split()]
    assert {store_dir, feeds_dir, str(seeds.path)} <= set(state_dirs)


def test_the_image_health_check_follows_healthz(tmp_path: Path) -> None:
    check = json.loads(dockerfile_instructions()["HEALTHCHECK"][0].split(" CMD ", 1)[1])
    assert check[:2] == ["python", "-c"]
    healthy = {"now": True}
    for site in serve(
        tmp_path,
        health=lambda: Health(scheduler="running", reasons=() if healthy["now"] else ("x",)),
    ):
        code = check[2].replace("127.0.0.1:8080", f"127.0.0.1:{site.port}")
        assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
        healthy["now"] = False
        assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0

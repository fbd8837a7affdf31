"""The timeline page as a browser shows it: headless Chromium (Debian's `chromium`; .ci/run installs it) loads the
page the SMART launch draws, served with the page's own headers, and its screenshot must show the chart and the
tables. A negative control proves the check can fail: with images forbidden by the policy, the chart is missing."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from smart_ehr import ISS, PUBLIC, StubEhr

from service.store import Storage

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="needs chromium (.ci/run installs it)")


def drawn_page(make_app) -> tuple[bytes, dict[str, str]]:
    """The page at the end of a SMART launch against the stub EHR, with the headers the service sent."""
    ehr = StubEhr()
    client = make_app(storage=Storage.in_memory(), fhir_transport=ehr.transport, smart_client_id="timeline-app",
                      public_url=PUBLIC, fhir_allowlist=ISS).test_client()  # fmt: skip
    launched = client.get("/smart/launch", query_string={"iss": ISS, "launch": "l-1"}, base_url=PUBLIC)
    state = parse_qs(urlsplit(launched.headers["Location"]).query)["state"][0]
    page = client.get("/smart/redirect", query_string={"code": "c-1", "state": state}, base_url=PUBLIC)
    assert page.status_code == 200
    return page.get_data(), {name: page.headers[name] for name in ("Content-Type", "Content-Security-Policy")}


def screenshot(tmp_path, body: bytes, headers: dict[str, str], name: str):
    """Serve `body` with `headers` on loopback and let Chromium take a full-height screenshot of it."""
    from PIL import Image

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server naming)
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shot = tmp_path / f"{name}.png"
    try:
        subprocess.run(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1200,3000", f"--screenshot={shot}", f"http://127.0.0.1:{server.server_port}/"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    finally:
        server.shutdown()
    return Image.open(shot).convert("L")


def ink(image, top: float, bottom: float) -> float:
    """The share of non-white pixels between two heights (fractions of the screenshot)."""
    height = image.height
    band = image.crop((0, int(top * height), image.width, int(bottom * height)))
    dark = sum(count for level, count in enumerate(band.histogram()) if level < 200)
    return dark / (band.width * band.height)


def rules(image) -> list[int]:
    """Pixel rows holding a table border: an unbroken run of the tables' grey (#999) at least 200 pixels long."""
    pixels, found = image.load(), []
    for y in range(image.height):
        run = longest = 0
        for x in range(image.width):
            run = run + 1 if 140 <= pixels[x, y] <= 165 else 0
            longest = max(longest, run)
        if longest >= 200:
            found.append(y)
    return found


def test_the_browser_shows_the_chart_and_its_tables(make_app, tmp_path):
    body, headers = drawn_page(make_app)
    image = screenshot(tmp_path, body, headers, "page")
    borders = rules(image)
    assert len(borders) >= 8  # the tables' horizontal borders
    chart_area = ink(image, 0.0, borders[0] / image.height)
    assert chart_area > 0.03, chart_area  # above the tables: the chart's lines, points, labels and hatched bands
    policy = headers["Content-Security-Policy"].replace("img-src data:", "img-src 'none'")
    blocked = screenshot(tmp_path, body, headers | {"Content-Security-Policy": policy}, "blocked")
    assert rules(blocked)[0] < borders[0] - 400  # without the image the tables move up: the chart took that room

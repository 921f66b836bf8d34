"""The docs page (``GET /docs``): Swagger UI served by the service itself, open without a token, and
rendering the service's own /openapi.json in a real browser (Debian's chromium, headless) without a
single request off the host.

What the page must show is read from the document the service serves, so the test follows the document."""

from __future__ import annotations

import os
import json
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import requests

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class PageAssets(HTMLParser):
    """The scripts, styles and icons a page loads (``<script src>``, ``<link href>``)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


class RenderedOperations(HTMLParser):
    """What Swagger UI rendered: the API title and OpenAPI version stamp and, per operation block
    (``.opblock``), its method, path, summary and operation id."""

    CAPTURED = {("div", "opblock-summary-description"): "summary",
                ("span", "opblock-summary-operation-id"): "operationId",
                ("h1", "title"): "title", ("small", "version-stamp"): "version_stamp"}

    def __init__(self):
        super().__init__()
        self.operations: list[dict] = []
        self.title = ""
        self.version_stamp = ""
        self._captures: list[list] = []  # [field, tag, open tags of that name, text parts], nested ones too

    def handle_starttag(self, tag, attrs):
        for capture in self._captures:
            if tag == capture[1]:
                capture[2] += 1
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div" and "opblock" in classes:
            method = next((c[len("opblock-"):] for c in classes if c[len("opblock-"):] in HTTP_METHODS), None)
            self.operations.append({"method": method})
        elif tag == "span" and "opblock-summary-path" in classes and self.operations:
            self.operations[-1]["path"] = attrs.get("data-path")
        for (name, cls), field in self.CAPTURED.items():
            if tag == name and cls in classes:
                self._captures.append([field, tag, 1, []])

    def handle_endtag(self, tag):
        for capture in list(self._captures):
            if tag != capture[1]:
                continue
            capture[2] -= 1
            if capture[2] == 0:
                self._captures.remove(capture)
                field, text = capture[0], "".join(capture[3]).replace("\u200b", "").strip()
                if field in ("title", "version_stamp"):
                    setattr(self, field, text)
                elif self.operations:
                    self.operations[-1][field] = text

    def handle_data(self, data):
        for capture in self._captures:
            capture[3].append(data)


def render_in_chromium(url: str, workdir) -> tuple[str, list[dict]]:
    """The DOM of ``url`` after its scripts ran (10 s of virtual time), and every URL request the
    browser started (its NetLog), each with its initiator and request type."""
    netlog = workdir / "netlog.json"
    host = urlsplit(url).hostname
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
           "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
           # the browser's own background requests (update and time checks, sign-in) resolve nowhere:
           # nothing this test starts leaves the machine
           f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {host}",
           f"--user-data-dir={workdir / 'profile'}", f"--log-net-log={netlog}",
           "--virtual-time-budget=10000", "--dump-dom", url]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    log = json.loads(netlog.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    started = [event["params"] for event in log["events"]
               if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in event.get("params", {})]
    return run.stdout, started


def test_the_page_and_its_assets_are_served_by_the_service_without_a_token(guarded_service):
    url = guarded_service.url
    assert requests.get(url + "/v1/models", timeout=10).status_code == 401  # the service does need a token
    for path in ("/docs", "/docs/"):
        page = requests.get(url + path, timeout=10)
        assert page.status_code == 200, path
        assert page.headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assets = PageAssets()
    assets.feed(page.text)
    assert any(a.endswith("/swagger-ui-bundle.js") for a in assets.urls), assets.urls
    for asset in assets.urls:
        assert asset.startswith("/docs/"), f"{asset}: the page may load only the service's own files"
        answer = requests.get(url + asset, timeout=10)
        assert answer.status_code == 200 and answer.content, asset


# make test installs chromium first: in CI its absence is a broken install step, not a reason to skip
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed: `make tools` installs Debian's "
                                              "chromium package (scripts/install-tools.sh)")
def test_the_page_renders_the_services_document_in_a_headless_browser(guarded_service, tmp_path):
    url = guarded_service.url
    document = requests.get(url + "/openapi.json", timeout=10).json()
    dom, started = render_in_chromium(url + "/docs", tmp_path)

    rendered = RenderedOperations()
    rendered.feed(dom)
    assert rendered.title.startswith(document["info"]["title"]), rendered.title
    # Swagger UI read the document's version (3.1 is rendered by Swagger UI 5)
    assert rendered.version_stamp == "OAS " + ".".join(document["openapi"].split(".")[:2]), rendered.version_stamp
    shown = {(op["method"], op.get("path")): op for op in rendered.operations}
    documented = {(method, path): op for path, item in document["paths"].items()
                  for method, op in item.items() if method in HTTP_METHODS}
    assert sorted(shown) == sorted(documented), "the page must show exactly the document's operations"
    for key, op in documented.items():
        if "summary" in op:
            assert shown[key].get("summary") == op["summary"], key
        if "operationId" in op:
            assert shown[key].get("operationId") == op["operationId"], key

    # The page's own requests (its navigation and all it started: initiator = the page's origin) stay on
    # the service; the browser's own (update checks, sign-in, autofill) have no page initiator.
    page_requests = [r["url"] for r in started if r.get("initiator") == url or r.get("request_type") == "main frame"]
    assert {url + "/docs", url + "/openapi.json", url + "/docs/swagger-ui-bundle.js"} <= set(page_requests), \
        page_requests
    off_host = [r for r in page_requests if not r.startswith(url + "/")]
    assert not off_host, f"the docs page requested something off the host: {off_host}"

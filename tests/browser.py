"""A small headless-Chromium driver for the page tests, over the DevTools protocol (websocket-client).

``Browser().visit(path)`` loads a local page and reports what a person would notice: console messages,
uncaught exceptions, failed loads, every image (loaded? alt text?), requests to the network, and a
full-page screenshot.  Requests to the MathJax CDN (the written-answers page typesets with it when
online) are answered with an empty script, so the tests give the same answer with or without a network;
any other request that leaves the machine is recorded and fails the tests.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket

STUBBED = ("https://cdn.jsdelivr.net/",)
IMAGES_JS = """JSON.stringify(Array.from(document.images).map(i => ({
  alt: i.getAttribute('alt'), loaded: i.complete && i.naturalWidth > 0, src: i.src.slice(0, 60)})))"""


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class Visit:
    console: list[str] = field(default_factory=list)  # console calls, exceptions, log entries
    external: list[str] = field(default_factory=list)  # requests that would leave the machine
    images: list[dict] = field(default_factory=list)
    text: str = ""
    screenshot: bytes = b""


class Browser:
    def __init__(self, width: int = 1100, height: int = 900):
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="hw7-chromium-")
        self.process = subprocess.Popen(
            [executable(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--hide-scrollbars", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("headless Chromium did not start")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            page = next(t for t in json.load(reply) if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(method)
        self.call("Fetch.enable", patterns=[{"urlPattern": "http*"}])

    def call(self, method: str, **params):
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        if message.get("method") == "Fetch.requestPaused":  # answer at once, or the page would wait
            params = message["params"]
            url = params["request"]["url"]
            ident = next(self.ids)
            if url.startswith(STUBBED):
                reply = {"method": "Fetch.fulfillRequest", "params": {
                    "requestId": params["requestId"], "responseCode": 200, "body": "",
                    "responseHeaders": [{"name": "Content-Type", "value": "text/javascript"}]}}
            else:
                reply = {"method": "Fetch.failRequest",
                         "params": {"requestId": params["requestId"], "errorReason": "BlockedByClient"}}
            self.ws.send(json.dumps({"id": ident, **reply}))
        self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def visit(self, path: str | Path, settle_s: float = 0.3) -> Visit:
        self.events = []
        self.call("Page.navigate", url=Path(path).resolve().as_uri())
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not finish loading")
            self._event(json.loads(self.ws.recv()))
        end = time.monotonic() + settle_s  # late console messages (scripts run after load)
        self.ws.settimeout(0.05)
        while time.monotonic() < end:
            try:
                self._event(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                pass
        self.ws.settimeout(30)
        visit = Visit()
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled":
                visit.console.append(f"console.{params.get('type')}: " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                visit.console.append("exception: " + str(details.get("exception", {}).get("description")
                                                          or details.get("text")))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                visit.console.append(f"log {entry.get('level')}: {entry.get('text')} {entry.get('url', '')}")
            elif method == "Fetch.requestPaused":
                url = params["request"]["url"]
                if not url.startswith(STUBBED):
                    visit.external.append(url)
        visit.images = json.loads(self.evaluate(IMAGES_JS))
        visit.text = self.evaluate("document.body.innerText")
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=min(height, 16000),
                  deviceScaleFactor=1, mobile=False)
        visit.screenshot = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        self.call("Emulation.clearDeviceMetricsOverride")
        return visit

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

"""HTML reports opened in headless Chromium with networking off.

Chromium is driven over ``--remote-debugging-pipe`` (the DevTools protocol on file
descriptors 3 and 4, no port opened), with a proxy to a closed loopback port and a
resolver that resolves nothing, so any attempt to fetch a remote script shows up as
a logged network error. Each test checks that every chart output holds a drawn SVG,
that no placeholder text shows, and that nothing reached the console or the log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from capacity import report

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLACEHOLDERS = (
    "TODO",
    "TBD",
    "placeholder",
    "lorem ipsum",
    "No description has been provided",
    "Traceback",
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed here"),
]

# Counts, per chart output, the SVG root and its drawn marks (paths, lines, rects
# inside mark groups) and the SVG's rendered width in CSS pixels.
CHART_PROBE = """
Array.from(document.querySelectorAll('[data-mime-type="image/svg+xml"]')).map(
  (output) => {
    const svg = output.querySelector('svg.marks');
    if (!svg) { return {svg: false, marks: 0, width: 0}; }
    const marks = svg.querySelectorAll('g.role-mark > *').length;
    return {svg: true, marks: marks, width: svg.getBoundingClientRect().width};
  })
"""


class Chromium:
    """A headless Chromium page driven over the DevTools pipe."""

    def __init__(self, profile_dir: Path) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        arguments = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            f"--user-data-dir={profile_dir}",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--remote-debugging-pipe",
            "about:blank",
        ]

        def wire_pipes() -> None:
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)

        self.process = subprocess.Popen(
            arguments,
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._last_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result, keeping events."""
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method}
        message["params"] = params
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def _read(self, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline_s = time.monotonic() + timeout_s
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline_s:
                raise TimeoutError("chromium sent nothing for 60 s")
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def open(self, url: str) -> None:
        """Open ``url`` in a new page and wait for its load event."""
        target = self.call("Target.createTarget", url="about:blank")
        attached = self.call(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read())

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def problems(self) -> list[dict[str, Any]]:
        """Console calls, uncaught exceptions and log entries seen so far."""
        noisy = (
            "Runtime.consoleAPICalled",
            "Runtime.exceptionThrown",
            "Log.entryAdded",
        )
        return [event for event in self.events if event.get("method") in noisy]

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            os.close(self._to_browser)
            os.close(self._from_browser)


def open_report(html_path: Path, profile_dir: Path) -> dict[str, Any]:
    """Load a report; return its charts, visible text and problems."""
    browser = Chromium(profile_dir)
    try:
        browser.open(html_path.resolve().as_uri())
        return {
            "charts": browser.evaluate(CHART_PROBE),
            "text": browser.evaluate("document.body.innerText"),
            "problems": browser.problems(),
        }
    finally:
        browser.close()


def assert_report_renders(page: dict[str, Any], expected_charts: int) -> None:
    """Every chart drawn, no placeholder text, nothing on the console or the log."""
    assert len(page["charts"]) == expected_charts
    for chart in page["charts"]:
        assert chart["svg"] and chart["marks"] > 0 and chart["width"] > 100
    for placeholder in PLACEHOLDERS:
        assert placeholder.lower() not in page["text"].lower()
    assert page["problems"] == []


def test_tiny_report_renders_offline(tmp_path: Path) -> None:
    result = report.run_notebook(
        FIXTURES / "tiny.ipynb", {}, output_dir=tmp_path / "reports", timeout_s=120
    )

    page = open_report(result.html_path, tmp_path / "profile")

    assert_report_renders(page, expected_charts=1)
    assert "Demand over time" in page["text"]
    assert "import pandas" not in page["text"]


def test_a_remote_script_would_be_caught(tmp_path: Path) -> None:
    # The check itself must fail on a page that reaches for a CDN or logs an error.
    page_path = tmp_path / "bad.html"
    page_path.write_text(
        '<html><body><script>console.error("broken")</script>'
        '<script src="https://cdn.example.com/vega.js"></script></body></html>'
    )

    page = open_report(page_path, tmp_path / "profile")

    methods = sorted(event["method"] for event in page["problems"])
    assert methods == ["Log.entryAdded", "Runtime.consoleAPICalled"]


@pytest.mark.shared
def test_eighteen_thousand_row_series_renders_within_budget(
    tmp_path: Path, nab_dir: Path
) -> None:
    # 18,050 rows (data-real README): above Altair's 5,000-row limit undecimated.
    csv_path = nab_dir / "cpu_utilization_asg_misconfiguration.csv"
    result = report.run_notebook(
        FIXTURES / "series_chart.ipynb",
        {"csv_path": str(csv_path)},
        output_dir=tmp_path / "reports",
        timeout_s=120,
    )

    page = open_report(result.html_path, tmp_path / "profile")

    assert result.results["rows_read"] == 18_050
    assert_report_renders(page, expected_charts=1)
    assert result.html_path.stat().st_size < report.HTML_BUDGET_BYTES


def test_sizing_report_renders_offline(tmp_path: Path) -> None:
    parameters = {"families": ["t3", "c5"], "sizes": ["large"]}
    result = report.run_notebook(
        "sizing", parameters, output_dir=tmp_path / "reports", timeout_s=300
    )

    page = open_report(result.html_path, tmp_path / "profile")

    # Charts: requests, cost bars, credit balance, utilisation and latency.
    assert_report_renders(page, expected_charts=4)
    assert result.html_path.stat().st_size < report.HTML_BUDGET_BYTES


@pytest.mark.parametrize(
    ("notebook", "parameters", "charts"),
    [
        # Cost bars and breakeven curves.
        ("cost_comparison", {"count": 4, "days": 1, "step_s": 3600.0}, 2),
        # Credit balance, then utilisation above latency.
        ("credit_forecast", {"days": 2, "step_s": 900.0}, 2),
        # Balance, utilisation and latency, failures, two deployments, shedding.
        ("incident_replay", {"rollout_hours": 0.25}, 6),
    ],
)
def test_every_notebook_report_renders_offline(
    tmp_path: Path, notebook: str, parameters: dict[str, object], charts: int
) -> None:
    result = report.run_notebook(
        notebook, parameters, output_dir=tmp_path / "reports", timeout_s=300
    )

    page = open_report(result.html_path, tmp_path / "profile")

    assert_report_renders(page, expected_charts=charts)
    assert result.html_path.stat().st_size < report.HTML_BUDGET_BYTES

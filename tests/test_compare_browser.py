"""report.html opened in a real headless browser (Debian's chromium; skipped without it):
the page renders offline to a screenshot with content, not a blank or an error page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.compare import report_html, stats
from harness.compare.boots import load_jsonl

RECORDED_AA = Path(__file__).parent / "fixtures" / "compare" / "recorded-aa-pf1.jsonl"
CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (ci/install.sh installs it)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    boots = load_jsonl(RECORDED_AA)
    page = tmp_path / "report.html"
    page.write_text(report_html.render_html(stats.analyse(boots, 5.0), boots))
    shot = tmp_path / "report.png"
    argv = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        page.as_uri(),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000  # a blank page is ~10 KB

"""The progress layer: plain lines off a terminal, -q silences it, stage clock sums."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import progress
from harness.results.rundir import RunDir, terminal_summary


@pytest.fixture(autouse=True)
def _loud() -> Iterator[None]:
    progress.quiet(False)
    yield
    progress.quiet(False)


def test_eta_from_the_mean_time_per_finished_item() -> None:
    assert progress.eta(0, 4, 0.0) == "0/4"
    assert progress.eta(1, 4, 30.0) == "1/4, ETA 1m30s"
    assert progress.eta(3, 4, 30.0) == "3/4, ETA 10s"
    assert progress.eta(4, 4, 30.0) == "4/4"


def test_off_a_terminal_a_plain_line_at_most_every_period(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ticker = progress.Ticker("build", every=3600, tty=False)
    ticker.update("CC mm/mmap.o")  # the period has not passed since the start
    assert capsys.readouterr().err == ""
    ticker = progress.Ticker("build", every=0, tty=False)
    ticker.update("CC mm/mmap.o")
    ticker.done()
    err = capsys.readouterr().err
    assert err.startswith("harness: build: CC mm/mmap.o (0s so far)")
    assert "\r" not in err  # no terminal control codes in a CI log


def test_quiet_silences_notes_and_tickers(capsys: pytest.CaptureFixture[str]) -> None:
    progress.quiet()
    progress.note("booting")
    progress.Ticker("build", every=0, tty=True).update("CC x.o")
    assert capsys.readouterr().err == ""
    progress.quiet(False)
    progress.note("booting")
    assert capsys.readouterr().err == "harness: booting\n"


def test_stage_clock_adds_repeated_stages_and_names_the_remainder() -> None:
    clock = progress.StageClock(say=False)
    clock.add("boot", 1.5)
    clock.add("boot", 2.0)
    with clock.stage("build"):
        pass
    times = clock.with_remainder()
    assert times["boot"] == 3.5
    assert set(times) == {"boot", "build", "harness", "total"}
    assert times["harness"] >= 0 and times["total"] >= times["harness"]


def test_the_summary_names_every_stage_time(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "s", [])
    run.meta["stage_seconds"] = {"apply": 0.61, "build": 10.2, "harness": 1.24, "total": 12.05}
    out = io.StringIO()
    terminal_summary(run, out)
    assert "  time: apply 0.6s, build 10.2s, harness 1.2s (total 12.1s)\n" in out.getvalue()
    run.flush()
    assert json.loads(run.file("results.json").read_text())["stage_seconds"]["build"] == 10.2

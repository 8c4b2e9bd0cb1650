"""harness review: the stages composed into one reply, each stage faked at its entry point
(check_series, test_series, bisect, compare) with run directories of the shape the real
ones write. The real composition runs in tests/test_real_review.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT

from harness import cli, pipeline
from harness.bisection import command as bisect_command
from harness.bisection.signature import observe, parse_predicate
from harness.cases import Case, Status
from harness.compare import command as compare_command
from harness.errors import UserError
from harness.intake.series import load_one
from harness.reply import command as reply
from harness.results.rundir import RunDir
from harness.review import check

SERIES = PROJECT / "patches/fixtures/bisect-boot-warn"
WARN = "WARNING: CPU: 0 PID: 1 at fs/proc/harness_bisect.c:14 harness_bisect_init+0x1/0x2"


def console(*titles: tuple[str, str]) -> Case:
    suite = Case("console boot-1", Status.FAIL if titles else Status.PASS, "")
    suite.children = [
        Case(title, Status.FAIL, title, details=f"[ 1.0] {title}\n[ 1.1] Call Trace:",
             properties={"kind": kind})
        for kind, title in titles
    ]  # fmt: skip
    return suite


def failing_test(name: str) -> Case:
    suite = Case("proc", Status.FAIL, "")
    suite.children = [Case(name, Status.FAIL, "expected 2, got 3")]
    return suite


class Stages:
    """What each stage was asked, and the run directories it leaves."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, culprit: int | None = 3) -> None:
        self.asked: list[tuple[str, Any]] = []
        self.culprit = culprit
        monkeypatch.setattr(check, "check_series", self.check)
        monkeypatch.setattr(pipeline, "test_series", self.test)
        monkeypatch.setattr(bisect_command, "bisect", self.bisect)
        monkeypatch.setattr(compare_command, "compare", self.compare)

    def check(self, series: Any, opts: check.CheckOptions) -> RunDir:
        self.asked.append(("check", opts))
        run = RunDir.create(opts.out, series.name, [])
        run.meta.update(base="debian:6.12", base_commit="abc" * 10, compiler="gcc 12")
        run.meta["config"] = ["virtme-min.config"]
        for patch in series.patches:
            suite = Case(f"{patch.number:04d} {patch.short_subject}", Status.PASS, "")
            suite.children = [Case("build", Status.PASS, "", properties={"warnings": "0"})]
            run.add(suite)
        return run

    def test(self, series: Any, opts: pipeline.TestOptions) -> RunDir:
        self.asked.append(("test", opts))
        run = RunDir.create(opts.out, series.name, [])
        base = RunDir.create(run.path, "base", [])
        base.add(failing_test("old_failure"))  # the base fails it the same way
        run.add(Case("build", Status.PASS, "built"))
        run.add(console(("WARNING", WARN), ("WARNING", WARN.replace("+0x1/", "+0x9/"))))
        run.add(failing_test("old_failure"))
        summary = Case("compare-base", Status.PASS, "", properties={"base_run": base.path.name})
        run.add(summary)
        return run

    def bisect(self, request: Any) -> int:
        self.asked.append(("bisect", request))
        run = RunDir.create(request.out, "bisect-x", list(request.argv))
        if self.culprit is None:  # as the real one: its state says so, then exit 2
            message = "nothing to bisect: the bad end passed 2/2 runs"
            result = {"verdict": "nothing to bisect", "message": message}
            (run.path / "bisect.json").write_text(json.dumps({"result": result}))
            raise UserError(f"{message} (results: {run.path})")
        result = {"verdict": "confirmed", "culprit": self.culprit, "confidence": 0.9412}
        (run.path / "bisect.json").write_text(json.dumps({"result": result}))
        return 0

    def compare(self, request: Any) -> RunDir:
        self.asked.append(("compare", request))
        run = RunDir.create(request.out, "compare-x", [])
        run.meta["compare"] = {"metrics": []}
        (run.path / "table.txt").write_text("slower\n  pf1.thp_never.pages_per_s  -0.4 %  same\n")
        run.add(Case("compare", Status.PASS, "1 metric, none worse"))
        return run


def review(tmp_path: Path, *extra: str) -> int:
    return cli.main(["review", str(SERIES), "--out", str(tmp_path / "out"),
                     "--cache", str(tmp_path / "cache"), "--repeats", "2", *extra])  # fmt: skip


def the_run(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "out").glob("review-*")
    return run_dir


def test_a_new_warn_is_bisected_and_the_mail_holds_every_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = Stages(monkeypatch)
    assert review(tmp_path, "--bench", "pf1") == 1
    assert [what for what, _ in stages.asked] == ["check", "test", "bisect", "compare"]
    test_opts = stages.asked[1][1]
    assert test_opts.compare_base
    bisect_request = stages.asked[2][1]
    # only the failure the base does not have, bisected as that failure
    assert bisect_request.bad_when.startswith("failure:warning: WARNING: CPU: N PID: N at ")
    assert bisect_request.search.end_runs == 2 and bisect_request.series == SERIES
    assert stages.asked[3][1].benches == ("pf1",)

    run_dir = the_run(tmp_path)
    data = json.loads((run_dir / "results.json").read_text())
    runtime = next(s for s in data["suites"] if s["name"] == "runtime")
    (new,) = runtime["children"]
    assert new["status"] == "fail" and new["properties"]["first_bad_patch"] == "3"
    assert "first seen at patch 3/5" in new["message"] and "confidence 0.941" in new["message"]
    assert set(data["stage_seconds"]) >= {"check", "test", "bisect", "compare", "total"}
    mail = (run_dir / "review.eml").read_text()
    for part in ("[PATCH 1/5]", "Runtime (harness test", "first seen at patch 3/5",
                 "Costs (harness compare)", "pf1.thp_never", "| Reported-by: harness review",
                 "reviewed your series (check, test, bisect, compare)"):  # fmt: skip
        assert part in mail, part
    assert "old_failure" not in mail  # the base fails it too: not the series'


def test_a_failure_the_bisection_cannot_reproduce_is_still_reported_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Stages(monkeypatch, culprit=None)
    assert review(tmp_path, "--stages", "test,bisect") == 1
    data = json.loads((the_run(tmp_path) / "results.json").read_text())
    (new,) = next(s for s in data["suites"] if s["name"] == "runtime")["children"]
    assert new["status"] == "fail" and "nothing to bisect" in new["message"]
    assert (the_run(tmp_path) / "review.eml").is_file()  # the reply is still written


def test_the_plan_predicts_from_the_last_reviews_in_this_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Stages(monkeypatch)
    review(tmp_path, "--stages", "check")
    assert "review plan: check ?" in capsys.readouterr().err
    series = load_one(SERIES)
    history = (tmp_path / "cache" / reply.HISTORY).read_text().splitlines()
    (record,) = [json.loads(line) for line in history]
    assert record["patches"] == len(series.patches) and "check" in record["seconds"]
    two = replace(series, patches=series.patches[:2])
    predicted = reply.plan(tmp_path / "cache", two, ("check",))
    assert predicted["check"] == pytest.approx(record["seconds"]["check"] / 5 * 2, abs=0.1)


def test_bad_stages_are_exit_2_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = Stages(monkeypatch)
    assert review(tmp_path, "--stages", "check,fuzz") == 2
    assert stages.asked == [] and not (tmp_path / "out").exists()


def test_a_failure_in_an_isolated_workload_is_bisected_booting_that_workload_only() -> None:
    oops = Case("OOPS during gmem/thp_race", Status.FAIL, "BUG: kernel NULL pointer",
                properties={"kind": "OOPS", "workload": "gmem/thp_race"})  # fmt: skip
    suite = Case("console gmem", Status.FAIL, "")
    suite.children = [oops, replace(oops, properties={**oops.properties, "workload": "gmem"})]
    failing = Case("gmem", Status.FAIL, "")
    failing.children = [Case("mmap_retry", Status.FAIL, "", children=[
        Case("retry_after_unmap", Status.FAIL, "expected 0, got -14")])]  # fmt: skip
    found = observe([suite, failing]).failures
    # the same oops in the suite's boot is the same failure, where it happened aside
    assert [f.where for f in found] == ["gmem/thp_race", "gmem/mmap_retry"]
    gmem = load_one(PROJECT / "patches/gmem-rfc-v1-6.12")
    assert gmem.config.isolate == ("gmem",)
    assert [reply.narrowed(f, gmem) for f in found] == [("gmem:thp_race",), ("gmem:mmap_retry",)]
    # a suite that shares one boot keeps the review's suites: an earlier workload may matter
    shared = replace(gmem, config=replace(gmem.config, isolate=()))
    assert [reply.narrowed(f, shared) for f in found] == [(), ()]
    boot_oops = replace(oops, properties={**oops.properties, "workload": "(no workload: boot)"})
    (at_boot,) = observe([replace(suite, children=[boot_oops])]).failures
    assert at_boot.where == "" and reply.narrowed(at_boot, gmem) == ()
    settings = reply.StageSettings(Path("/c"), suites=("smoke", "gmem"))
    request = settings.bisect(gmem.path, "failure:x", Path("/o"), reply.narrowed(found[0], gmem))
    assert request.argv[-1] == "--suite=gmem:thp_race" and "--suite=smoke" not in request.argv


def test_failure_signatures_with_colons_are_one_predicate() -> None:
    predicate = parse_predicate("failure:warning: WARNING: CPU: N PID: N at fs/x.c:14 f")
    assert predicate.kind == "failure" and predicate.pattern.startswith("warning: WARNING")
    assert not predicate.build_only
    assert parse_predicate("failure:build: mm/x.c:3: error: y").build_only


def test_watch_runs_a_review_as_one_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """watch's `run: [review]` goes through the same review: one run, runtime bisected."""
    from test_ci_watch import SERIES as MAILS
    from test_ci_watch import deliver, make_inbox, write_config

    from harness.ci import state, watch

    stages = Stages(monkeypatch, culprit=2)
    box = make_inbox(tmp_path / "inbox")
    for raw in MAILS:
        deliver(box, raw)
    cfg = write_config(tmp_path, box, "    run: [review]\n")
    runner = watch.run_series(cfg, tmp_path / "cache")
    with state.held(cfg.state) as st:
        (outcome,) = watch.one_pass(watch.Pass(cfg, tmp_path / "cache", 1000.0, runner), st)
    (run,) = outcome.runs
    assert [what for what, _ in stages.asked] == ["check", "test", "bisect", "compare"]
    assert stages.asked[2][1].suites == ("smoke",)
    assert run.meta["list"] == "mm" and run.meta["kind"] == "review"
    runtime = next(s for s in run.suites if s.name == "runtime")
    assert runtime.children[0].properties["first_bad_patch"] == "2"
    assert "first seen at patch 2/3 two" in (run.path / "review.eml").read_text()


def test_bad_stage_options_are_exit_2_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the bisect or compare stage would refuse, the review refuses at the start."""
    stages = Stages(monkeypatch)
    assert review(tmp_path, "--bench", "no-such-bench") == 2
    assert review(tmp_path, "--min-confidence", "0") == 2
    err = capsys.readouterr().err
    assert "unknown benchmark 'no-such-bench'" in err and "--min-confidence" in err
    assert stages.asked == [] and not (tmp_path / "out").exists()

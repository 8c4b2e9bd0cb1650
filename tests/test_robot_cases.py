"""The kernel test robot corpus in fixtures/robot-cases is what its README says it is.

Each case is a real series and the robot's real report on it: the patches load with
harness's own intake, the provenance is there, every expected finding is quoted verbatim
from the report and names a file the series touches (or says why not), and the corpus
spans the build-matrix entries it exists to exercise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, REAL_TREE, needs_real_tree

from harness.intake.series import Series, load_one

CASES_DIR = FIXTURES / "robot-cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())
SOURCE_KEYS = {"list", "archive_repo", "report_commit", "series_commits", "message_ids"}
ROBOT_KEYS = {"arch", "config", "config_url", "compiler", "flags"}
FINDING_KINDS = {"warning", "error"}
# The build-matrix entries that need a case of their own, and how many cases in all.
REQUIRED_NEEDS = ("clang", "i386", "arm64", "sparse", "config-off")
MIN_CASES = 12
SHA = re.compile(r"^[0-9a-f]{40}$")
MESSAGE_ID = re.compile(r"^<[^<>\s]+@[^<>\s]+>$")


def case_yaml(case: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((case / "case.yaml").read_text())


def load_series(case: Path, tmp_path: Path) -> Series:
    """The case's patch mails as a series directory of their own (robot-report.eml is not one)."""
    series_dir = tmp_path / case.name
    series_dir.mkdir()
    for patch in case.glob("0*.patch"):
        shutil.copy(patch, series_dir)
    return load_one(series_dir)


def need_kind(need: str) -> str:
    """'config-off: CONFIG_ACPI' -> 'config-off'; 'clang' -> 'clang'."""
    return need.split(":", 1)[0].strip()


def test_the_corpus_has_enough_cases() -> None:
    assert len(CASES) >= MIN_CASES


@pytest.mark.parametrize("need", REQUIRED_NEEDS)
def test_every_matrix_entry_has_a_case(need: str) -> None:
    have = {need_kind(n) for case in CASES for n in case_yaml(case)["needs"]}
    assert need in have


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case_dir_holds_patches_a_report_and_case_yaml(case: Path) -> None:
    names = {p.name for p in case.iterdir()}
    assert {"case.yaml", "robot-report.eml"} <= names
    assert any(re.fullmatch(r"0*[1-9]\d*-.+\.patch", n) for n in names)
    unexpected = {n for n in names if not n.endswith(".patch")} - {"case.yaml", "robot-report.eml"}
    assert not unexpected


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_patches_load_with_harness_intake(case: Path, tmp_path: Path) -> None:
    series = load_series(case, tmp_path)
    assert series.patches
    assert (series.cover is not None) == (case / "0000-cover.patch").exists()
    meta = case_yaml(case)
    mails = [p.message_id for p in ([series.cover] if series.cover else []) + list(series.patches)]
    assert mails == meta["source"]["message_ids"]["patches"]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case_yaml_has_provenance(case: Path) -> None:
    meta = case_yaml(case)
    source, robot = meta["source"], meta["robot"]
    assert SOURCE_KEYS <= set(source)
    assert ROBOT_KEYS <= set(robot)
    assert source["archive_repo"].startswith("linux-mailinglist-archives/")
    assert SHA.match(source["report_commit"])
    assert all(SHA.match(c) for c in source["series_commits"])
    ids = source["message_ids"]
    assert MESSAGE_ID.match(ids["report"])
    assert len(ids["patches"]) == len(source["series_commits"])
    assert all(MESSAGE_ID.match(m) for m in ids["patches"])
    assert robot["config"].startswith(robot["arch"] + "-")
    assert meta["needs"] and meta["applies_to"]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_report_is_the_robots_answer_to_the_series(case: Path) -> None:
    meta = case_yaml(case)
    report = (case / "robot-report.eml").read_text()
    assert re.search(r"^From: kernel test robot <lkp@intel\.com>$", report, re.M)
    assert re.search(
        rf"^Message-ID: {re.escape(meta['source']['message_ids']['report'])}$", report, re.M
    )
    replied_to = re.search(r"^In-Reply-To: (\S+)$", report, re.M)
    assert replied_to and replied_to[1] in meta["source"]["message_ids"]["patches"]
    assert f"config: {meta['robot']['config']} ({meta['robot']['config_url']})" in report


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_findings_are_quoted_from_the_report(case: Path) -> None:
    meta = case_yaml(case)
    report = (case / "robot-report.eml").read_text()
    assert meta["findings"]
    for finding in meta["findings"]:
        assert finding["kind"] in FINDING_KINDS
        assert finding["message"] in report, finding
        if "line" in finding:
            assert f">> {finding['file']}:{finding['line']}:" in report, finding
        else:
            assert f"[{finding['object']}]" in finding["message"]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_findings_name_files_the_series_touches_or_say_why_not(case: Path, tmp_path: Path) -> None:
    meta = case_yaml(case)
    touched = {f for p in load_series(case, tmp_path).patches for f in p.files}
    untouched = {f["file"] for f in meta["findings"]} - touched
    if untouched:
        note = meta.get("note", "")
        assert all(f in note for f in untouched), f"{sorted(untouched)} not touched and no note"


APPLYING = [c for c in CASES if case_yaml(c)["applies_to"] == "debian:6.12"]


@needs_real_tree
@pytest.mark.parametrize("case", APPLYING, ids=lambda p: p.name)
def test_series_said_to_apply_to_debian_612_do(case: Path, tmp_path: Path) -> None:
    diffs = "".join(p.diff.rstrip("\n") + "\n" for p in load_series(case, tmp_path).patches)
    result = subprocess.run(
        ["git", "-C", str(REAL_TREE), "apply", "--check", "-"],
        input=diffs.encode(),
        capture_output=True,
    )
    assert result.returncode == 0, result.stderr.decode()


def _bench() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "robot_cases", Path(__file__).parents[1] / "bench" / "robot_cases.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bench_counts_a_finding_only_with_its_file_and_the_robot_s_words() -> None:
    """bench/robot_cases.py's score: gcc's curly quotes are the robot's plain ones, sparse's
    type summary is the robot's own addition, a modpost error names the module."""
    bench: Any = _bench()
    case = yaml.safe_load((CASES_DIR / "ina238-shunt-scaling-format" / "case.yaml").read_text())
    line = (
        "drivers/hwmon/ina238.c:272:36: warning: format ‘%d’ expects argument of type ‘int’,"
        " but argument 3 has type ‘long int’ [-Wformat=]"
    )

    def results(details: str, status: str = "fail") -> dict:  # type: ignore[type-arg]
        cell = {"name": "i386", "status": status, "details": details}
        matrix = {"name": "matrix", "status": status, "children": [cell]}
        return {"suites": [{"name": "0001 x", "status": status, "children": [matrix]}]}

    (hit,) = bench.score(case, results(f"arch: i386\n>> {line}"))
    assert hit["reproduced_in"] == "0001 x/matrix/i386"
    (passed,) = bench.score(case, results(f">> {line}", status="pass"))
    assert passed["reproduced_in"] == ""  # only a failing check reproduces
    (other_file,) = bench.score(case, results(f">> {line.replace('ina238', 'ina2xx')}"))
    assert other_file["reproduced_in"] == ""
    modpost = yaml.safe_load((CASES_DIR / "ina233-divdi3-modpost" / "case.yaml").read_text())
    error = '>> ERROR: modpost: "__divdi3" [drivers/hwmon/pmbus/ina233.ko] undefined!'
    assert bench.score(modpost, results(error))[0]["reproduced_in"].endswith("/i386")

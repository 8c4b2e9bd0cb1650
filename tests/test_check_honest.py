"""`harness check` cannot pass by accident: a checker that crashes is an ERROR, an encoded
mail gets the findings of its 8bit twin, a requested option the series leaves dropped
fails the run, and a --kconfig that names nothing is refused before any run dir."""

from __future__ import annotations

import email
import email.encoders
import email.policy
from pathlib import Path

import pytest
from conftest import make_series

from harness import cli
from harness.build import kconfig, make
from harness.cases import Case, Status
from harness.intake import series
from harness.review import check, check_uapi
from harness.review.checker_findings import Finding, Severity, findings_case

FIX = Path(__file__).parent / "fixtures" / "check"
TREE = FIX / "tree"
HMADVISE = next((FIX / "gmem").glob("0004-*.patch"))


def test_a_checker_that_raises_is_an_error_case(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, tree: Path | None) -> list[Finding]:
        raise KeyError("oops")

    monkeypatch.setattr(check_uapi, "check_patch", broken)
    patch = series.parse_mail(HMADVISE.read_bytes(), 4, HMADVISE)
    cases = {c.name: c for c in check.static_cases(patch, TREE, Path("/dev/null"))}
    assert cases["uapi"].status is Status.ERROR
    assert "uapi check crashed: KeyError" in cases["uapi"].message


def test_a_checker_that_could_not_finish_is_an_error_not_an_info() -> None:
    crash = Finding("uapi", Severity.CRASH, "uapi check could not finish: bad table")
    case = findings_case("uapi", [crash, Finding("uapi", Severity.INFO, "context")])
    assert case.status is Status.ERROR and case.message.startswith("uapi check could not")
    assert case.properties["worst"] == "crash"


def test_the_checkers_own_guards_say_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_uapi catches its own ValueError: that must still be an ERROR case."""

    def bad_table(files: object, tree: object) -> list[Finding]:
        raise ValueError("syscall table unreadable")

    monkeypatch.setattr(check_uapi, "check_syscalls", bad_table)
    found = check_uapi.check_patch(HMADVISE.read_text(), TREE)
    assert findings_case("uapi", found).status is Status.ERROR


def _reencoded(raw: bytes, encode: str) -> bytes:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    payload = msg.get_payload(decode=True)
    del msg["Content-Transfer-Encoding"]
    msg.set_payload(payload)
    getattr(email.encoders, encode)(msg)
    return msg.as_bytes()


def _findings(raw: bytes) -> list[tuple[str, Status, str, str]]:
    patch = series.parse_mail(raw, 4, HMADVISE)
    cases = check.static_cases(patch, TREE, Path("/dev/null"))
    return [(c.name, c.status, c.message, c.details) for c in cases]


@pytest.mark.parametrize("encode", ["encode_base64", "encode_quopri"])
def test_an_encoded_mail_gets_the_findings_of_its_8bit_twin(encode: str) -> None:
    raw = HMADVISE.read_bytes()
    encoded = _reencoded(raw, encode)
    assert encoded.split(b"\n\n", 1)[1] != raw.split(b"\n\n", 1)[1]  # really encoded
    plain = _findings(raw)
    assert dict((n, s) for n, s, *_ in plain)["uapi"] is Status.FAIL  # not vacuous
    assert _findings(encoded) == plain


def _configure_dropping(option: str) -> object:
    def configure(src: Path, bdir: Path, fragments: list[Path], log: Path) -> Case:
        bdir.mkdir(parents=True, exist_ok=True)
        message = f"1 requested option(s) dropped by olddefconfig: {option}"
        return kconfig.ConfigCase("kconfig", Status.FAIL, message, dropped=(option,))

    return configure


def _fake_build(spec: make.BuildSpec, log: Path, name: str = "build") -> make.BuildResult:
    return make.BuildResult(Case(name, Status.PASS, "built"), spec.build / "bzImage", [], 1.0)


def test_a_requested_option_the_series_leaves_dropped_fails_the_check(
    tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check.kconfig, "configure", _configure_dropping("CONFIG_KASAN"))
    monkeypatch.setattr(check.make, "build", _fake_build)
    monkeypatch.setattr(
        check.compiler_warnings, "build_objects", lambda *a: check.compiler_warnings.ObjectBuild()
    )
    out = make_series(tiny_repo, tmp_path / "s", [("mm/mmap.c", "int line3;", "int line3x;")])
    opts = check.CheckOptions(["check"], tmp_path / "runs", tmp_path / "cache", tree=tiny_repo)
    run = check.check_series(series.load(out)[0], opts)
    kconfig_cases = [s for s in run.suites if s.name == "kconfig"]
    assert kconfig_cases and kconfig_cases[0].status is Status.FAIL
    assert "CONFIG_KASAN" in kconfig_cases[0].message and run.failed


@pytest.mark.parametrize(
    "extra",
    [["check", "--kconfig", "no-such-fragment"], ["test", "--kconfig", "no-such-fragment"],
     ["test", "--suite", "no-such-suite"]],
)  # fmt: skip
def test_bad_input_leaves_no_run_dir_and_touches_no_tree(
    tiny_repo: Path, tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = make_series(tiny_repo, tmp_path / "s", [("mm/mmap.c", "int line3;", "int line3x;")])
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    argv = [extra[0], str(out), "--tree", str(tiny_repo), "--out", str(runs), "--cache", str(cache)]
    assert cli.main(argv + extra[1:]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such" in err[0]
    assert not runs.exists() and not cache.exists()

"""Property-based fuzzing of intake (hypothesis): random and mutated patches and mboxes,
started from the real ones in patches/ and tests/fixtures, never give a traceback. Intake
returns series or raises UserError; `harness apply`, `check` and `test` run in-process on
them end with exit 0, 1 or 2 and, for bad input, leave no run dir behind.

Derandomized (a fixed example sequence) so CI is repeatable; milliseconds per example.
b4 is replaced by a pass-through: its subprocess would cost a second per example, and the
mails it returns go through the same parser.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import PROJECT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import cli
from harness.errors import UserError
from harness.intake import series, thread

SEEDS = sorted(
    p.read_bytes()
    for root in (PROJECT / "patches", PROJECT / "tests" / "fixtures")
    for pattern in ("*.patch", "*.mbox", "*.mbx", "*.eml")
    for p in root.rglob(pattern)
    if p.stat().st_size < 64_000
)

# Fragments hostile mail is made of: path tricks, lying hunk headers, absurd numbering,
# encodings, line breaks other than \n, a second mbox separator.
HOSTILE = [
    b"rename to ../../x",
    b"copy from /etc/shadow",
    b'diff --git "a/\\056\\056/x" "b/\\056\\056/x"',
    b'+++ "b/\\q"',
    b"@@ -1,99999 +1,3 @@",
    b"@@ -0,0 +1 @@",
    b"Subject: [PATCH 1/999999999] x",
    b"Subject: [PATCH v99999999999999999999 1/2] x",
    b"Subject: Re: [PATCH 2/3] x",
    b"Content-Transfer-Encoding: base64",
    b"Content-Type: multipart/mixed; boundary=zz",
    b"--zz",
    b"=?utf-8?b?////?=",
    b"\x0c",
    "\u2028".encode(),
    b"\r",
    b"\x00",
    b"\xff\xfe",
    b"From nobody Mon Jan  1 00:00:00 2024",
    b"diff --git a/mm/x.c b/mm/x.c",
    b"--- /dev/null",
    b"\\ No newline at end of file",
    b"base-commit: 0123456",
]


@st.composite
def mutated_mail(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "hostile-line", "truncate", "dup"]))
        if kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif kind == "hostile-line":
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            replace = draw(st.booleans())
            data[start : end if replace else start] = draw(st.sampled_from(HOSTILE)) + (
                b"" if replace else b"\n"
            )
        elif kind == "truncate":
            del data[at:]
        else:
            line_end = data.find(b"\n", at)
            line = data[data.rfind(b"\n", 0, at) + 1 : line_end + 1 if line_end >= 0 else None]
            data[at:at] = line
    return bytes(data)


MAILS = st.one_of(mutated_mail(), st.binary(max_size=300), st.sampled_from(SEEDS))
FUZZ = settings(
    max_examples=100,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True)
def no_b4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thread, "b4_am", lambda mbox, reason, mails: mails)


@contextmanager
def series_dir(mails: list[bytes], as_mbox: bool) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="harness-fuzz-") as tmp:
        root = Path(tmp) / "s"
        root.mkdir()
        if as_mbox:
            (root / "all.mbox").write_bytes(b"".join(mails))
        for i, raw in enumerate([] if as_mbox else mails):
            (root / f"{i:04d}-x.patch").write_bytes(raw)
        yield root


@FUZZ
@given(mails=st.lists(MAILS, min_size=1, max_size=3), as_mbox=st.booleans())
def test_intake_gives_series_or_bad_input_never_a_traceback(
    mails: list[bytes], as_mbox: bool
) -> None:
    with series_dir(mails, as_mbox) as root:
        try:
            loaded = series.load(root)
        except UserError as err:
            assert "\n" not in str(err).strip()  # one line
            return
    for one in loaded:
        assert one.patches and all(p.files for p in one.patches)
        assert not any(
            f.startswith("/") or ".." in Path(f).parts
            for p in one.patches
            for f in p.files
            if f != "/dev/null"
        )


COMMANDS = st.sampled_from(
    [
        ["apply"],
        ["check"],
        ["check", "--kconfig", "virtme-min"],
        ["test", "--suite", "smoke"],
    ]
)
WORDS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@FUZZ
@given(
    mails=st.lists(MAILS, min_size=1, max_size=2),
    command=COMMANDS,
    extra=st.lists(
        st.tuples(st.sampled_from(["--kconfig", "--suite", "--base"]), WORDS), max_size=2
    ),
)
def test_commands_on_fuzzed_series_exit_0_1_or_2_and_leave_no_run_dir(
    mails: list[bytes], command: list[str], extra: list[tuple[str, str]]
) -> None:
    """--tree names a directory that is no git repository, so every run stops at the last
    bad-input check, before any tree is touched: what is left is argument validation."""
    with series_dir(mails, as_mbox=False) as root:
        out = root.parent / "runs"
        argv = [command[0], str(root), "--tree", str(root), "--out", str(out), *command[1:]]
        for flag, value in extra:
            if flag == "--base" or (flag == "--kconfig" and command[0] == "apply"):
                continue  # --base excludes --tree; apply has no --kconfig
            if flag == "--suite" and command[0] != "test":
                continue
            argv += [f"{flag}={value}"]
        try:
            status = cli.main(argv)
        except SystemExit as done:  # argparse's usage errors
            status = int(done.code or 0)
        assert status in (0, 1, 2)
        assert not out.exists()


def test_an_mbox_whose_from_line_is_not_ascii_is_read(tmp_path: Path) -> None:
    """Found by the fuzzer: mailbox decoded each From_ separator as ASCII and raised."""
    raw = next((PROJECT / "patches/fixtures/build-break").glob("*.patch")).read_bytes()
    (tmp_path / "all.mbox").write_bytes(b"From \x80\xff nobody" + raw[raw.index(b" Mon") :])
    (one,) = series.load(tmp_path / "all.mbox")
    assert one.patches[0].files == ("mm/mmap.c",)

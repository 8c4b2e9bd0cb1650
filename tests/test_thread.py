"""Thread intake: an mbox saved from a mailing list, as lore gives it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import PROJECT

from harness.errors import UserError
from harness.intake import series, thread

GMEM = PROJECT / "patches/gmem-rfc-v1"
REVIEWER = "David Hildenbrand <david@redhat.com>"


def _mails() -> list[bytes]:
    return [p.read_bytes() for p in sorted(GMEM.glob("*.patch"))]


def _mbox(path: Path, mails: list[bytes]) -> Path:
    # mbox "From " separators; the files carry format-patch's own first line already
    path.write_bytes(b"\n".join(m if m.startswith(b"From ") else b"From x\n" + m for m in mails))
    return path


def _reply_to(mail: bytes, body: str) -> bytes:
    patch = series.parse_mail(mail, 1, Path("x"))
    return (
        f"From reviewer Thu Jan  1 00:00:00 1970\nFrom: {REVIEWER}\n"
        f"Subject: Re: {patch.subject}\nDate: Wed, 29 Nov 2023 10:00:00 +0100\n"
        f"Message-ID: <reply-{patch.number}@example.org>\n"
        f"In-Reply-To: {patch.message_id}\nReferences: {patch.message_id}\n\n{body}\n"
    ).encode()


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[RFC PATCH 3/6] mm/gmem: x", thread.Numbering(1, 3, 6)),
        ("[PATCH v4 05/10] selftests/mm: x", thread.Numbering(4, 5, 10)),
        ("[PATCH 6.6.y v2 1/2] Kunit to check", thread.Numbering(2, 1, 2)),
        ("[PATCH net-next] single", None),
    ],
)
def test_numbering_reads_version_and_position(
    subject: str, expected: thread.Numbering | None
) -> None:
    assert thread.numbering(subject) == expected


def test_plain_format_patch_series_needs_no_b4() -> None:
    subjects = [thread.subject_of(m) for m in _mails()]
    assert thread.why_thread(subjects) == ""


def test_thread_mbox_in_arrival_order_with_a_review_is_sorted_by_b4(tmp_path: Path) -> None:
    mails = _mails()
    shuffled = mails[1:]
    random.Random(7).shuffle(shuffled)
    review = _reply_to(mails[2], f"Looks right to me.\n\nReviewed-by: {REVIEWER}")
    box = _mbox(tmp_path / "thread.mbox", [review, *shuffled, mails[0]])

    (s,) = series.load(box)

    assert s.cover is not None and s.cover.subject.startswith("[RFC PATCH 0/6]")
    assert [p.subject[:15] for p in s.patches] == [f"[RFC PATCH {n}/6]" for n in range(1, 7)]
    assert s.message_id == "<20231128125025.4449-1-weixi.zhu@huawei.com>"
    # the reviewer's trailer from the thread lands on the patch it answered
    assert f"Reviewed-by: {REVIEWER}".encode() in s.patches[1].mail
    assert b"Reviewed-by" not in s.patches[0].mail


def test_missing_patch_is_refused(tmp_path: Path) -> None:
    mails = _mails()
    box = _mbox(tmp_path / "partial.mbox", mails[:3] + mails[4:])
    with pytest.raises(UserError, match=r"missing 3/6"):
        series.load(box)


def test_out_of_order_directory_is_refused_with_advice(tmp_path: Path) -> None:
    mails = _mails()
    (tmp_path / "a.patch").write_bytes(mails[2])
    (tmp_path / "b.patch").write_bytes(mails[1])
    with pytest.raises(UserError, match=r"out of order; give the thread as one mbox"):
        series.load(tmp_path)


def test_thread_without_patches_is_a_user_error(tmp_path: Path) -> None:
    only_replies = [_reply_to(m, "Nice.") for m in _mails()[1:3]]
    box = _mbox(tmp_path / "replies.mbox", only_replies)
    with pytest.raises(UserError, match=r"b4 am could not sort it out|has no diff"):
        series.load(box)


def test_missing_b4_is_an_environment_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.errors import EnvError

    mails = _mails()
    box = _mbox(tmp_path / "thread.mbox", [mails[2], mails[1]])
    monkeypatch.setenv("PATH", str(tmp_path))  # no b4 on it
    # nor next to the running Python, where proc.program finds a venv's b4
    monkeypatch.setattr("sys.executable", str(tmp_path / "python3"))
    with pytest.raises(EnvError, match="b4 not found"):
        series.load(box)

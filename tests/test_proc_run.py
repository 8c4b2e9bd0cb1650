"""proc.run's deadline against real tiny children (python -c), not fakes: the bug was in
how the pipe is read, which a fake runner would not exercise."""

from __future__ import annotations

import sys

from harness import proc


def test_the_timeout_holds_when_the_child_prints_a_partial_line_and_hangs() -> None:
    # No newline, then a hang: a line-buffered reader would wait for the newline forever.
    child = "import sys,time; sys.stdout.write('half a line'); sys.stdout.flush(); time.sleep(30)"
    result = proc.run([sys.executable, "-c", child], timeout=1.5)
    assert result.timed_out
    assert result.seconds < 10
    assert result.output == "half a line"


def test_lines_reach_on_line_whole_and_the_tail_without_newline_is_kept() -> None:
    child = "import sys; sys.stdout.write('one\\ntwo\\nthr'); sys.stdout.flush(); print('ee')"
    seen: list[str] = []
    result = proc.run([sys.executable, "-c", child], timeout=30, on_line=seen.append)
    assert result.ok
    assert seen == ["one\n", "two\n", "three\n"]
    assert result.output == "one\ntwo\nthree\n"

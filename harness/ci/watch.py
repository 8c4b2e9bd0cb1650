"""`harness watch CONFIG`: the intake of a CI bot. Each pass reads the mails new in every
followed inbox, assembles complete series, and runs `check` and/or `test` on each new one
(or `review`, the whole reply; `compare` or `bisect` alone).

Input: a WatchConfig. Output: run directories under the config's `out` (one per series and
kind, their meta naming the list and the series' patches), the series as an mbox under
out/mbox/, and the state file. A series whose patches have not all arrived waits, and
after `incomplete_after` seconds gets a run directory whose intake case says what is
missing. Raises UserError for a bad config or state, EnvError for a missing tool (the
series in progress stays `started` and is run again by the next pass).
"""

from __future__ import annotations

import mailbox
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import pipeline, proc
from harness.build import matrix
from harness.cases import Case, Status
from harness.ci import assemble, inbox, state
from harness.ci.config import ListConfig, WatchConfig
from harness.errors import UserError
from harness.intake import series as intake
from harness.proc import note
from harness.results.rundir import RunDir, load
from harness.review import check

# (kind, series, list, argv) -> the run directory it wrote
Runner = Callable[[str, intake.Series, ListConfig, list[str]], RunDir]


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # done, rejected, incomplete
    runs: tuple[RunDir, ...] = ()
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status != "done" or any(r.failed for r in self.runs)


@dataclass(frozen=True)
class Pass:
    config: WatchConfig
    cache: Path
    now: float
    runner: Runner


def one_pass(watch: Pass, st: state.State) -> list[Outcome]:
    outcomes = []
    for lst in watch.config.lists:
        _read_new_mails(lst, st)
        for cand in assemble.candidates(st.of_list(lst.name).waiting):
            outcome = _consider(watch, st, lst, cand)
            if outcome:
                outcomes.append(outcome)
    return outcomes


def _read_new_mails(lst: ListConfig, st: state.State) -> None:
    """Append the inbox's new mails to the list's waiting mails; the cursor moves in
    the same write, so a mail is never lost nor read twice."""
    ls = st.of_list(lst.name)
    stored, cursor = inbox.new_messages(lst.inbox, ls.cursor)
    known = {r.message_id for r in ls.waiting}
    for one in stored:
        ref = assemble.mail_ref(inbox.read_message(lst.inbox, one), one.epoch, one.blob)
        if ref.message_id not in known:
            ls.waiting.append(ref)
            known.add(ref.message_id)
    ls.cursor = cursor
    st.save()
    if stored:
        note(f"{lst.name}: {len(stored)} new mail(s) in {lst.inbox}")


def _consider(
    watch: Pass, st: state.State, lst: ListConfig, cand: assemble.Candidate
) -> Outcome | None:
    seen = st.series.get(cand.key)
    if seen and seen.status in state.FINISHED:
        return None
    if seen is None:
        seen = state.SeriesState("waiting", lst.name, cand.subject, watch.now)
        st.series[cand.key] = seen
        st.save()
    if not cand.complete:
        waited = watch.now - seen.first_seen
        if waited < watch.config.incomplete_after:
            return None
        return _finish(st, cand, seen, _incomplete(watch, lst, cand, waited))
    if seen.status == "started":
        note(f"{lst.name}: {cand.subject}: its last run did not finish; running it again")
    seen.status = "started"
    st.save()
    return _finish(st, cand, seen, _run_all(watch, lst, cand))


def _finish(
    st: state.State, cand: assemble.Candidate, seen: state.SeriesState, outcome: Outcome
) -> Outcome:
    seen.status, seen.message = outcome.status, outcome.message
    seen.runs = [str(r.path) for r in outcome.runs]
    ids = {m.message_id for m in cand.mails}
    ls = st.of_list(seen.list_name)
    ls.waiting = [r for r in ls.waiting if r.message_id not in ids]
    st.save()
    return outcome


def _run_all(watch: Pass, lst: ListConfig, cand: assemble.Candidate) -> Outcome:
    mbox = write_mbox(lst, cand, watch.config.out / "mbox")
    try:
        one = intake.load_one(mbox)
    except UserError as err:
        note(f"{lst.name}: {cand.subject}: rejected: {err}")
        return Outcome(cand.key, "rejected", message=str(err))
    runs = []
    for kind in lst.run:
        argv = run_argv(kind, mbox, lst, watch)
        note(f"{lst.name}: {cand.subject}: harness {' '.join(argv)}")
        run = watch.runner(kind, one, lst, argv)
        run.meta.update(list=lst.name, watch_key=cand.key)
        run.flush()
        runs.append(run)
    return Outcome(cand.key, "done", tuple(runs))


def run_argv(kind: str, mbox: Path, lst: ListConfig, watch: Pass) -> list[str]:
    """The command line that reproduces this run by hand."""
    argv = [kind, str(mbox), "--out", str(watch.config.out), "--cache", str(watch.cache)]
    argv += ["--base", lst.base] if lst.base else []
    argv += [a for k in lst.kconfig for a in ("--kconfig", k)]
    if kind in ("test", "review", "bisect"):
        argv += [a for s in lst.suites for a in ("--suite", s)]
    return argv


def write_mbox(lst: ListConfig, cand: assemble.Candidate, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{lst.name}-{cand.key}").strip("-")
    path = where / f"{safe}.mbox"
    path.unlink(missing_ok=True)
    box = mailbox.mbox(str(path))
    try:
        for ref in cand.mails:
            box.add(inbox.read_message(lst.inbox, inbox.Stored(ref.epoch, "", ref.blob)))
    finally:
        box.close()
    return path


def _incomplete(watch: Pass, lst: ListConfig, cand: assemble.Candidate, waited: float) -> Outcome:
    listed = ", ".join(f"{n}/{cand.total}" for n in cand.missing)
    message = f"incomplete series: missing {listed} after {waited:.0f}s"
    note(f"{lst.name}: {cand.subject}: {message}")
    run = RunDir.create(watch.config.out, f"{lst.name}-incomplete", ["watch"])
    first = cand.mails[0]
    run.meta.update(list=lst.name, watch_key=cand.key, subject=cand.subject, kind="intake")
    run.meta.update(message_id=first.message_id, patches=cand.total)
    run.add(Case("intake", Status.FAIL, message))
    return Outcome(cand.key, "incomplete", (run,), message)


def run_series(watch: WatchConfig, cache: Path) -> Runner:
    """The real runner: the same pipelines as `harness check` and `harness test`."""

    def runner(kind: str, one: intake.Series, lst: ListConfig, argv: list[str]) -> RunDir:
        out, base, kconfig = watch.out, lst.base, lst.kconfig
        if kind == "check":
            proc.require(proc.BUILD_TOOLS)
            opts = check.CheckOptions(argv, out, cache, base, kconfig=kconfig, matrix=lst.matrix)
            return check.check_series(one, opts)
        if kind == "test":
            test = pipeline.TestOptions(argv, out, cache, base, kconfig=kconfig, suites=lst.suites)
            return pipeline.test_series(one, test)
        from harness.bisection import command as bisect_command
        from harness.compare import command as compare_command
        from harness.reply import command as reply

        settings = reply.StageSettings(cache, base=base, kconfig=kconfig, suites=lst.suites)
        if kind == "review":
            return reply.review(one, reply.options(argv, out, settings, lst.matrix))
        if kind == "compare":
            return compare_command.compare(settings.compare(one.path, out))
        made, stopped = bisect_command.bisect_and_go_on(settings.bisect(one.path, "", out))
        if stopped is not None and not isinstance(stopped, UserError):
            raise stopped
        if stopped is not None:  # nothing to bisect: its run dir says so
            note(f"{lst.name}: {one.subject}: {stopped}")
        if made is None:
            raise UserError(f"{one.subject}: the bisection wrote no run directory")
        meta, suites = load(made)
        return RunDir(made, made.name, meta, suites)

    return runner


def watch_command(config: WatchConfig, cache: Path, once: bool, interval: int) -> int:
    """`harness watch`: 1 when a series failed its runs or was incomplete or rejected."""
    proc.require(("git",))
    for lst in config.lists:  # a missing toolchain: exit 3 before the first series
        if "check" in lst.run:
            matrix.require(lst.matrix or matrix.DEFAULT)
    failed = False
    with state.held(config.state) as st:
        while True:
            watch = Pass(config, cache, time.time(), run_series(config, cache))
            for outcome in one_pass(watch, st):
                failed = failed or outcome.failed
                for run in outcome.runs:
                    print(f"{outcome.key}: {'FAIL' if run.failed else 'PASS'} {run.path}")
            if once:
                break
            time.sleep(interval)
    return 1 if failed else 0

"""The bwrap argv builder, the policy and the denial scan: pure, on made-up mounts."""

from __future__ import annotations

from pathlib import Path

from harness import sandbox
from harness.sandbox import Mounts, Sandbox

MOUNTS = Mounts(
    hidden_dirs=("/root", "/tmp", "/root/.cache/harness/builds"),
    hidden_files=("/etc/shadow",),
    readable=("/root/.cache/harness/worktrees/t-1",),
    writable=("/root/.cache/harness/builds/t-1-abc", "/root/.cache/ccache"),
)


def pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == flag]


def test_no_network_another_uid_and_the_host_read_only() -> None:
    argv = sandbox.bwrap_argv(MOUNTS, ["make", "-j2"], "/", None)
    assert argv[0] == "bwrap" and "--unshare-all" in argv and "--die-with-parent" in argv
    assert argv[argv.index("--uid") + 1] == "65534" and argv[argv.index("--gid") + 1] == "65534"
    assert ("/", "/") in pairs(argv, "--ro-bind")
    assert "--share-net" not in argv
    assert argv[-3:] == ["--", "make", "-j2"]


def test_secrets_are_hidden_before_the_bound_paths_come_back() -> None:
    argv = sandbox.bwrap_argv(MOUNTS, ["true"], "/", None)
    tmpfs = [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]
    assert tmpfs == ["/root", "/tmp", "/root/.cache/harness/builds"]  # shallow first
    assert ("/dev/null", "/etc/shadow") in pairs(argv, "--ro-bind")
    last_tmpfs = max(i for i, a in enumerate(argv) if a == "--tmpfs")
    build = argv.index("/root/.cache/harness/builds/t-1-abc")
    assert argv[build - 1] == "--bind" and build > last_tmpfs
    assert ("/root/.cache/harness/worktrees/t-1",) * 2 in pairs(argv, "--ro-bind")
    # Hidden dirs are remounted read-only after the binds, all but the private /tmp.
    remounted = [argv[i + 1] for i, a in enumerate(argv) if a == "--remount-ro"]
    assert remounted == ["/root", "/root/.cache/harness/builds"]
    assert min(i for i, a in enumerate(argv) if a == "--remount-ro") > build


def test_memory_limit_wraps_bwrap_in_prlimit() -> None:
    argv = sandbox.bwrap_argv(MOUNTS, ["true"], "/w", 1 << 30)
    assert argv[:4] == ["prlimit", "--as=1073741824", "--", "bwrap"]
    assert argv[argv.index("--chdir") + 1] == "/w"


def test_the_policy_is_off_only_when_turned_off() -> None:
    assert not sandbox.enabled({"HARNESS_SANDBOX": "0"})
    assert sandbox.enabled({"HARNESS_SANDBOX": "1"})
    assert sandbox.enabled({}) == (sandbox.DEFAULT_POLICY != "0")


def test_the_child_gets_no_token_from_the_harness_environment() -> None:
    env = {"PATH": "/usr/bin", "GITHUB_TOKEN": "x", "CCACHE_DIR": "/c", "AWS_SECRET": "y"}
    assert sandbox.child_env(env, {"KBUILD_BUILD_USER": "h"}) == {
        "PATH": "/usr/bin",
        "CCACHE_DIR": "/c",
        "KBUILD_BUILD_USER": "h",
    }


def test_the_parent_of_a_writable_dir_is_hidden_its_other_slots() -> None:
    found = sandbox.hidden_dirs({"HOME": "/home/u"}, [Path("/c/harness/builds/s-1")])
    assert Path("/c/harness/builds") in found and Path("/home/u") in found
    assert Path("/root") in found


def test_denials_name_writes_hidden_reads_and_the_network() -> None:
    output = "\n".join(
        [
            "  CC      mm/mmap.o",
            "sh: 1: cannot create /usr/evil: Read-only file system",
            "cat: /root/secret: No such file or directory",
            "curl: (6) Could not resolve host: example.com",
            "OSError: [Errno 101] Network is unreachable",
            # Errors about bound paths are the build's own, not the sandbox's.
            "/root/.cache/harness/worktrees/t-1/mm/x.c: No such file or directory",
            "gcc: error: /nonexistent.c: No such file or directory",
        ]
    )
    assert sandbox.denials(output, MOUNTS) == (
        "sh: 1: cannot create /usr/evil: Read-only file system",
        "cat: /root/secret: No such file or directory",
        "curl: (6) Could not resolve host: example.com",
        "OSError: [Errno 101] Network is unreachable",
    )
    assert sandbox.denials("perl: /etc/shadow: Permission denied", MOUNTS)


def test_a_clean_build_log_has_no_denials() -> None:
    log = Path(__file__).parent / "fixtures"
    texts = [p.read_text(errors="replace") for p in log.rglob("*build*.log")]
    assert texts, "recorded build logs"
    assert all(sandbox.denials(t, MOUNTS) == () for t in texts)


def test_the_case_message_says_the_sandbox_stopped_it() -> None:
    assert sandbox.stopped(["a", "b", "c"]) == (
        "the sandbox stopped it: a (and 2 more, see the log)"
    )


def test_a_worktree_brings_its_git_dirs(tmp_path: Path) -> None:
    common = tmp_path / "repo" / ".git"
    gitdir = common / "worktrees" / "t-1"
    gitdir.mkdir(parents=True)
    (gitdir / "commondir").write_text("../..\n")
    tree = tmp_path / "t-1"
    tree.mkdir()
    (tree / ".git").write_text(f"gitdir: {gitdir}\n")
    assert sandbox.git_dirs(tree) == [gitdir, common]
    mounts = sandbox.resolve(Sandbox(readable=(tree,)), {})
    assert str(common) in mounts.readable and str(tree) in mounts.readable


def test_replaced_files_are_bound_over_the_host_after_everything_else() -> None:
    mounts = Mounts((), (), (), (), (), (("/usr/bin/systemd-tmpfiles", "/usr/bin/true"),))
    argv = sandbox.bwrap_argv(mounts, ["vng"], "/", None)
    assert ("/usr/bin/true", "/usr/bin/systemd-tmpfiles") in pairs(argv, "--ro-bind")
    assert argv.index("/usr/bin/true") > argv.index("--proc")


def test_a_replacement_whose_target_or_source_is_missing_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("host")
    (tmp_path / "source").write_text("ours")
    box = Sandbox(
        replaced=(
            (tmp_path / "target", tmp_path / "source"),
            (tmp_path / "no-such-target", tmp_path / "source"),
            (tmp_path / "target", tmp_path / "no-such-source"),
        )
    )
    mounts = sandbox.resolve(box, {})
    assert mounts.replaced == ((str(tmp_path / "target"), str(tmp_path / "source")),)


def test_run_by_root_the_command_drops_to_an_unprivileged_host_uid() -> None:
    assert sandbox.drop_uid(0) == sandbox.NOBODY and sandbox.drop_uid(1000) is None
    argv = sandbox.bwrap_argv(MOUNTS, ["make"], "/", None, 64, drop=sandbox.NOBODY)
    assert argv[:3] == ["prlimit", "--nproc=64", "--"]
    assert "--unshare-all" not in argv and "--uid" not in argv  # no user namespace
    assert {"--unshare-net", "--unshare-pid", "--unshare-ipc"} <= set(argv)
    setpriv = argv[argv.index("setpriv") : argv.index("setpriv") + 7]
    assert setpriv[1:3] == ["--reuid=65534", "--regid=65534"] and "--clear-groups" in setpriv
    assert "--bounding-set=-all" in setpriv and argv[-2:] == ["--", "make"]
    tmp = argv.index("/tmp")
    assert argv[tmp - 3 : tmp] == ["--perms", "1777", "--tmpfs"]


def test_no_step_may_write_the_tree_or_more_than_its_rule_allows() -> None:
    for step, rule in sandbox.POLICY.items():
        assert "src" not in rule.writes, step
    try:
        sandbox.for_step(sandbox.Step.KCONFIG, writes={"ccache": (Path("/c"),)})
    except ValueError as err:
        assert "may not write" in str(err)
    else:
        raise AssertionError("kconfig was let write ccache")
    box = sandbox.for_step(sandbox.Step.TREE_SCRIPT, reads=(Path("/t"),))
    assert box.writable == () and box.readable == (Path("/t"),)
    boot = sandbox.for_step(sandbox.Step.BOOT, writes={"build": (Path("/b"),)})
    assert boot.memory is None and boot.writable == (Path("/b"),)


def test_a_permission_denied_outside_the_writable_dirs_is_a_denial() -> None:
    assert sandbox.denials("cat: /srv/secret: Permission denied", MOUNTS)
    inside = "/root/.cache/harness/builds/t-1-abc/x: Permission denied"
    assert not sandbox.denials(inside, MOUNTS)


def test_the_dirs_on_the_way_to_a_bound_path_are_crossable_by_the_sandbox_uid() -> None:
    # bwrap makes them 0700 and root's: the sandbox uid could not reach the tree.
    argv = sandbox.bwrap_argv(MOUNTS, ["true"], "/", None, drop=sandbox.NOBODY)
    made = [argv[i + 3] for i, a in enumerate(argv) if a == "--perms" and argv[i + 2] == "--dir"]
    assert "/root/.cache" in made and "/root/.cache/harness/worktrees" in made
    assert "/root/.cache/harness/builds" not in made  # a hidden tmpfs of its own
    assert made.index("/root/.cache") < made.index("/root/.cache/harness/worktrees")
    first_bind = argv.index("/root/.cache/harness/worktrees/t-1") - 1
    assert argv.index("/root/.cache/harness/worktrees") < first_bind

"""The build robots' matrix for `harness check`: each patch's touched objects compiled in
the cells 0-day and NIPA build (x86_64 gcc allyesconfig; x86_64 clang, i386 gcc and arm64
gcc allmodconfig; sparse; all with W=1), and with each option the patch's code depends on
turned off, before and after the patch, in the same cell.

A cell's build dir is configured (its all*config, CONFIG_WERROR off) and `make prepare`d
once per slot and base, by the bare base (trusted); each series gets a copy of it that
only its own builds write. Per patch only the objects built from the .c files it touches
are compiled, so a cell costs seconds per patch, not a kernel build. A warning is new
when the base in the same cell lacks it (compiler_warnings: file, function and message,
never the line); on 32-bit cells an object that now needs libgcc's 64-bit division
(`__udivdi3`), which the kernel does not link, is a finding as modpost reports it.

Input: the cells (`--matrix`, series.yaml's `matrix`), a slot, the base, the patches.
Output: per patch the Case "matrix", a child per cell and per option turned off.
Files: <slot>/builds/cell-<arch>-<compiler>-{base,<owner>}, each cell's .config copied
to the run dir as config-<cell>, make's output in matrix.log.
Raises UserError for an unknown cell name, EnvError for a missing toolchain.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import git, proc, sandbox
from harness.build import ccache, compiler_warnings, kconfig, make
from harness.build.compiler_warnings import ObjectBuild
from harness.cases import Case, Status
from harness.errors import EnvError, UserError
from harness.readfiles import copy_untrusted, read_in_tree, read_untrusted
from harness.sandbox import Step
from harness.tree import slots

# libgcc's 64-bit division helpers: gcc and clang call them for a u64 / u32 on a 32-bit
# target, and the kernel links none of them (div_u64() and do_div() are the kernel's way).
LIBGCC_DIVISION = ("__udivdi3", "__umoddi3", "__divdi3", "__moddi3", "__udivmoddi4", "__divmoddi4")
# What a robot's all*config build leaves out or turns into errors: -Werror would stop
# the compile at the first new warning, and the per-patch compile wants them all.
ALLCONFIG = "CONFIG_WERROR=n\n"
PREPARED = "prepared"  # in a cell's state dir (slots.state_dir): base commit, toolchain
MAX_FLIPS = 3  # options turned off per patch (each in gcc, and in clang when it is a cell)
MAX_USERS = 8  # per touched header: the files that include it, compiled too
CLANG_VERSIONS = range(21, 13, -1)  # LLVM=-N: the newest clang-N on PATH


@dataclass(frozen=True)
class Cell:
    """One build of the matrix: an architecture, a compiler, its flags."""

    name: str
    arch: str  # make's ARCH
    compiler: str  # "gcc" or "clang"
    cross: str = ""  # CROSS_COMPILE for gcc
    sparse: bool = False  # C=1: sparse on each compiled object
    off: str = ""  # an option turned off (CONFIG_X), on top of its config
    allconfig: str = ""  # more of KCONFIG_ALLCONFIG: what the all*config would not choose
    config: str = "allmodconfig"  # or allyesconfig: everything built in, MODULE undefined

    @property
    def prepared_as(self) -> str:
        """The prepared build dir this cell shares (sparse and options off: x86_64 gcc's)."""
        return f"{self.arch}-{self.compiler}" + ("-yes" if self.config == "allyesconfig" else "")

    def cc(self) -> str:
        return f"clang{clang_suffix()}" if self.compiler == "clang" else f"{self.cross}gcc"

    def make_args(self) -> tuple[str, ...]:
        args = [f"ARCH={self.arch}"]
        if self.compiler == "clang":
            args.append(f"LLVM={clang_suffix() or 1}")
        elif self.cross:
            args.append(f"CROSS_COMPILE={self.cross}")
        return (*args, *(("C=1",) if self.sparse else ()))

    def builds_arch_of(self, obj: str) -> bool:
        """An object under arch/<dir>/ is built only for that arch (x86 for x86_64 and i386)."""
        if not obj.startswith("arch/"):
            return True
        return obj.split("/")[1] == ("x86" if self.arch in ("x86_64", "i386") else self.arch)

    def tools(self) -> list[tuple[str, str]]:
        """(program, Debian package) this cell needs."""
        if self.compiler == "clang":
            suffix = clang_suffix()
            version = suffix.lstrip("-") or "19"
            return [
                (f"clang{suffix}", f"clang-{version}"),
                (f"ld.lld{suffix}", f"lld-{version}"),
                (f"llvm-ar{suffix}", f"llvm-{version}"),
            ]
        tools = [(f"{self.cross}gcc", f"gcc-{self.cross.rstrip('-')}" if self.cross else "gcc")]
        return tools + ([("sparse", "sparse")] if self.sparse else [])

    def flags(self) -> str:
        return " ".join(["W=1", *(("C=1",) if self.sparse else ())])

    def config_name(self) -> str:
        forced = [line for line in self.allconfig.splitlines() if line]
        if self.off:
            forced.append(f"{self.off}=n")
        return self.config + (f" with {', '.join(forced)}" if forced else "")

    def reproduce(self, objects: Sequence[str]) -> str:
        """One line a reader types in a kernel tree to see the same."""
        args = " ".join(self.make_args())
        config = f"make {args} {self.config}"
        changes = [
            f"-e {line.split('=')[0][len('CONFIG_') :]}"
            for line in self.allconfig.splitlines()
            if line
        ]
        changes += [f"-d {self.off[len('CONFIG_') :]}"] if self.off else []
        if changes:
            config += f" && scripts/config {' '.join(changes)} && make {args} olddefconfig"
        return f"{config} && make {args} W=1 {' '.join(objects)}".replace("  ", " ")


# x86_64 gcc builds everything in (allyesconfig: what depends on MODULE being undefined,
# e.g. a device table only MODULE_DEVICE_TABLE used), the other cells as modules.
CELLS = {
    "x86_64": Cell("x86_64", "x86_64", "gcc", config="allyesconfig"),
    "x86_64-clang": Cell("x86_64-clang", "x86_64", "clang"),
    # -Os: gcc then calls libgcc for a 64-bit division by a constant, which -O2 turns into
    # a multiply; the kernel must link either way, and the robots' randconfigs pick -Os too.
    "i386": Cell(
        "i386", "i386", "gcc", cross="i686-linux-gnu-", allconfig="CONFIG_CC_OPTIMIZE_FOR_SIZE=y\n"
    ),
    "arm64": Cell("arm64", "arm64", "gcc", cross="aarch64-linux-gnu-"),
    "sparse": Cell("sparse", "x86_64", "gcc", sparse=True, config="allyesconfig"),
}
KERNEL = "kernel"  # the kernel check builds and W=1s in today's config (review/check.py)
FLIPS = "options-off"  # x86_64 gcc with each option the patch depends on turned off
NAMES = (KERNEL, *CELLS, FLIPS)
DEFAULT = NAMES


def parse(text: str) -> tuple[str, ...]:
    """`--matrix kernel,i386,sparse` -> the names in NAMES' order; UserError otherwise."""
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in NAMES]
    if unknown or not wanted:
        raise UserError(f"--matrix {text}: expected some of {','.join(NAMES)}")
    return tuple(name for name in NAMES if name in wanted)


@functools.cache
def clang_suffix() -> str:
    """'-19' for the newest clang-19 .. clang-14 on PATH, '' for a plain clang."""
    for version in CLANG_VERSIONS:
        if shutil.which(f"clang-{version}"):
            return f"-{version}"
    return ""


def cells_of(names: Sequence[str]) -> list[Cell]:
    """The compiled cells of a matrix (options-off cells are made per patch)."""
    cells = [CELLS[name] for name in names if name in CELLS]
    if FLIPS in names and not any(c.prepared_as == CELLS["x86_64"].prepared_as for c in cells):
        cells.insert(0, CELLS["x86_64"])  # options-off cells start from its prepared dir
    return cells


def require(names: Sequence[str]) -> None:
    """EnvError (exit 3) naming the Debian package of every missing toolchain program."""
    missing = {
        package
        for cell in cells_of(names)
        for program, package in cell.tools()
        if shutil.which(program) is None
    }
    if missing:
        raise EnvError(
            f"the build matrix needs: apt-get install {' '.join(sorted(missing))}"
            " (or fewer cells: --matrix kernel,...)"
        )


@functools.cache
def compiler_version(cc: str) -> str:
    done = proc.run([cc, "--version"], timeout=30)
    return done.output.splitlines()[0].strip() if done.ok and done.output else cc


# ---- options the patch's code depends on -------------------------------------------------

GUARD = re.compile(
    r"^[+ -]\s*#\s*(?:if|ifdef|ifndef|elif)\b.*"
    r"|IS_(?:ENABLED|REACHABLE|BUILTIN|MODULE)\(CONFIG_\w+\)"
)
OPTION = re.compile(r"\bCONFIG_([A-Za-z0-9_]+)")
KCONFIG_ADDS = re.compile(r"^\+\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$")
DEPENDS = re.compile(r"^[+-]\s*depends\s+on\s+(.*)$")
SYMBOL = re.compile(r"\b([A-Z][A-Z0-9_]+)\b")
# What added code uses whose declarations or expansion depend on an option: with the
# option off, of_match_ptr(x) is NULL and x unused, struct acpi_device is incomplete.
USES = (
    (re.compile(r"\b(?:of_match_ptr|of_\w+|for_each_\w*of_\w+)\b"), "CONFIG_OF"),
    (re.compile(r"\b(?:ACPI_PTR|ACPI_\w+|acpi_\w+)\b"), "CONFIG_ACPI"),
    (
        re.compile(r"\b(?:pm_sleep_ptr|SET_SYSTEM_SLEEP_PM_OPS|SIMPLE_DEV_PM_OPS)\b"),
        "CONFIG_PM_SLEEP",
    ),
    (
        re.compile(r"\b(?:pm_ptr|SET_RUNTIME_PM_OPS|UNIVERSAL_DEV_PM_OPS|pm_runtime_\w+)\b"),
        "CONFIG_PM",
    ),
    (re.compile(r"\b(?:gpiod?_\w+)\b"), "CONFIG_GPIOLIB"),
    (re.compile(r"\b(?:regulator_\w+|devm_regulator_\w+)\b"), "CONFIG_REGULATOR"),
    (re.compile(r"\b(?:debugfs_\w+)\b"), "CONFIG_DEBUG_FS"),
    (re.compile(r"\b(?:mem_cgroup_\w+|memcg\w*)\b"), "CONFIG_MEMCG"),
    (re.compile(r"\b(?:cpuset_\w+)\b"), "CONFIG_CPUSETS"),
    (re.compile(r"\b(?:numa_\w+|NUMA_\w+|node_distance)\b"), "CONFIG_NUMA"),
)
NEVER_OFF = {"CONFIG_COMPILE_TEST", "CONFIG_X86", "CONFIG_X86_64", "CONFIG_64BIT", "CONFIG_MODULES"}


def options_to_turn_off(patch_text: str, series_adds: Sequence[str] = ()) -> list[str]:
    """The options whose value changes what the patch's C code compiles to, in the order a
    reader would try them: those guarding code in its C hunks (#ifdef, IS_ENABLED()), the
    `depends on` its Kconfig hunks add or remove, then those behind the helpers its added
    code calls (of_match_ptr: CONFIG_OF, acpi_*: CONFIG_ACPI). At most MAX_FLIPS. An option
    that guards nothing in a touched file changes no object compiled alone: an option the
    series adds (`series_adds`, without CONFIG_) counts only where its code tests it."""
    guards: list[str] = []
    depends: list[str] = []
    uses: list[str] = []
    in_hunk = kconfig_file = c_file = False
    for line in patch_text.splitlines():
        if line.startswith("diff --git "):
            name = line.split()[-1]
            kconfig_file = "Kconfig" in name.rsplit("/", 1)[-1]
            c_file = name.endswith((".c", ".h"))
            in_hunk = False
        elif line.startswith("@@"):
            in_hunk = True
        elif not in_hunk or line[:1] not in "+- ":
            continue
        elif c_file and GUARD.search(line):
            guards += [f"CONFIG_{m}" for m in OPTION.findall(line)]
        elif kconfig_file and (m := DEPENDS.match(line)):
            depends += [f"CONFIG_{s}" for s in SYMBOL.findall(m[1])]
        elif c_file and line.startswith("+"):
            uses += [option for pattern, option in USES if pattern.search(line)]
    own = {f"CONFIG_{name}" for name in series_adds}
    found = [*guards, *(o for o in [*depends, *uses] if o not in own)]
    return list(dict.fromkeys(o for o in found if o not in NEVER_OFF))[:MAX_FLIPS]


def added_options(patch_texts: Sequence[str]) -> list[str]:
    """The options a series' Kconfig hunks add (config X lines)."""
    adds: list[str] = []
    for text in patch_texts:
        kconfig_file = False
        for line in text.splitlines():
            if line.startswith("diff --git "):
                kconfig_file = "Kconfig" in line
            elif kconfig_file and (m := KCONFIG_ADDS.match(line)):
                adds.append(m[1])
    return list(dict.fromkeys(adds))


def objects_for(files: Sequence[str], src: Path) -> list[str]:
    """The objects a patch's change reaches: those built from the .c files it touches, then,
    for each header it touches, up to MAX_USERS .c files that include it, nearest first (a
    changed struct breaks a user the patch never opened)."""
    objects = compiler_warnings.touched_objects(files)
    for header in (f for f in files if f.endswith(".h")):
        for user in header_users(header, src):
            if user[:-2] + ".o" not in objects:
                objects.append(user[:-2] + ".o")
    return objects


def header_users(header: str, src: Path) -> list[str]:
    """.c files that include `header`: <linux/x.h> for include/linux/x.h, "x.h" next to it."""
    if header.startswith("include/"):
        wanted, where = f"<{header[len('include/') :]}>", "."
    else:
        wanted, where = f'"{Path(header).name}"', str(Path(header).parent)
    done = git.run(src, "grep", "-l", "-F", "-e", wanted, "--", f"{where}/*.c", timeout=120)
    users = [f for f in done.output.splitlines() if f.endswith(".c")] if done.ok else []
    return sorted(users, key=lambda f: (-_shared_prefix(f, header), f))[:MAX_USERS]


def _shared_prefix(a: str, b: str) -> int:
    """How many leading path parts two paths share, include/ read as the tree's top."""
    b_parts = Path(b[len("include/") :] if b.startswith("include/") else b).parts
    parts = Path(a).parts
    n = 0
    while n < min(len(parts), len(b_parts)) - 1 and parts[n] == b_parts[n]:
        n += 1
    return n


MAKE_LINE = re.compile(r"^\s*([\w.-]+?)-(\$\((CONFIG_\w+)\)|y|m|objs)\s*[:+]?=\s*(.*)$")


def enabling_options(obj: str, src: Path) -> list[str]:
    """The options its directory's Makefile builds `obj` under: [] when it is always built or
    the Makefile does not say (obj-y, a line not found); an object of a composite module
    (foo-y += obj, obj-$(CONFIG_X) += foo.o) is built under the module's option."""
    directory, name = obj.rsplit("/", 1) if "/" in obj else ("", obj)
    text = read_in_tree(src, f"{directory}/Makefile" if directory else "Makefile")
    lines = text.replace("\\\n", " ").splitlines()
    wanted, found = [name], []
    for _ in range(2):  # the object, then the module it is part of
        parents = []
        for line in lines:
            m = MAKE_LINE.match(line)
            if m is None or not set(wanted) & set(m[4].split()):
                continue
            if m[1] == "obj" and m[3]:
                found.append(m[3])
            elif m[1] != "obj" and m[1] != "lib":
                parents.append(f"{m[1]}.o")
                if m[3]:
                    found.append(m[3])
        if not parents:
            break
        wanted = parents
    return list(dict.fromkeys(found))


# ---- one cell's build dir --------------------------------------------------------------


@dataclass
class CellDir:
    cell: Cell
    build: Path
    owner: str
    jobs: int

    def spec(self, src: Path, targets: tuple[str, ...] = ()) -> make.BuildSpec:
        return make.BuildSpec(
            src, self.build, self.jobs, targets=targets, timeout=1800,
            extra_make_args=self.cell.make_args(), owner=self.owner, compiler=self.cell.cc(),
        )  # fmt: skip

    def configure(self, src: Path, log: Path) -> str:
        """The cell's all*config (plus its option off); '' or why it failed."""
        self.build.mkdir(parents=True, exist_ok=True)
        # Beside the log, in the run dir: harness writes nothing where the series' code can
        # (a link planted there would aim harness's write elsewhere).
        allconfig = log.with_name(f"allconfig-{self.cell.name}")
        off = f"# {self.cell.off} is not set\n" if self.cell.off else ""
        allconfig.write_text(ALLCONFIG + self.cell.allconfig + off)
        # The same CC and HOSTCC as the compiles: else Kbuild rebuilds its host tools twice.
        spec = replace(
            self.spec(src, (self.cell.config,)),
            extra_make_args=(*self.cell.make_args(), f"KCONFIG_ALLCONFIG={allconfig}"),
        )
        box = make.sandbox_for(spec)
        box = replace(box, readable=(*box.readable, allconfig))
        done = proc.run(
            make.make_argv(spec), cwd=self.build, log=log, timeout=300,
            env=make.make_env(spec), box=box,
        )  # fmt: skip
        if done.denied:
            return sandbox.stopped(done.denied)
        if not done.ok:
            return f"{self.cell.config} failed: {make.error_headline(done.output)}"
        if self.cell.off and self.value(self.cell.off) != "n":
            return f"{self.cell.off} cannot be turned off here (another option selects it)"
        return ""

    def options(self) -> dict[str, str]:
        """The cell's .config, read as a file the tree's code wrote."""
        text = (read_untrusted(self.build / ".config") or b"").decode(errors="replace")
        return kconfig.parse_options(text)

    def value(self, option: str) -> str:
        return self.options().get(option, "n")

    def prepare(self, src: Path, log: Path) -> str:
        """make prepare: the generated headers and host tools single objects need."""
        spec = self.spec(src, ("prepare",))
        done = proc.run(
            make.make_argv(spec), log=log, timeout=spec.timeout, env=make.make_env(spec),
            box=make.sandbox_for(spec),
        )  # fmt: skip
        if done.denied:
            return sandbox.stopped(done.denied)
        return "" if done.ok else f"make prepare failed: {make.error_headline(done.output)}"

    def compile(self, src: Path, objects: Sequence[str], log: Path) -> ObjectBuild:
        """The objects this cell's config builds at all: one whose option is off here (its
        Makefile's obj-$(CONFIG_X)) would never be compiled by a robot's build of it."""
        config = self.options()  # once, not once per object and option
        built_here = [
            o for o in objects
            if self.cell.builds_arch_of(o)
            and all(config.get(x, "n") != "n" for x in enabling_options(o, src))
        ]  # fmt: skip
        built = compiler_warnings.build_objects(self.spec(src), built_here, log)
        if self.cell.arch in ("i386", "arm") and built.built:
            built = replace(built, undefined=self.libgcc_calls(built.built, log))
        return built

    def libgcc_calls(self, objects: Sequence[str], log: Path) -> tuple[str, ...]:
        """'object symbol' for each libgcc division helper an object calls (nm, sandboxed:
        the object is the series' compiler output)."""
        box = sandbox.for_step(Step.TREE_SCRIPT, reads=(self.build,))
        done = proc.run(["nm", "-u", *objects], cwd=self.build, log=log, timeout=120, box=box)
        found: list[str] = []
        current = objects[0] if len(objects) == 1 else ""
        for line in done.output.splitlines():
            if line.endswith(":") and line[:-1] in objects:
                current = line[:-1]
            elif (parts := line.split()) and parts[-1] in LIBGCC_DIVISION and current:
                found.append(f"{current} {parts[-1]}")
        return tuple(found)


def cell_dir(slot: slots.Slot, cell: Cell, owner: str, jobs: int) -> CellDir:
    off = f"-no-{cell.off}" if cell.off else ""
    return CellDir(cell, slot.build_dir(f"cell-{cell.prepared_as}{off}-{owner}"), owner, jobs)


def prepared(
    slot: slots.Slot, cell: Cell, base: str, jobs: int, log: Path
) -> tuple[CellDir | None, str]:
    """The bare base's cell, configured and prepared once per slot, base and toolchain:
    (its dir, '') or (None, why not). The slot's worktree must be at the base."""
    trusted = cell_dir(slot, replace(cell, sparse=False), ccache.TRUSTED, jobs)
    stamp = f"{base} {compiler_version(cell.cc())} {cell.allconfig!r}"
    marker = slots.state_dir(trusted.build) / PREPARED
    if marker.exists() and marker.read_text() == stamp:
        return trusted, ""
    proc.note(f"preparing the {cell.prepared_as} {cell.config} cell in {trusted.build}")
    why = trusted.configure(slot.worktree, log) or trusted.prepare(slot.worktree, log)
    if why:
        return None, why
    marker.write_text(stamp)
    return trusted, ""


def owner_copy(trusted: CellDir, cell: Cell, owner: str, slot: slots.Slot) -> CellDir:
    """The series' own copy of a prepared cell: the trusted one is never written again by
    a build with the series' code in it."""
    mine = cell_dir(slot, cell, owner, trusted.jobs)
    stamp = (slots.state_dir(trusted.build) / PREPARED).read_text()
    copied = slots.state_dir(mine.build) / PREPARED
    if mine.build.is_dir() and copied.exists() and copied.read_text() == stamp:
        return mine
    copied.unlink(missing_ok=True)
    proc.run(["rm", "-rf", str(mine.build)], timeout=600)
    done = proc.run(
        ["cp", "-a", "--reflink=auto", str(trusted.build), str(mine.build)], timeout=600
    )
    if not done.ok:
        raise EnvError(f"copying {trusted.build}: {done.output.strip()[:200]}")
    copied.write_text(stamp)
    return mine


# ---- per patch -------------------------------------------------------------------------


@dataclass
class CellResult:
    cell: Cell
    before: ObjectBuild
    after: ObjectBuild
    config: str = ""  # the .config's name in the run dir
    skipped: str = ""  # why the cell did not run for this patch


def parent_of(cell: Cell) -> str:
    """The cell whose findings this one repeats: an option-off cell's compiler's cell, the
    x86_64 cell for sparse (which compiles with W=1 too); '' for the others."""
    if cell.off:
        return "x86_64-clang" if cell.compiler == "clang" else "x86_64"
    return "x86_64" if cell.sparse else ""


def new_keys(result: CellResult) -> set[tuple[str, str, str]]:
    before, after = result.before.output, result.after.output
    return {d.key for d in compiler_warnings.new_diagnostics(before, after)}


def cell_case(result: CellResult, known: frozenset[tuple[str, str, str]] = frozenset()) -> Case:
    """One cell's verdict on one patch: FAIL for new errors or warnings, the new lines
    marked `>>` under the cell's arch, compiler, config, flags and a reproduce line. `known`:
    what its parent cell (parent_of) found new already, which is not this cell's finding."""
    cell = result.cell
    name = cell.name
    if result.skipped:
        return Case(name, Status.SKIP, result.skipped)
    before, after = result.before, result.after
    if not after.built and not after.failed:
        return Case(name, Status.PASS, "no C file this arch compiles is touched")
    every = compiler_warnings.new_diagnostics(before.output, after.output)
    new = [d for d in every if d.key not in known]
    moved = compiler_warnings.moved_diagnostics(before.output, after.output)
    libgcc = [u for u in after.undefined if u not in before.undefined]
    broken = [o for o in after.failed if o in before.built]
    never = [o for o in after.failed if o not in before.built]
    objects = [*after.built, *after.failed]
    props = {
        "arch": cell.arch,
        "compiler": compiler_version(cell.cc()),
        "config": cell.config_name(),
        "config_file": result.config,
        "flags": cell.flags(),
        "reproduce": cell.reproduce(objects),
        "objects": " ".join(objects),
        "new": str(len(new) + len(libgcc)),
        "moved": str(len(moved)),
    }
    head = [
        f"arch: {cell.arch}, compiler: {props['compiler']}",
        f"config: {cell.config_name()}"
        + (f" ({result.config} in the run dir)" if result.config else ""),
        f"flags: {cell.flags()}",
        f"reproduce: {props['reproduce']}",
        "",
    ]
    lines = [compiler_warnings.render(new)] if new else []
    lines += [f">> {modpost_line(u)}" for u in libgcc]
    if libgcc:
        lines.append("   libgcc's 64-bit division, which the kernel does not link: div_u64()")
    if new or libgcc:
        first = new[0] if new else None
        what = f"{first.file}: {first.message}" if first else modpost_line(libgcc[0])
        count = len(new) + len(libgcc)
        kinds = "error(s)" if any(d.kind != "warning" for d in new) or libgcc else "warning(s)"
        only = f" (only with {cell.off}=n)" if cell.off else ""
        message = f"{count} new {kinds} in {cell.name}{only}: {what}"
        return Case(name, Status.FAIL, message[:400], "\n".join(head + lines), properties=props)
    if broken:  # failed after, compiled before, yet no new error line was parsed
        return Case(name, Status.FAIL, f"{' '.join(broken)} no longer compiles in {cell.name}",
                    "\n".join(head + list(after.output[-40:])), properties=props)  # fmt: skip
    notes = []
    if len(every) > len(new):
        notes.append(f"{len(every) - len(new)} also in {parent_of(cell)}")
    if moved:
        notes.append(f"{len(moved)} warning(s) only moved")
    if never:
        notes.append(f"{' '.join(never)} does not compile here on the base either")
    message = "no new errors or warnings" + (f" ({'; '.join(notes)})" if notes else "")
    status = Status.PASS if after.built else Status.SKIP
    return Case(name, status, message, "\n".join(head), properties=props)


def modpost_line(undefined: str) -> str:
    """'drivers/x/y.o __udivdi3' -> modpost's words for it."""
    obj, symbol = undefined.split()
    module = obj[:-2] + ".ko"
    return f'ERROR: modpost: "{symbol}" [{module}] undefined!'


@dataclass
class Matrix:
    """The cells of one check run, their series-owned build dirs, and their results."""

    names: tuple[str, ...]
    slot: slots.Slot
    owner: str
    jobs: int
    run_dir: Path
    series_adds: tuple[str, ...] = ()
    dirs: dict[str, CellDir] = field(default_factory=dict)
    trusted: dict[str, CellDir] = field(default_factory=dict)  # prepared_as -> the base's
    unprepared: dict[str, str] = field(default_factory=dict)  # cell -> why

    @property
    def log(self) -> Path:
        return self.run_dir / "matrix.log"

    def prepare(self, base: str) -> None:
        """Each cell's prepared dir (the worktree is at the base now), and the series' copy."""
        for cell in cells_of(self.names):
            trusted, why = prepared(self.slot, cell, base, self.jobs, self.log)
            if trusted is None:
                self.unprepared[cell.name] = why
                continue
            self.trusted[cell.prepared_as] = trusted
            self.dirs[cell.name] = owner_copy(trusted, cell, self.owner, self.slot)
            self.keep_config(cell.name, self.dirs[cell.name])

    def reconfigure(self, src: Path) -> None:
        """After a patch that touches Kconfig: the all*config again, so the options it adds
        are on, as in the robots' builds."""
        for name, cdir in self.dirs.items():
            if why := cdir.configure(src, self.log):
                self.unprepared[name] = why

    def off_cells(self, patch_text: str) -> list[Cell]:
        """The patch's options off, each in x86_64 gcc and, when it is a cell, x86_64 clang
        (the robots' randconfigs use both, and their words for one mistake differ)."""
        x86 = CELLS["x86_64"].prepared_as
        if FLIPS not in self.names or x86 not in self.trusted:
            return []
        on = self.trusted[x86].value
        options = [
            o for o in options_to_turn_off(patch_text, self.series_adds)
            if on(o) != "n" or o[len("CONFIG_") :] in self.series_adds
        ]  # fmt: skip
        clang = CELLS["x86_64-clang"]
        bases = [CELLS["x86_64"], *([clang] if clang.prepared_as in self.trusted else [])]
        return [replace(b, name=f"{b.name}-no-{o}", off=o) for o in options for b in bases]

    def off_dir(self, cell: Cell, src: Path) -> tuple[CellDir | None, str]:
        """An option-off cell: a copy of its compiler's prepared x86_64 cell, with it off."""
        if cell.name in self.dirs:
            return self.dirs[cell.name], ""
        mine = owner_copy(self.trusted[cell.prepared_as], cell, self.owner, self.slot)
        if why := mine.configure(src, self.log):
            return None, why
        self.dirs[cell.name] = mine
        self.keep_config(cell.name, mine)
        return mine, ""

    def keep_config(self, name: str, cdir: CellDir) -> None:
        """The cell's .config in the run dir, as config-<cell>: what a finding was built with."""
        copy_untrusted(cdir.build / ".config", self.run_dir / f"config-{name}")

    def compile(
        self, src: Path, objects: Sequence[str], cells: Sequence[Cell]
    ) -> dict[str, ObjectBuild]:
        """The touched objects in each cell, in the tree as it is now."""
        out: dict[str, ObjectBuild] = {}
        for cell in cells:
            cdir = self.dirs.get(cell.name)
            if cdir is None and cell.off:
                cdir, why = self.off_dir(cell, src)
                if cdir is None:
                    self.unprepared[cell.name] = why
            if cdir is not None:
                out[cell.name] = cdir.compile(src, objects, self.log)
        return out

    def planned(self, patch_text: str) -> list[Cell]:
        """The cells one patch is compiled in: the named ones, then its options off, and
        the cells those repeat (parent_of), which are compiled even when not named."""
        named = [c for c in cells_of(self.names) if c.name in self.names]
        off = self.off_cells(patch_text)
        parents = {parent_of(c) for c in [*named, *off]} - {c.name for c in named} - {""}
        return [*named, *(CELLS[p] for p in sorted(parents) if p in self.dirs), *off]

    def case(
        self, cells: Sequence[Cell], before: dict[str, ObjectBuild], after: dict[str, ObjectBuild]
    ) -> Case:
        results: dict[str, CellResult] = {}
        for cell in cells:
            skipped = self.unprepared.get(cell.name, "")
            if not skipped and cell.name not in after:
                skipped = "not compiled"
            config = (
                f"config-{cell.name}" if (self.run_dir / f"config-{cell.name}").exists() else ""
            )
            results[cell.name] = CellResult(
                cell, before.get(cell.name, ObjectBuild()), after.get(cell.name, ObjectBuild()),
                config, skipped,
            )  # fmt: skip
        children = []
        for cell in cells:
            if cell.name not in self.names and not cell.off:
                continue  # compiled only for what its option-off or sparse cells repeat
            parent = results.get(parent_of(cell))
            known = frozenset(new_keys(parent)) if parent and not parent.skipped else frozenset()
            children.append(cell_case(results[cell.name], known))
        return Case("matrix", children=children)

"""What the guest's init finds in place of the host's tmpfiles and udev rules, and that
every sandboxed boot gets it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.boot import guest_init, vm
from harness.sandbox import Sandbox


def test_the_guest_keeps_the_virtio_port_links_and_driver_loading(tmp_path: Path) -> None:
    pairs = dict(guest_init.replacements(tmp_path))
    assert pairs[guest_init.TMPFILES] == guest_init.TRUE
    rules = pairs[Path("/usr/lib/udev/rules.d")]
    assert pairs[Path("/etc/udev/rules.d")] == rules and rules.parent == tmp_path
    text = "".join(p.read_text() for p in sorted(rules.iterdir()))
    # virtme-ng-init opens /dev/virtio-ports/virtme.stdout etc.: the port's own name
    assert re.search(r'SUBSYSTEM=="virtio-ports".*SYMLINK\+="virtio-ports/\$attr\{name\}"', text)
    assert 'RUN{builtin}+="kmod load"' in text and "MODALIAS" in text


def test_every_boot_binds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Sandbox] = []

    class Done(Exception):
        pass

    def watched(argv, stdout, box):  # type: ignore[no-untyped-def]
        seen.append(box)
        raise Done

    monkeypatch.setattr(vm.proc, "watched", watched)
    spec = vm.VmSpec(tmp_path / "bzImage", "true", tmp_path / "console.log", tmp_path / "g")
    with pytest.raises(Done):
        vm.boot(spec)
    (box,) = seen
    assert (guest_init.TMPFILES, guest_init.TRUE) in box.replaced
    assert (Path("/usr/lib/udev/rules.d"), tmp_path / guest_init.RULES_DIR) in box.replaced

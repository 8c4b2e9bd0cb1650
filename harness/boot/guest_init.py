"""What virtme-ng-init finds in the guest where the host's files would be: the host's
boot-time setup, which a test guest does not need, replaced by what it does need.

The guest's root is the host's, seen through the boot sandbox (boot/guest_box.py), and
virtme-ng-init runs the host's systemd-tmpfiles and udev there before the first test.
Under TCG with virtme-min, from console timestamps (docs/measurements.md, single steps):
- `systemd-tmpfiles --create --boot` takes 1.2 s, making the dirs of the host's services
  (/usr/lib/tmpfiles.d: dbus, journald, postgresql, ...). No guest runs a service: it
  gets `true` in its place.
- udev takes 2.4 s: udevd start, coldplug of every device, settle, through the host's 41
  rule files. The guest needs two rules: the /dev/virtio-ports/NAME links, without which
  virtme-ng-init loses the script's own stdout, stderr and exit status (it falls back
  to the console), and the modalias rule that loads a device's driver module (a
  series' config may build one as =m). Device nodes come from devtmpfs, not udev.
Boot to the first test output takes 3.8 s with the replacements, 5.5 s without.

Only boots in the sandbox get this (--no-sandbox boots see the host as it is). Input:
the dir the boot writes into. Output: the (host path, replacement) pairs for the
Sandbox. Writes the rules dir there.
"""

from __future__ import annotations

from pathlib import Path

TRUE = Path("/bin/true")
TMPFILES = Path("/usr/bin/systemd-tmpfiles")
# Debian's and most distributions' packaged rules, and the admin's: both replaced.
RULE_DIRS = (Path("/usr/lib/udev/rules.d"), Path("/etc/udev/rules.d"))
RULES = {
    # systemd's 50-udev-default.rules, the virtio-ports line.
    "50-harness-virtio-ports.rules": (
        'SUBSYSTEM=="virtio-ports", KERNEL=="vport*", ATTR{name}=="?*",'
        ' SYMLINK+="virtio-ports/$attr{name}"\n'
    ),
    # systemd's 80-drivers.rules, the modalias line.
    "80-harness-drivers.rules": 'ACTION=="add", ENV{MODALIAS}=="?*", RUN{builtin}+="kmod load"\n',
}
RULES_DIR = "guest-udev-rules.d"


def replacements(boot_dir: Path) -> tuple[tuple[Path, Path], ...]:
    rules = boot_dir / RULES_DIR
    rules.mkdir(parents=True, exist_ok=True)
    for name, text in RULES.items():
        (rules / name).write_text(text)
    return ((TMPFILES, TRUE), *((d, rules) for d in RULE_DIRS))

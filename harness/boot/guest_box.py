"""What a guest can see: virtme shares QEMU's / with the guest (read-only), so vng runs
in the sandbox and the guest sees the host as that sandbox does.

Input: the kernel image, the dirs the guest command reads (the run dir and the suites'
builds), whether KVM is used.
`replaced`: what the guest's init finds in place of host files (boot/guest_init.py).
Output: the Sandbox for vng (and so QEMU and the guest). Hidden from the guest: /root,
/home, $HOME, the harness cache but for this kernel's build dir, /etc/shadow and
/etc/gshadow, /etc/ssh, /tmp and /run. No network: vng gets no --network and QEMU
runs in an empty network namespace. Raises nothing.
"""

from __future__ import annotations

from pathlib import Path

from harness import proc, sandbox
from harness.sandbox import Sandbox, Step


def kernel_build_dir(kernel: Path) -> Path:
    """The build dir of <build>/arch/x86/boot/bzImage (vng loads modules from there)."""
    parts = kernel.parts
    return kernel.parents[3] if parts[-4:-1] == ("arch", "x86", "boot") else kernel.parent


def guest_box(
    kernel: Path,
    reads: tuple[Path, ...],
    kvm: bool,
    replaced: tuple[tuple[Path, Path], ...] = (),
) -> Sandbox:
    # The guest's root stays read-only; its file reads are those of the sandbox uid.
    return sandbox.for_step(
        Step.BOOT,
        writes={"build": (kernel_build_dir(kernel),)},
        reads=(*reads, *proc.python_dirs()),
        kvm=kvm,
        replaced=replaced,
    )

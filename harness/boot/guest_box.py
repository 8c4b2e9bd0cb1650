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

from harness import proc
from harness.sandbox import Sandbox

KVM_DEVICE = Path("/dev/kvm")


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
    # QEMU sizes its guest RAM and TCG buffers itself: no address-space limit here.
    # vng (on the host side) links the kernel's modules into <build>/.virtme_mods and runs
    # depmod there: the build dir is writable to vng; the guest's root stays read-only.
    return Sandbox(
        writable=(kernel_build_dir(kernel),),
        readable=(*reads, *proc.python_dirs()),
        devices=(KVM_DEVICE,) if kvm and KVM_DEVICE.exists() else (),
        memory=None,
        replaced=replaced,
    )

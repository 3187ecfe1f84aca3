#!/usr/bin/env bash
# A throw-away VM on Debian's bookworm kernel (6.1, ships drop_monitor.ko), for tests that need a kernel
# feature this machine's kernel lacks. The VM sees this machine's root file system through virtio-9p
# under a tmpfs overlay (writable, nothing reaches the host), so the built agent, python3 and dropwatch
# run inside unchanged. One directory is shared writable, to hand a script in and results out.
#
#   dropboard-vm.sh prepare          fetch the kernel package and build the initramfs (cached)
#   dropboard-vm.sh run DIR [SECS]   boot, run DIR/run.sh inside (cwd DIR), power off;
#                                    exits with the script's exit code, the console goes to DIR/console.log
set -euo pipefail

cache=${DROPBOARD_VM_CACHE:-/var/cache/dropboard-vm}
# Everything the VM needs that this kernel builds as a module; their dependencies are added by modinfo.
wanted_modules=(virtio_pci 9pnet_virtio 9p overlay drop_monitor)

die() { echo "dropboard-vm: $*" >&2; exit 2; }

kernel_package() {
    # The metapackage names the current ABI (linux-image-6.1.0-NN-amd64); follow it rather than pin a build.
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Modules in load order: each one's dependencies (modinfo depends) before it, built-ins skipped.
module_closure() {
    local root=$1 version=$2 name=$3 path dep
    [[ -n ${seen[$name]:-} ]] && return
    seen[$name]=1
    path=$(find "$root/lib/modules/$version/kernel" -name "$name.ko" -o -name "${name//_/-}.ko" | head -1)
    if [[ -z $path ]]; then
        grep -q "/${name}.ko\$" "$root/lib/modules/$version/modules.builtin" && return
        die "module $name is neither in the package nor built in"
    fi
    for dep in $(modinfo -F depends "$path" | tr ',' ' '); do module_closure "$root" "$version" "$dep"; done
    order+=("${path#"$root/lib/modules/$version/"}")
}

prepare() {
    local package version dir root
    package=$(kernel_package)
    [[ -n $package ]] || die "apt-cache knows no linux-image-amd64 (run apt-get update; needs Debian bookworm sources)"
    version=${package#linux-image-}
    mkdir -p "$cache"
    # One builder at a time: tests may boot VMs in parallel.
    exec 9>"$cache/.lock"
    flock 9
    # Keyed by the init script and this script too, so a change to either rebuilds the initramfs.
    dir=$cache/$version-$(cat "$0" "$(dirname "$0")/init" | sha256sum | cut -c1-12)
    if [[ -f $dir/initramfs.cpio.gz && -f $dir/vmlinux ]]; then echo "$dir"; return; fi

    mkdir -p "$dir"
    root=$(mktemp -d)
    trap 'rm -rf "$root"' RETURN
    if ! ls "$cache"/"$package"_*.deb >/dev/null 2>&1; then
        (cd "$cache" && apt-get download "$package" >&2) || die "cannot download $package"
    fi
    dpkg-deb -x "$(ls "$cache"/"$package"_*.deb | tail -1)" "$root/pkg"

    local -A seen=()
    local order=() m
    for m in "${wanted_modules[@]}"; do module_closure "$root/pkg" "$version" "$m"; done

    local initrd=$root/initrd
    mkdir -p "$initrd"/{bin,proc,sys,dev,lower,rw,newroot,share} "$initrd/lib/modules/$version"
    cp /bin/busybox "$initrd/bin/busybox"
    for m in "${order[@]}"; do
        mkdir -p "$initrd/lib/modules/$version/$(dirname "$m")"
        cp "$root/pkg/lib/modules/$version/$m" "$initrd/lib/modules/$version/$m"
    done
    cp "$root/pkg/lib/modules/$version"/modules.{builtin,builtin.modinfo,order} "$initrd/lib/modules/$version/"
    # modules.dep for the guest's modprobe (the agent runs `modprobe drop_monitor` itself when NET_DM is missing).
    depmod -b "$initrd" "$version"
    printf '%s\n' "${order[@]}" | grep -v drop_monitor >"$initrd/modules.load"
    echo "$version" >"$initrd/kernel.version"
    install -m 755 "$(dirname "$0")/init" "$initrd/init"
    (cd "$initrd" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$dir/initramfs.cpio.gz.tmp"
    uncompressed_kernel "$root/pkg/boot/vmlinuz-$version" "$dir/vmlinux"
    mv "$dir/initramfs.cpio.gz.tmp" "$dir/initramfs.cpio.gz"
    echo "$dir"
}

# The kernel ELF inside Debian's bzImage, which qemu boots directly (PVH entry, CONFIG_PVH): an emulated guest
# spent 8 of its 13 s of boot unpacking the xz-compressed bzImage in real mode, before Linux even started.
uncompressed_kernel() {
    python3 - "$1" "$2" <<'PY' || die "cannot unpack the kernel in $1"
import lzma, sys
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:]) if start >= 0 else b""
if not elf.startswith(b"\x7fELF"):
    sys.exit("no xz-compressed ELF kernel in it (Debian's kernels are CONFIG_KERNEL_XZ)")
open(sys.argv[2] + ".tmp", "wb").write(elf)
PY
    mv "$2.tmp" "$2"
}

# KVM when the host's KVM runs unmodified guests (kvm_intel, kvm_amd). A PVM host (kvm_pvm, nested in a
# cloud VM without hardware virtualisation) runs only PVM-built guest kernels: Debian's kernel hangs there
# right after decompression, so emulate (TCG boots this small guest to its script in about 6 s).
accelerator() {
    if [[ -n ${DROPBOARD_VM_ACCEL:-} ]]; then echo "$DROPBOARD_VM_ACCEL"; return; fi
    if [[ -r /dev/kvm && -w /dev/kvm && ( -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ) ]]; then
        echo "-enable-kvm -cpu host -smp 2"
    else
        # One emulated CPU: the VM then takes one core of this machine, not all, and the tests beside it keep theirs.
        echo "-accel tcg,thread=single -cpu max -smp 1"
    fi
}

run() {
    local share=${1:?usage: run DIR [SECS]} seconds=${2:-120} dir rc accel
    share=$(realpath "$share")
    [[ -f $share/run.sh ]] || die "$share/run.sh is missing"
    [[ $share != *[[:space:]]* ]] || die "the shared directory's path must have no spaces"
    dir=$(prepare)
    rm -f "$share/exit-code"
    accel=$(accelerator)
    echo "dropboard-vm: booting with $accel" >&2
    # shellcheck disable=SC2046 # the accelerator is a list of options
    timeout --kill-after=5 "$seconds" qemu-system-x86_64 $accel -m 1G \
        -nographic -no-reboot -nodefaults -serial stdio \
        -kernel "$dir/vmlinux" -initrd "$dir/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet panic=-1 dropboard.share=$share" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$share,mount_tag=share,security_model=none" \
        </dev/null >"$share/console.log" 2>&1 || true
    rc=$(cat "$share/exit-code" 2>/dev/null || true)
    if [[ -z $rc ]]; then
        cat "$share/console.log" >&2
        die "the VM ended without the script's exit code (timeout ${seconds}s or boot failure)"
    fi
    return "$rc"
}

case ${1:-} in
    prepare) prepare ;;
    run) shift; run "$@" ;;
    *) die "usage: $0 prepare | run DIR [SECS]" ;;
esac

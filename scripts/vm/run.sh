#!/usr/bin/env bash
# usage: scripts/vm/run.sh HOSTDIR SCRIPT
# Boots a throw-away cgroup-v2-only guest (Debian's 6.1 kernel from
# scripts/vm/kernel.sh, booted with cgroup_no_v1=all) under QEMU's software
# emulation, with HOSTDIR shared read-write at the same path and the host's
# /usr and /etc read-only (a tmpfs overlay on top), runs SCRIPT (a file) with
# bash as root in HOSTDIR, prints its output, powers off, and exits with
# SCRIPT's exit status; 125 (with the guest console's tail) when the guest
# never reported one: it did not boot, or died.
# env: VM_DIR (kernel and initramfs, default .vm), VM_DISK (a raw image
#      attached as /dev/vda), VM_SHARES ("dir ..." more host dirs shared
#      read-write at their paths), VM_MEM (MiB, 4096), VM_SMP (2),
#      VM_TIMEOUT (s, 1500), VM_VERBOSE=1 (print the whole guest console).
# /dev/kvm here is a PVM hypervisor a stock kernel cannot run under, so the
# guest runs on TCG: about 5x slower than the host.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=${VM_DIR:-$(cd "$here/../.." && pwd)/.vm}
fail() { echo "vm: $*" >&2; exit 125; }
[ $# -eq 2 ] || { echo "usage: $0 HOSTDIR SCRIPT" >&2; exit 2; }
[ -s "$D/kernel-version" ] || fail "no guest kernel in $D (run scripts/setup.sh vm)"
KV=$(cat "$D/kernel-version")
for f in "$D/vmlinux" "$D/initramfs.cpio.gz" "$D/kroot/lib/modules/$KV"; do
  [ -e "$f" ] || fail "missing $f (run scripts/setup.sh vm)"
done
command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 (run scripts/setup.sh vm)"
WORK=$(realpath "$1") || exit 2
case "$WORK" in *[[:space:],]*) fail "HOSTDIR must not contain spaces or commas";; esac
CTL=$(mktemp -d)
trap 'rm -rf "$CTL"' EXIT
cp "$2" "$CTL/cmd" || fail "cannot read $2"

XARGS=(); XLIST=; i=0
for x in ${VM_SHARES:-}; do
  x=$(realpath "$x") || exit 2
  XARGS+=(-virtfs "local,path=$x,mount_tag=x$i,security_model=passthrough,multidevs=remap")
  XLIST="$XLIST${XLIST:+,}$x"; i=$((i+1))
done
[ -n "${VM_DISK:-}" ] && XARGS+=(-drive "file=$VM_DISK,if=virtio,format=raw,cache=unsafe")

mkfifo "$CTL/out.fifo"
cat "$CTL/out.fifo" & catpid=$!
t0=$(date +%s)
timeout "${VM_TIMEOUT:-1500}" qemu-system-x86_64 -accel tcg,thread=multi,tb-size=256 -cpu max \
  -m "${VM_MEM:-4096}" -smp "${VM_SMP:-2}" \
  -nodefaults -no-user-config -display none -monitor none -no-reboot \
  -serial "file:$CTL/console.log" \
  -kernel "$D/vmlinux" -initrd "$D/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all vm_work=$WORK${XLIST:+ vm_extra=$XLIST}" \
  -virtfs local,path=/usr,mount_tag=hostusr,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs local,path=/etc,mount_tag=hostetc,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs "local,path=$D/kroot/lib/modules/$KV,mount_tag=hostmods,security_model=passthrough,readonly=on" \
  -virtfs "local,path=$CTL,mount_tag=ctl,security_model=passthrough" \
  -virtfs "local,path=$WORK,mount_tag=work,security_model=passthrough,multidevs=remap" \
  "${XARGS[@]}" \
  -device virtio-serial-pci -chardev "file,id=out,path=$CTL/out.fifo" -device virtserialport,chardev=out,name=out \
  < /dev/null
qrc=$?
# QEMU may have died before opening the fifo: unblock cat.
kill -0 $catpid 2>/dev/null && timeout 2 sh -c ': > "$1"' sh "$CTL/out.fifo" 2>/dev/null
wait $catpid
took=$(( $(date +%s) - t0 ))
[ "${VM_VERBOSE:-0}" = 1 ] && { echo "----- guest console -----" >&2; cat "$CTL/console.log" >&2; }
if [ -s "$CTL/rc" ]; then
  rc=$(cat "$CTL/rc")
  echo "vm: exit status $rc; boot, run and power-off took ${took}s" >&2
  exit "$rc"
fi
echo "vm: the guest reported no exit status (qemu exit $qrc after ${took}s; 124 is the ${VM_TIMEOUT:-1500}s timeout); console tail:" >&2
tail -n 40 "$CTL/console.log" >&2
exit 125

#!/usr/bin/env bash
# Installs what Diego's tests and `diego up` need from Debian's packages, once.
# Idempotent: a machine that already has everything is left alone.
# `scripts/setup.sh vm` also installs what the cgroup-v2 guest of `make
# vm-test` needs (QEMU, cpio, xz) and fetches its kernel (scripts/vm/kernel.sh).
set -euo pipefail

vm=false
[ "${1:-}" = vm ] && vm=true

need=()
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
# The receptor dashboard's browser test drives headless Chromium.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if $vm; then
  command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
  command -v cpio >/dev/null 2>&1 || need+=(cpio)
  command -v xz >/dev/null 2>&1 || need+=(xz-utils)
fi

vmkernel() { if $vm; then exec "$(dirname "$0")/vm/kernel.sh"; fi; }

if [ ${#need[@]} -eq 0 ]; then
  vmkernel
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "diego setup: missing ${need[*]}; run 'sudo scripts/setup.sh' (tests need root)" >&2
  exit 1
fi

echo "diego setup: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
vmkernel

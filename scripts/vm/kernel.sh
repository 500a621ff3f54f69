#!/usr/bin/env bash
# Fetches Debian's 6.1 kernel for the cgroup-v2 guest into DIR (default .vm
# in the repo, git-ignored) and builds the guest's initramfs, once:
#   DIR/kroot/             the package unpacked (modules the guest loads)
#   DIR/vmlinux            the uncompressed kernel (boots ~7 s faster under
#                          QEMU's emulation than the compressed one)
#   DIR/initramfs.cpio.gz  busybox, the modules that mount 9p, init, stage2
#   DIR/kernel-version     e.g. 6.1.0-57-amd64
# Idempotent: a DIR that has all of it is left alone. The kernel comes through
# apt (`apt-get download`, no install: installing linux-image-amd64 would pull
# initramfs-tools into the host).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=${1:-$(cd "$here/../.." && pwd)/.vm}
mkdir -p "$D"
D=$(cd "$D" && pwd)

if [ -s "$D/kernel-version" ] && [ -s "$D/vmlinux" ] && [ -s "$D/initramfs.cpio.gz" ] &&
   [ "$D/initramfs.cpio.gz" -nt "$here/init" ] && [ "$D/initramfs.cpio.gz" -nt "$here/stage2" ]; then
  exit 0
fi

newest() { apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1; }
pkg=$(newest)
if [ -z "$pkg" ]; then
  apt-get update -qq >/dev/null
  pkg=$(newest)
fi
[ -n "$pkg" ] || { echo "vm kernel: apt knows no linux-image-6.1.0-*-amd64 (is Debian 12's main archive in sources.list?)" >&2; exit 1; }
kv=${pkg#linux-image-}

if [ ! -d "$D/kroot/lib/modules/$kv" ]; then
  echo "vm kernel: fetching $pkg" >&2
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt fetches as _apt
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null) || { apt-get update -qq >/dev/null && (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null); }
  rm -rf "$D/kroot"
  dpkg-deb -x "$tmp"/linux-image-*.deb "$D/kroot"
  # The host has no kmod: busybox writes modules.dep for the guest's modprobe.
  busybox depmod -b "$D/kroot" "$kv"
fi

if [ ! -s "$D/vmlinux" ] || [ "$(cat "$D/kernel-version" 2>/dev/null)" != "$kv" ]; then
  # vmlinuz is a boot stub with an xz payload: unpack the payload (as the
  # kernel's scripts/extract-vmlinux does) and check it is an ELF image.
  z=$D/kroot/boot/vmlinuz-$kv
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$z" | head -1 | cut -d: -f1)
  [ -n "$off" ] || { echo "vm kernel: no xz payload in $z" >&2; exit 1; }
  tail -c +"$((off + 1))" "$z" | xz -dc 2>/dev/null > "$D/vmlinux.new" || true
  [ "$(head -c 4 "$D/vmlinux.new" | od -An -c | tr -d ' ')" = '177ELF' ] || { echo "vm kernel: the payload of $z is not an ELF kernel" >&2; exit 1; }
  mv "$D/vmlinux.new" "$D/vmlinux"
fi

# The initramfs: busybox, the modules that mount 9p (load order), stage 1
# (init) and stage 2.
M=$D/kroot/lib/modules/$kv
R=$D/initramfs-root
rm -rf "$R"
mkdir -p "$R/bin" "$R/dev" "$R/proc" "$R/sys" "$R/newroot" "$R/mods"
cp "$(command -v busybox)" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
         drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/char/virtio_console \
         fs/netfs/netfs fs/fscache/fscache net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p fs/overlayfs/overlay; do
  cp "$M/kernel/$m.ko" "$R/mods/"
  basename "$m" >> "$R/mods/order"
done
install -m 0755 "$here/init" "$R/init"
install -m 0755 "$here/stage2" "$R/stage2"
(cd "$R" && find . | cpio -o -H newc --quiet) | gzip -1 > "$D/initramfs.cpio.gz.new"
mv "$D/initramfs.cpio.gz.new" "$D/initramfs.cpio.gz"
rm -rf "$R"
echo "$kv" > "$D/kernel-version"
echo "vm kernel: $kv ready in $D" >&2

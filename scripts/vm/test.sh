#!/usr/bin/env bash
# `make vm-test`: runs garden's and the cell's suites inside a cgroup-v2-only
# guest. Builds their test binaries on the host (a cold `go test` inside the
# emulated guest takes minutes), makes a fresh ext4 disk for the guest's /tmp
# (the suites' stores: overlay, loop-mounted quota file systems and idmapped
# mounts all work on ext4), boots the guest with scripts/vm/run.sh and runs
# scripts/vm/guest.sh there. Exits non-zero if any suite fails, or if the
# guest cannot boot: never a silent skip.
# env: VM_SUITES (default below: PACKAGE[:GINKGO_FOCUS] ...), and run.sh's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
D=${VM_DIR:-$repo/.vm}
export VM_DIR=$D
GO=${GO:-go}
# garden's suites, then the cell's: the rep's, whose specs run real
# containers through the executor and garden. The executor's own suite
# passes here too (VM_SUITES="./executor") but, at about 3 minutes in the
# guest, would take `make test` past its budget; so does garden/image's.
# Measured in the guest: garden/linux 510 s, garden 27 s, rep 140 s.
SUITES=${VM_SUITES:-./garden/linux ./garden ./rep}

[ "$(id -u)" -eq 0 ] || { echo "vm-test: run as root (the suites run real containers)" >&2; exit 1; }
mkdir -p "$D/bin"
list=
for s in $SUITES; do
  pkg=${s%%:*}
  name=$(echo "${pkg#./}" | tr / -).test
  echo "vm-test: building $pkg" >&2
  "$GO" test -c -o "$D/bin/$name" "$pkg"
  list="$list $s"
done

# The helpers the suites would go build (garden-init, the test apps): built
# here, copied there (imagetest.PrebuiltEnv).
echo "vm-test: building the suites' helpers" >&2
rm -rf "$D/prebuilt"
(cd "$repo" && CGO_ENABLED=0 "$GO" build -o "$D/prebuilt/" ./cmd/garden-init ./testapps/httpapp \
  ./testapps/sysprobe ./garden/imagetest/pinger ./garden/imagetest/euid)

# The guest's /tmp: a sparse ext4 image, fresh each run.
rm -f "$D/disk.img"
truncate -s 12G "$D/disk.img"
mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$D/disk.img"

cmd=$(mktemp)
trap 'rm -f "$cmd" "$D/disk.img"' EXIT
cat > "$cmd" <<EOS
export VM_BIN='$D/bin' VM_SUITES='$list' DIEGO_TEST_PREBUILT='$D/prebuilt'
exec bash '$here/guest.sh'
EOS
echo "vm-test: booting the cgroup-v2 guest for:$list" >&2
VM_DISK=$D/disk.img "$here/run.sh" "$repo" "$cmd"

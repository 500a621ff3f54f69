#!/usr/bin/env bash
# Runs inside the cgroup-v2 guest (scripts/vm/test.sh boots it): checks the
# guest is what the run claims (cgroup v2 only, ext4 /tmp), then runs each
# suite's test binary (built on the host) in its package directory, one at a
# time, printing its output, and a summary line per suite.
# env: VM_BIN (the binaries), VM_SUITES ("PACKAGE[:GINKGO_FOCUS] ..."),
#      DIEGO_TEST_PREBUILT (the helpers the suites would otherwise go build).
set -u
die() { echo "vm-guest: $*"; exit 1; }
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || die "/sys/fs/cgroup is not cgroup2 ($(stat -fc %T /sys/fs/cgroup))"
awk '$3 == "cgroup" { found = 1 } END { exit !found }' /proc/mounts && die "a v1 cgroup hierarchy is mounted"
[ -b /dev/vda ] || die "no /dev/vda for /tmp"
mount -t ext4 /dev/vda /tmp || die "cannot mount /dev/vda on /tmp"
chmod 1777 /tmp
echo "vm-guest: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control), /tmp on $(stat -fc %T /tmp)"
export TMPDIR=/tmp GOFLAGS=-buildvcs=false GOPROXY=off GOTOOLCHAIN=local
repo=$PWD
failed=
summary=
for s in $VM_SUITES; do
  pkg=${s%%:*}
  focus=
  [ "$s" != "$pkg" ] && focus=${s#*:}
  name=$(echo "${pkg#./}" | tr / -).test
  echo "=== vm-guest: $pkg${focus:+ (focus: $focus)}"
  t0=$(date +%s)
  (cd "$repo/$pkg" && "$VM_BIN/$name" -test.count=1 -test.timeout 20m -ginkgo.no-color ${focus:+"-ginkgo.focus=$focus"})
  rc=$?
  took=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then r=ok; else r="FAIL (exit $rc)"; failed="$failed $pkg"; fi
  summary="$summary\nvm-guest: $r $pkg ${took}s"
done
printf "%b\n" "$summary"
[ -z "$failed" ] || die "failed:$failed"
echo "vm-guest: every suite passed on cgroup v2"

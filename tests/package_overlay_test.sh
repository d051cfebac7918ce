#!/usr/bin/env bash
# The Debian package on a real Debian system, thrown away afterwards: installs the .deb
# with apt-get into an overlay of this machine's root (the changes go to a tmpfs),
# checks the user, files and units, runs the packaged sender as its service user with
# the packaged flag file, feeds its ingest ring as a member of group qlaster, reads it
# with qlaster-inspect as another member, is refused as a non-member, runs the packaged
# relay (which refuses to start until --to is set) and gRPC endpoint (on the Unix
# address its flag file suggests) the same way, stops them with SIGTERM, and purges the
# package. package_test.py runs it in a private mount namespace:
#
#   unshare --mount --propagation private package_overlay_test.sh DEB SOURCE_DIR WORK_DIR [BASE]
#
# With BASE (a minimal Debian root, tools/package.sh --clean-check), the overlay is of
# BASE instead: apt-get must then fetch every Depends from the network, the postinst runs
# without systemd (its useradd path), and the tools the checks use (python3 for the
# example ingest writer, systemd-analyze) are installed after the package.
#
# Nothing of it outlives the namespace: the overlay, its /run, /tmp and /dev/shm are
# mounts of the namespace alone. Prints "package_overlay_test: ok" at the end; any failed
# check exits non-zero with the reason.
set -euo pipefail

deb=$1
source_dir=$2
work=$3
base=${4:-/}
clean=0
[ "$base" = / ] || clean=1

fail() {
  echo "package_overlay_test: FAILED: $*" >&2
  exit 1
}
trap 'fail "command failed at line $LINENO"' ERR

mount --make-rprivate /
mount -t tmpfs -o size=2g,mode=0700 tmpfs "$work"
mkdir "$work/upper" "$work/work" "$work/root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
root=$work/root
if [ "$clean" = 1 ]; then
  touch "$root/etc/resolv.conf"
  mount --bind /etc/resolv.conf "$root/etc/resolv.conf"  # apt fetches the Depends
fi
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"  # the ingest ring's name is the package's
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --make-rslave "$root/sys"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root/mnt/qlaster-source"
mount --bind -o ro "$source_dir" "$root/mnt/qlaster-source"
cp "$deb" "$root/tmp/"

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
chroot "$root" /bin/bash -s "$(basename "$deb")" "$clean" <<'CHROOT' || exit 1
set -euo pipefail
deb=/tmp/$1
clean=$2
fail() {
  echo "package_overlay_test: FAILED: $*" >&2
  exit 1
}
trap 'fail "command failed at line $LINENO"' ERR
# The daemons it starts, killed however it ends: a failed check must not leave a packaged
# sender spinning on the machine.
daemons=()
trap 'for p in "${daemons[@]}"; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
wait_for() {  # DESCRIPTION COMMAND...: polls COMMAND for up to 30 s
  local what=$1
  shift
  for _ in $(seq 300); do
    if "$@"; then return 0; fi
    sleep 0.1  # polling a condition with a deadline
  done
  fail "timed out waiting for $what"
}
as_user() {  # USER COMMAND...
  local user=$1
  shift
  setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
}

if [ "$clean" = 1 ]; then
  apt-get update -q >/tmp/apt-update.log 2>&1 || { cat /tmp/apt-update.log; fail "apt-get update"; }
  before=$(dpkg-query -W -f='${Package}\n' | sort)
fi
echo "== apt-get install ./$(basename "$deb")"
apt-get install -y -q --no-install-recommends "$deb" >/tmp/apt-install.log 2>&1 ||
  { cat /tmp/apt-install.log; fail "apt-get install"; }
dpkg-query -W -f='${Status}\n' qlaster | grep -qx "install ok installed" || fail "not installed"

echo "== the qlaster system user and group (postinst)"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd qlaster) || fail "no user qlaster"
[ "$uid" -lt 1000 ] || fail "qlaster uid $uid is not a system uid"
[ "$(getent group qlaster | cut -d: -f3)" = "$gid" ] || fail "qlaster's group is not qlaster"
[ "$shell" = /usr/sbin/nologin ] || fail "qlaster's shell is $shell"

if [ "$clean" = 1 ]; then
  echo "== installed with it: $(comm -13 <(echo "$before") <(dpkg-query -W -f='${Package}\n' | sort) | tr '\n' ' ')"
  echo "== the checks' own tools: python3 (the example ingest writer), systemd-analyze"
  apt-get install -y -q --no-install-recommends python3 systemd >/tmp/apt-tools.log 2>&1 ||
    { cat /tmp/apt-tools.log; fail "installing python3 and systemd"; }
fi

echo "== files and unit"
for f in /usr/bin/qlaster-sender /usr/bin/qlaster-inspect; do
  [ -x "$f" ] || fail "$f missing"
done
[ -f /etc/qlaster/sender.flags ] || fail "/etc/qlaster/sender.flags missing"
# Read whole, not piped into grep -q: with pipefail, grep leaving early makes a long
# `ldconfig -p` die of SIGPIPE and the check fail although the library is there.
ld_cache=$(ldconfig -p)
grep -q "libqlaster-consumer.so.0 " <<<"$ld_cache" || fail "libqlaster-consumer.so.0 not in the ld.so cache"
for unit in sender relay grpc; do
  out=$(systemd-analyze verify "/usr/lib/systemd/system/qlaster-$unit.service" 2>&1) ||
    fail "systemd-analyze verify qlaster-$unit.service: $out"
  [ -z "$out" ] || fail "systemd-analyze verify qlaster-$unit.service: $out"
  grep -qx "ExecStart=/usr/bin/qlaster-$unit --flagfile=/etc/qlaster/$unit.flags" \
    "/usr/lib/systemd/system/qlaster-$unit.service" || fail "qlaster-$unit.service's ExecStart"
done

echo "== the packaged sender, as the service runs it"
# What systemd does for the unit: RuntimeDirectory=qlaster (mode 0750), UMask=0007,
# User=/Group=qlaster.
install -d -o qlaster -g qlaster -m 0750 /run/qlaster
(umask 0007 && exec setpriv --reuid=qlaster --regid=qlaster --init-groups -- \
  /usr/bin/qlaster-sender --flagfile=/etc/qlaster/sender.flags >/tmp/sender.log 2>&1) &
sender=$!
daemons+=("$sender")
wait_for "the sender's socket" test -S /run/qlaster/sender.sock
[ "$(stat -c '%U:%G %a' /run/qlaster/sender.sock)" = "qlaster:qlaster 660" ] ||
  fail "socket is $(stat -c '%U:%G %a' /run/qlaster/sender.sock)"
wait_for "the ingest ring" test -e /dev/shm/qlaster_ingest
[ "$(stat -c '%U:%G %a' /dev/shm/qlaster_ingest)" = "qlaster:qlaster 660" ] ||
  fail "ingest ring is $(stat -c '%U:%G %a' /dev/shm/qlaster_ingest)"

useradd --system --no-create-home --shell /usr/sbin/nologin --groups qlaster qlbot
useradd --system --no-create-home --shell /usr/sbin/nologin qlstranger

echo "== a member of group qlaster writes the ingest ring, another member reads it"
# The example writer's demo set: three accounts owned by 22..22 (this base58), among others.
owner=3JF3sEqM796hk5WFqA6EtmEwJQ9quALszsfJyvXNQKy3
as_user qlbot /usr/bin/qlaster-inspect --owner="$owner" --count=3 --json >/tmp/inspect.out 2>/tmp/inspect.err &
inspect=$!
daemons+=("$inspect")
# Updates written before the subscription reach nobody: write until three arrive.
for _ in $(seq 60); do
  kill -0 "$inspect" 2>/dev/null || break
  as_user qlbot python3 /mnt/qlaster-source/examples/ingest/ingest_writer.py qlaster_ingest >/dev/null
  sleep 0.5  # between rounds of writes, while waiting for the reader to finish
done
if kill -0 "$inspect" 2>/dev/null; then
  kill "$inspect"
  fail "qlaster-inspect received fewer than 3 accounts: $(cat /tmp/inspect.out /tmp/inspect.err)"
fi
wait "$inspect" || fail "qlaster-inspect: $(cat /tmp/inspect.err)"
[ "$(grep -c '"kind":"account"' /tmp/inspect.out)" = 3 ] || fail "inspect printed $(cat /tmp/inspect.out)"

echo "== a user outside group qlaster is refused"
rc=0
as_user qlstranger /usr/bin/qlaster-inspect --count=1 >/tmp/stranger.out 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "non-member: exit $rc: $(cat /tmp/stranger.out)"
grep -qi "permission denied" /tmp/stranger.out || fail "non-member: $(cat /tmp/stranger.out)"

echo "== the packaged relay, as its service runs it: refuses to start until --to is set"
rc=0
(umask 0077 && exec setpriv --reuid=qlaster --regid=qlaster --init-groups -- \
  /usr/bin/qlaster-relay --flagfile=/etc/qlaster/relay.flags) >/tmp/relay.log 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "relay with the packaged flags: exit $rc: $(cat /tmp/relay.log)"
[ "$(wc -l </tmp/relay.log)" = 1 ] && grep -q -- "--to" /tmp/relay.log ||
  fail "relay with the packaged flags: $(cat /tmp/relay.log)"

echo "== the packaged gRPC endpoint, as its service runs it, on the README's Unix address"
# RuntimeDirectory=qlaster-grpc (0750), UMask=0007, User=/Group=qlaster; the listen
# address the packaged grpc.flags suggests, and port 0 instead of the default 10000.
install -d -o qlaster -g qlaster -m 0750 /run/qlaster-grpc
(umask 0007 && exec setpriv --reuid=qlaster --regid=qlaster --init-groups -- \
  /usr/bin/qlaster-grpc --flagfile=/etc/qlaster/grpc.flags \
  --listen=127.0.0.1:0,unix:/run/qlaster-grpc/grpc.sock >/tmp/grpc.log 2>&1) &
grpc=$!
daemons+=("$grpc")
wait_for "qlaster-grpc serving" grep -q "serving on 127.0.0.1:[0-9]*, unix:/run/qlaster-grpc/grpc.sock" /tmp/grpc.log
[ "$(stat -c '%U:%G %a' /run/qlaster-grpc/grpc.sock)" = "qlaster:qlaster 770" ] ||
  fail "gRPC socket is $(stat -c '%U:%G %a' /run/qlaster-grpc/grpc.sock)"
kill -TERM "$grpc"
rc=0
wait "$grpc" || rc=$?
[ "$rc" = 0 ] || fail "qlaster-grpc exited $rc on SIGTERM: $(tail -5 /tmp/grpc.log)"

echo "== SIGTERM"
kill -TERM "$sender"
rc=0
wait "$sender" || rc=$?
[ "$rc" = 0 ] || fail "sender exited $rc on SIGTERM: $(tail -5 /tmp/sender.log)"
[ ! -e /run/qlaster/sender.sock ] || fail "socket left behind"

echo "== apt-get purge"
dpkg-query -L qlaster >/tmp/files
apt-get purge -y -q qlaster >/tmp/apt-purge.log 2>&1 || { cat /tmp/apt-purge.log; fail "purge"; }
while read -r f; do
  [ -d "$f" ] || [ ! -e "$f" ] || fail "$f left after purge"
done </tmp/files
[ ! -e /etc/qlaster/sender.flags ] || fail "the conffile is left after purge"
case $(dpkg-query -W -f='${Status}' qlaster 2>/dev/null || true) in
  *" installed") fail "still installed" ;;
esac
getent passwd qlaster >/dev/null || fail "the qlaster user should stay after purge"
CHROOT
echo "package_overlay_test: ok"

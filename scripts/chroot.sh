# Sourced by scripts/test-package and scripts/test-puppet: fresh Debian 12 chroots for
# install tests, the way a new user's machine starts out.
#
#   selfheal_chroot_new DIR      a fresh bookworm minbase tree in DIR (from a cached base)
#   selfheal_chroot_run DIR CMD  run a shell command in it (as root, clean environment)
#   selfheal_chroot_cleanup DIR  kill what still runs in it, unmount, remove it
#
# The base (debootstrap --variant=minbase, apt lists updated) is made once and cached as a
# tarball in $SELFHEAL_CHROOT_CACHE (default /var/cache/selfheal-chroot); downloaded .debs
# are cached there too, so a second run does not fetch them again. SELFHEAL_CHROOT_REFRESH=1
# remakes the base. Maintainer scripts never start daemons in a chroot (policy-rc.d says
# 101), so no service ever binds a port on the host; tests start servers themselves, on
# 127.0.0.1 only.

SELFHEAL_CHROOT_CACHE=${SELFHEAL_CHROOT_CACHE:-/var/cache/selfheal-chroot}
SELFHEAL_CHROOT_MIRROR=${SELFHEAL_CHROOT_MIRROR:-http://deb.debian.org/debian}

selfheal_chroot_base() {
  local tarball=$SELFHEAL_CHROOT_CACHE/bookworm-minbase.tar.gz
  if [[ -s $tarball && ${SELFHEAL_CHROOT_REFRESH:-0} != 1 ]]; then
    echo "$tarball"
    return
  fi
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  mkdir -p "$SELFHEAL_CHROOT_CACHE"
  local tree
  tree=$(mktemp -d "$SELFHEAL_CHROOT_CACHE/base.XXXXXX")
  echo "== debootstrap --variant=minbase bookworm (cached in $tarball)" >&2
  if ! debootstrap --variant=minbase bookworm "$tree" "$SELFHEAL_CHROOT_MIRROR" >"$tree.log" 2>&1; then
    tail -20 "$tree.log" >&2
    rm -rf "$tree" "$tree.log"
    echo "selfheal_chroot_base: debootstrap failed (log above)" >&2
    return 1
  fi
  # The same archive the host uses (its snapshot pin included), with updated lists.
  rm -f "$tree/etc/apt/sources.list"
  if [[ -e /etc/apt/sources.list.d/debian.sources ]]; then
    cp /etc/apt/sources.list.d/debian.sources "$tree/etc/apt/sources.list.d/"
  else
    echo "deb $SELFHEAL_CHROOT_MIRROR bookworm main" >"$tree/etc/apt/sources.list"
  fi
  cp /etc/resolv.conf "$tree/etc/resolv.conf"
  chroot "$tree" apt-get update -qq >&2
  rm -rf "$tree/var/cache/apt/archives/"*.deb
  tar -C "$tree" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$tree" "$tree.log"
  echo "$tarball"
}

selfheal_chroot_new() {
  local dir=$1 tarball
  tarball=$(selfheal_chroot_base) || return 1
  mkdir -p "$dir"
  tar -C "$dir" -xzf "$tarball"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  printf '#!/bin/sh\n# install tests: maintainer scripts start no daemon here\nexit 101\n' \
    >"$dir/usr/sbin/policy-rc.d"
  chmod 755 "$dir/usr/sbin/policy-rc.d"
  mount -t proc proc "$dir/proc"
  mount -t devpts -o newinstance,ptmxmode=0666 devpts "$dir/dev/pts" 2>/dev/null || true
  mkdir -p "$SELFHEAL_CHROOT_CACHE/archives/partial" "$dir/var/cache/apt/archives"
  mount --bind "$SELFHEAL_CHROOT_CACHE/archives" "$dir/var/cache/apt/archives"
  # Keep the downloaded .debs for the next run.
  echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$dir/etc/apt/apt.conf.d/01keep-debs"
}

selfheal_chroot_run() {
  local dir=$1
  shift
  chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/bash -c "$*"
}

selfheal_chroot_cleanup() {
  local dir=$1 pid root
  [[ -d $dir ]] || return 0
  dir=$(readlink -f "$dir")
  for _ in 1 2 3; do  # processes whose root is the chroot: TERM, then KILL
    local left=0
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
      root=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
      if [[ $root == "$dir" ]]; then
        kill -TERM "$pid" 2>/dev/null && left=1
      fi
    done
    ((left)) || break
    sleep 1
  done
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [[ $(readlink "/proc/$pid/root" 2>/dev/null) == "$dir" ]] && kill -KILL "$pid" 2>/dev/null
  done
  local m
  for m in var/cache/apt/archives dev/pts proc; do
    mountpoint -q "$dir/$m" && umount -l "$dir/$m"
  done
  # Nothing mounted may remain before rm -rf walks the tree.
  if grep -qF " $dir/" /proc/mounts; then
    echo "selfheal_chroot_cleanup: $dir still has mounts; leaving it" >&2
    return 1
  fi
  rm -rf "$dir"
}

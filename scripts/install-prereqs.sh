#!/usr/bin/env bash
# Installs what the tests and the demo need, when it is missing, and starts the zfs-fuse daemon if
# no ZFS is running. Idempotent; run as root on Debian. Used by scripts/test.sh, scripts/demo.sh,
# scripts/benchmark.sh and .ci/run.
set -euo pipefail

log() { echo "install-prereqs: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root (it installs Debian packages and starts zfs-fuse)"
  exit 1
fi

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -x /usr/sbin/zfs ] || command -v zfs >/dev/null 2>&1 || need+=(zfs-fuse)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/bin/ssh ] || need+=(openssh-client)
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v pv >/dev/null 2>&1 || need+=(pv)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# Jinja2 renders Home Assistant's templates in the tests, in the PATH's python3 or Debian's own.
python3 -c 'import jinja2' >/dev/null 2>&1 || /usr/bin/python3 -c 'import jinja2' >/dev/null 2>&1 \
  || need+=(python3-jinja2)
command -v pgrep >/dev/null 2>&1 || need+=(procps)             # pgrep, used below
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)          # TLS test certificates
[ -x /usr/bin/time ] || need+=(time)                           # GNU time, for benchmark.sh

if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian's packages start their services; the tests start their own brokers and sshd on free
# ports, so the system-wide ones are not needed (but are harmless).

# ZFS: kernel OpenZFS if loaded, otherwise the zfs-fuse daemon. A daemon that is still shutting
# down (or starting) gets 15 s to answer, and is started again if it went away meanwhile.
start_zfs_fuse() {
  [ -e /dev/fuse ] || { log "/dev/fuse is missing: zfs-fuse cannot run here"; exit 1; }
  log "starting zfs-fuse"
  mkdir -p /var/run/zfs /var/lock/zfs
  rm -f /var/run/zfs-fuse.pid
  /usr/sbin/zfs-fuse --no-kstat-mount --pidfile /var/run/zfs-fuse.pid
}
if [ -e /dev/zfs ] && lsmod 2>/dev/null | grep -q '^zfs '; then
  log "kernel ZFS present"
else
  for _ in $(seq 1 75); do
    bash -c 'zpool list; exit $?' >/dev/null 2>&1 && break
    pgrep -x zfs-fuse >/dev/null 2>&1 || start_zfs_fuse
    sleep 0.2
  done
fi
zpool list >/dev/null 2>&1 || { log "zfs is not answering (zpool list failed)"; exit 1; }
log "ready: zfs, sshd, mosquitto, pv, $(java -version 2>&1 | head -1)"

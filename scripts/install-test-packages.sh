#!/usr/bin/env bash
# Installs, from Debian, every system package the test suite uses. The one
# list: `npm run test:all` (the README's test command) and .ci/run both call
# this, so a newcomer's machine gets exactly what CI gets. Needs root.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-packages: needs root to install Debian packages (try: sudo npm run test:all)" >&2
  exit 2
fi
if ! command -v apt-get >/dev/null; then
  echo "install-test-packages: needs apt-get (a Debian or Ubuntu host); install the packages listed in $0 by hand" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# g++/make/python3: better-sqlite3 is compiled from source (its prebuilt download is unreachable); python3 also runs
# libexec/labslot-landlock, the Landlock launcher without a C compiler (and the abstract-socket tests' clients).
# gcc + libc6-dev: the build compiles the native launcher (libexec/labslot-landlock.c, static); its test fails in CI
# without it. Named although g++ pulls them in today: the launcher needs them, not better-sqlite3.
# socat: PTY pairs standing in for serial consoles; util-linux: flock, setpriv, setsid, unshare;
# bubblewrap: the job sandbox; passwd: useradd/userdel for workers; e2fsprogs: chattr (a cleanup that fails), mkfs.ext4 (each job's own disk); procps: ps in jobs.
# iproute2 + iputils-ping: network namespaces with IPv6 targets; pdudaemon: a real PDU daemon.
# python3-prometheus-client: the official exposition-format parser reads /metrics in its test.
# qemu-system-x86, linux-image-amd64, busybox-static, cpio, udev, kmod, xz-utils: the QEMU guest with emulated USB devices.
# chromium: the status page test drives Debian's browser with playwright-core (no browser download).
# libxml2-utils: xmllint checks smf/*.xml; systemd: systemd-analyze verify checks the unit (a fresh machine may lack it);
# strace + libcap2-bin (capsh): the service unit test traces the hardened agent and checks capability names.
# ser2net: a real network console (console-server devices) in front of a PTY.
# nftables + curl: each worker's network policy, and jobs that try to reach what they must not.
# postgresql: the lab of many hosts (DESIGN §7) shares one real PostgreSQL; its default cluster is started below.
# openssl: the HTTPS tests make a CA and server certificates with it (test/helpers/tls-certs.ts); named here because
# only ca-certificates pulls it in, and a minimal image may not keep that tie.
# prometheus: for its promtool, which checks and unit-tests contrib/prometheus/labslot.rules.yml. Without recommends it
# is 12 packages (the server and its web assets); with them, 34, among them prometheus-node-exporter, a second service.
# The server is not wanted: it is stopped and disabled below.
prometheus_before=$(dpkg-query -W -f='${Status}' prometheus 2>/dev/null || true)
apt-get install -y -qq --no-install-recommends \
  ca-certificates g++ gcc libc6-dev make python3 \
  socat util-linux passwd e2fsprogs procps bubblewrap iproute2 iputils-ping pdudaemon python3-prometheus-client \
  qemu-system-x86 linux-image-amd64 busybox-static cpio udev kmod xz-utils \
  chromium libxml2-utils systemd strace libcap2-bin ser2net nftables curl postgresql openssl prometheus >/dev/null

# The prometheus package enables its server (systemd unit and SysV links) and starts it on :9090 where systemd or a
# known runlevel is in charge; in a container without either (CI) invoke-rc.d starts nothing. No test uses 9090, but
# only promtool is wanted here: a server this script installed is stopped and kept from starting at boot. One that was
# installed before is someone's Prometheus and is left alone.
if [ "$prometheus_before" != "install ok installed" ]; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now --quiet prometheus.service
  else
    /etc/init.d/prometheus stop >/dev/null
    update-rc.d prometheus disable >/dev/null
  fi
fi

# ping in jobs: apply the sysctl.d file labslot ships, as an install does (README "Install on a lab host").
install -m 0644 "$(dirname "$0")/../systemd/sysctl.d/60-labslot-ping.conf" /etc/sysctl.d/60-labslot-ping.conf
sysctl -p /etc/sysctl.d/60-labslot-ping.conf >/dev/null

# PostgreSQL's default cluster, running: the package makes and starts one through its service, but a container
# without systemd (or with a policy-rc.d refusing starts) leaves it stopped, and a reboot of a dev machine may too.
# The default is the `main` cluster of the newest version that has one (any cluster if none is called main);
# with none at all, one is made for the newest installed server. Running already is fine.
cluster=$(pg_lsclusters --no-header | awk '$2 == "main"' | sort -k1,1V | tail -n 1)
[ -n "$cluster" ] || cluster=$(pg_lsclusters --no-header | sort -k1,1V | tail -n 1)
if [ -z "$cluster" ]; then
  version=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' | awk -F/ '{ print $(NF - 2) }' | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "install-test-packages: the postgresql package is installed but no server is under /usr/lib/postgresql" >&2
    exit 1
  fi
  pg_createcluster "$version" main >/dev/null
  cluster=$(pg_lsclusters --no-header "$version" main)
fi
read -r pg_version pg_name pg_port pg_status _ <<<"$cluster"
case "$pg_status" in
  online*) ;;
  *) pg_ctlcluster "$pg_version" "$pg_name" start ;;
esac
# Accepting connections, not just started: the tests connect at once. pg_isready waits up to 30 s.
if ! pg_isready --quiet --timeout=30 --host=/var/run/postgresql --port="$pg_port"; then
  echo "install-test-packages: PostgreSQL cluster $pg_version/$pg_name (port $pg_port) does not accept connections:" >&2
  pg_lsclusters >&2 || true
  tail -n 20 "/var/log/postgresql/postgresql-$pg_version-$pg_name.log" >&2 || true
  exit 1
fi

#!/usr/bin/env bash
# A one-node OpenStack Swift (SAIO-like) for Berth's tests, as plain processes
# on 127.0.0.1: memcached, and the account, container, object and proxy
# servers (tempauth, tempurl, slo, bulk, copy; account_autocreate), all
# configured and kept under $BASE/swift (swift_dir; nothing goes to
# /etc/swift). Rings are built once into a cache that outlives BASE.
#
#   swift.sh up        install what is missing, start unless already answering
#   swift.sh down      stop the Swift processes (by pid) and remove $BASE/swift
#   swift.sh env       print the backends.env lines (empty when not up)
#   swift.sh packages  print the Debian packages still missing
#
# up.sh and down.sh call it with BERTH_BACKENDS_LOCKED=1 while they hold the
# lock; run alone, it takes the lock itself.
#
# Settings (environment): BERTH_SWIFT_PORT (proxy, 8080),
# BERTH_SWIFT_OBJECT_PORT (6200), BERTH_SWIFT_CONTAINER_PORT (6201),
# BERTH_SWIFT_ACCOUNT_PORT (6202), BERTH_SWIFT_MEMCACHED_PORT (11311),
# BERTH_SWIFT_RING_CACHE (${XDG_CACHE_HOME:-$HOME/.cache}/berth/swift-rings).
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SWIFT_PKGS=(swift swift-proxy swift-object swift-container swift-account python3-swiftclient memcached)
SWIFT_DIR=$BASE/swift
SWIFT_RUN=$SWIFT_DIR/run
SWIFT_LOG=$SWIFT_DIR/log
SWIFT_CREDS=$SWIFT_DIR/creds.env
PROXY_PORT=${BERTH_SWIFT_PORT:-8080}
OBJECT_PORT=${BERTH_SWIFT_OBJECT_PORT:-6200}
CONTAINER_PORT=${BERTH_SWIFT_CONTAINER_PORT:-6201}
ACCOUNT_PORT=${BERTH_SWIFT_ACCOUNT_PORT:-6202}
MEMCACHED_PORT=${BERTH_SWIFT_MEMCACHED_PORT:-11311}
RING_CACHE=${BERTH_SWIFT_RING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/swift-rings}
SWIFT_ACCOUNT=berth
SWIFT_USERNAME=tester
AUTH_URL=http://127.0.0.1:$PROXY_PORT/auth/v1.0

# The processes, in start order. Swift's servers are python: they are known
# by their command line (server name and our conf), not their executable.
SWIFT_DAEMONS=(memcached account container object proxy)

swift_pid() {
	local name=$1 f pid want
	f=$SWIFT_RUN/$name.pid
	[[ -s $f ]] || return 0
	pid=$(<"$f")
	pid=${pid//[^0-9]/}
	[[ -n $pid && -d /proc/$pid ]] || return 0
	[[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 0
	if [[ $name == memcached ]]; then
		want="memcached"
	else
		want="swift-$name-server $SWIFT_DIR/$name-server.conf"
	fi
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$want" || return 0
	echo "$pid"
}

swift_alive() {
	local d
	for d in "${SWIFT_DAEMONS[@]}"; do [[ -n $(swift_pid "$d") ]] || return 1; done
}

swift_auth_ok() {
	[[ -f $SWIFT_CREDS ]] || return 1
	# shellcheck source=/dev/null
	source "$SWIFT_CREDS"
	[[ $(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "X-Auth-User: $SWIFT_ACCOUNT:$SWIFT_USERNAME" \
		-H "X-Auth-Key: $SWIFT_KEY" "$AUTH_URL") == 200 ]]
}

swift_missing_pkgs() {
	local c missing=()
	for c in swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder swift memcached; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	((${#missing[@]} == 0)) || echo "${SWIFT_PKGS[*]}"
}

swift_install() {
	[[ -n $(swift_missing_pkgs) ]] || return 0
	log "installing ${SWIFT_PKGS[*]}"
	mkdir -p "$LOG"
	export DEBIAN_FRONTEND=noninteractive
	{
		timeout 600 apt-get update -q &&
			timeout 900 apt-get install -y -q --no-install-recommends "${SWIFT_PKGS[@]}"
	} >"$LOG/swift-apt.log" 2>&1 </dev/null || {
		tail -n 30 "$LOG/swift-apt.log" >&2
		die "apt-get failed (log: $LOG/swift-apt.log)"
	}
}

# swift_stop: TERM the Swift processes alive, wait, KILL what is left.
swift_stop() {
	local d pid deadline left
	local -a spids=()
	for d in proxy object container account memcached; do
		pid=$(swift_pid "$d")
		[[ -n $pid ]] || continue
		log "stopping swift $d (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		spids+=("$pid")
	done
	((${#spids[@]})) || return 0
	deadline=$(($(now_ms) + 20000))
	while :; do
		left=()
		for pid in "${spids[@]}"; do [[ -d /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] && left+=("$pid"); done
		((${#left[@]})) || return 0
		if (($(now_ms) >= deadline)); then
			log "swift pids ${left[*]} still running 20 s after SIGTERM: SIGKILL"
			kill -KILL "${left[@]}" 2>/dev/null || true
			return 0
		fi
		sleep 0.1
	done
}

# swift_rings: build the three rings once into RING_CACHE (they depend only
# on the ports), then copy them into SWIFT_DIR.
swift_rings() {
	local key=$RING_CACHE/$ACCOUNT_PORT-$CONTAINER_PORT-$OBJECT_PORT tmp kind port
	if [[ ! -f $key/object.ring.gz ]]; then
		log "building Swift rings into $key (once)"
		mkdir -p "$RING_CACHE"
		tmp=$(mktemp -d "$RING_CACHE/.build.XXXXXX")
		for kind in account container object; do
			case $kind in account) port=$ACCOUNT_PORT ;; container) port=$CONTAINER_PORT ;; object) port=$OBJECT_PORT ;; esac
			{
				swift-ring-builder "$tmp/$kind.builder" create 8 1 1 &&
					swift-ring-builder "$tmp/$kind.builder" add "r1z1-127.0.0.1:$port/d1" 1 &&
					swift-ring-builder "$tmp/$kind.builder" rebalance
			} >>"$tmp/build.log" 2>&1 || {
				cat "$tmp/build.log" >&2
				rm -rf "$tmp"
				die "swift-ring-builder failed for the $kind ring"
			}
		done
		rm -rf "$key"
		mv "$tmp" "$key"
	fi
	cp "$key"/*.ring.gz "$SWIFT_DIR/"
}

swift_confs() {
	local kind port
	for kind in account container object; do
		case $kind in account) port=$ACCOUNT_PORT ;; container) port=$CONTAINER_PORT ;; object) port=$OBJECT_PORT ;; esac
		cat >"$SWIFT_DIR/$kind-server.conf" <<EOF
# Written by scripts/backends/swift.sh.
[DEFAULT]
swift_dir = $SWIFT_DIR
devices = $SWIFT_DIR/devices
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = $port
workers = 1
user = root
log_level = WARNING

[pipeline:main]
pipeline = healthcheck $kind-server

[app:$kind-server]
use = egg:swift#$kind

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
	done
	cat >"$SWIFT_DIR/proxy-server.conf" <<EOF
# Written by scripts/backends/swift.sh.
[DEFAULT]
swift_dir = $SWIFT_DIR
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
workers = 1
user = root
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:tempauth]
use = egg:swift#tempauth
user_${SWIFT_ACCOUNT}_${SWIFT_USERNAME} = $SWIFT_KEY .admin
storage_url_scheme = default

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
}

swift_start_one() {
	local name=$1
	shift
	# setsid: its own session, out of reach of the caller's terminal; fd 9
	# (the backends lock) closed so the process does not hold it for life.
	setsid "$@" >>"$SWIFT_LOG/$name.log" 2>&1 </dev/null 9>&- &
	echo $! >"$SWIFT_RUN/$name.pid"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$@"; }

wait_until() {
	local desc=$1 secs=$2 deadline
	shift 2
	deadline=$(($(now_ms) + secs * 1000))
	until "$@"; do
		if (($(now_ms) >= deadline)); then
			log "ERROR: timed out after ${secs}s waiting for $desc; logs in $SWIFT_LOG:"
			tail -n 20 "$SWIFT_LOG"/*.log >&2 || true
			exit 1
		fi
		sleep 0.1
	done
}

healthy() { [[ $(http_code "http://127.0.0.1:$1/healthcheck") == 200 ]]; }
all_healthy() { healthy "$ACCOUNT_PORT" && healthy "$CONTAINER_PORT" && healthy "$OBJECT_PORT" && healthy "$PROXY_PORT"; }
tempurl_key_set() {
	[[ $(curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST -H "X-Auth-Token: $1" \
		-H "X-Account-Meta-Temp-URL-Key: $SWIFT_TEMPURL_KEY" "$2") == 20[04] ]]
}

swift_up() {
	local t0 d pid token storage hdrs
	t0=$(now_ms)
	if swift_alive && swift_auth_ok; then
		return 0
	fi
	swift_install
	swift_stop
	rm -rf "$SWIFT_DIR"
	mkdir -p "$SWIFT_RUN" "$SWIFT_LOG" "$SWIFT_DIR/devices/d1"
	for p in "$PROXY_PORT" "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" "$MEMCACHED_PORT"; do
		port_free "$p" || die "127.0.0.1:$p is already in use (see: ss -ltnp 'sport = :$p'); free it or set BERTH_SWIFT_*_PORT"
	done
	SWIFT_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
	SWIFT_TEMPURL_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
	printf 'SWIFT_KEY=%s\nSWIFT_TEMPURL_KEY=%s\n' "$SWIFT_KEY" "$SWIFT_TEMPURL_KEY" >"$SWIFT_CREDS"
	chmod 600 "$SWIFT_CREDS"
	swift_rings
	swift_confs
	swift_start_one memcached memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -u root
	for d in account container object; do
		swift_start_one "$d" "swift-$d-server" "$SWIFT_DIR/$d-server.conf"
	done
	swift_start_one proxy swift-proxy-server "$SWIFT_DIR/proxy-server.conf"
	wait_until "the Swift servers' healthchecks" 60 all_healthy
	wait_until "Swift to accept the tempauth key" 30 swift_auth_ok
	hdrs=$(curl -s -D - -o /dev/null -m 5 -H "X-Auth-User: $SWIFT_ACCOUNT:$SWIFT_USERNAME" -H "X-Auth-Key: $SWIFT_KEY" "$AUTH_URL")
	token=$(awk 'tolower($1) == "x-auth-token:" {print $2}' <<<"$hdrs" | tr -d '\r')
	storage=$(awk 'tolower($1) == "x-storage-url:" {print $2}' <<<"$hdrs" | tr -d '\r')
	wait_until "Swift to take the account's TempURL key" 30 tempurl_key_set "$token" "$storage"
	for d in "${SWIFT_DAEMONS[@]}"; do
		pid=$(swift_pid "$d")
		[[ -n $pid ]] || die "swift $d died during start-up; log: $SWIFT_LOG/$d.log"
	done
	log "Swift ready on 127.0.0.1:$PROXY_PORT ($(($(now_ms) - t0)) ms)"
}

swift_env() {
	[[ -f $SWIFT_CREDS ]] || return 0
	# shellcheck source=/dev/null
	source "$SWIFT_CREDS"
	cat <<EOF
BERTH_SWIFT_SAIO_AUTH_URL=$AUTH_URL
BERTH_SWIFT_SAIO_USER=$SWIFT_ACCOUNT:$SWIFT_USERNAME
BERTH_SWIFT_SAIO_KEY=$SWIFT_KEY
BERTH_SWIFT_SAIO_TEMPURL_KEY=$SWIFT_TEMPURL_KEY
EOF
}

[[ ${BERTH_BACKENDS_LOCKED:-} == 1 ]] || lock
case ${1:-} in
up) swift_up ;;
down)
	swift_stop
	[[ ${KEEP:-} == 1 || ! -d $SWIFT_DIR ]] || rm -rf "$SWIFT_DIR"
	;;
env) swift_env ;;
packages) swift_missing_pkgs ;;
*) die "usage: swift.sh up|down|env|packages" ;;
esac

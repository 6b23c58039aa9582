#!/usr/bin/env bash
# Starts the real servers Berth's tests run against, as plain processes on
# 127.0.0.1, and writes their connection settings to backends.env at the
# repository root (internal/testenv reads it):
#   - a one-node Ceph: 1 mon, 1 OSD, radosgw serving S3, Swift and admin;
#     an S3 user, a Swift subuser and a RADOS pool "berth" for the tests;
#   - MinIO, with its own data directory;
#   - a one-node OpenStack Swift (scripts/backends/swift.sh).
# Installs what is missing first: Debian's Ceph packages (apt-get), and a
# MinIO binary built with `go install` at a pinned version into a cache that
# outlives BASE (reused when present).
#
# Idempotent: when every daemon is alive and answering it only rewrites
# backends.env. Anything less (nothing running, or some daemons dead) is
# stopped by pid and started afresh with new random keys in a wiped BASE.
#
# Settings (environment):
#   BERTH_BACKENDS_DIR   state directory (default /tmp/berth-backends)
#   BERTH_BACKENDS_ENV   settings file to write (default <repo>/backends.env)
#   BERTH_CEPH_STORE     bluestore (default: a sparse file, survives an OSD
#                        restart) or memstore (RAM)
#   BERTH_CEPH_BLOCK_SIZE  bluestore's sparse file size (default 40G; sparse: costs only what is written)
#   BERTH_BIN_DIR        where the MinIO binary is kept
#                        (default ${XDG_CACHE_HOME:-$HOME/.cache}/berth/bin)
#   BERTH_RGW_PORT (7480), BERTH_MINIO_PORT (9000), BERTH_MINIO_CONSOLE_PORT
#   (9001), BERTH_MON_V2_PORT (3300), BERTH_MON_V1_PORT (6789)
# Stop with scripts/backends/down.sh (`make backends-down`).
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lock

# MinIO has no semver tags: this pseudo-version (a 2026-02-12 commit) is what
# `go list -m github.com/minio/minio@latest` resolved to when this was written.
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
BIN_DIR=${BERTH_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/bin}
MINIO_BIN=$BIN_DIR/minio
STORE=${BERTH_CEPH_STORE:-bluestore}
BLOCK_SIZE=${BERTH_CEPH_BLOCK_SIZE:-40G}
CEPH_PKGS=(ceph radosgw librados-dev ceph-common)
POOL=berth
S3_UID=berth
SWIFT_USER=berth:swift
REGION=us-east-1
CREDS=$BASE/creds.env

case $STORE in bluestore | memstore) ;; *) die "BERTH_CEPH_STORE=$STORE: want bluestore or memstore" ;; esac

T0=$(now_ms)
elapsed() { printf '%d.%03ds' $((($(now_ms) - T0) / 1000)) $((($(now_ms) - T0) % 1000)); }

# ---------- polling ----------

# wait_for DESC SECONDS LOGFILE CMD...: run CMD every 0.1 s until it succeeds;
# after SECONDS, fail naming DESC and showing CMD's last output and the end
# of LOGFILE.
wait_for() {
	local desc=$1 secs=$2 logfile=$3 deadline out
	shift 3
	deadline=$(($(now_ms) + secs * 1000))
	while :; do
		if out=$("$@" 2>&1); then
			return 0
		fi
		if (($(now_ms) >= deadline)); then
			log "ERROR: timed out after ${secs}s waiting for $desc"
			log "last check: $* -> ${out:0:2000}"
			if [[ -n $logfile && -f $logfile ]]; then
				log "end of $logfile:"
				tail -n 30 "$logfile" >&2
			fi
			exit 1
		fi
		sleep 0.1
	done
}

ceph_() { timeout 20 ceph -c "$CONF" --connect-timeout 10 "$@"; }

# Checks, each true when the server answers as it should.
osd_up() { ceph_ osd stat -f json | grep -q '"num_up_osds":1[,}]'; }
http_answers() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1") != 000 ]]; }
# s3_ok URL KEY SECRET: a SigV4-signed ListBuckets returns 200 (RGW wants
# x-amz-content-sha256, which curl does not add by itself: this is the empty
# body's).
s3_ok() {
	[[ $(curl -s -o /dev/null -m 5 -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" --user "$2:$3" \
		-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
		"$1/") == 200 ]]
}
swift_ok() {
	[[ $(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "X-Auth-User: $SWIFT_USER" \
		-H "X-Auth-Key: $SWIFT_KEY" "http://127.0.0.1:$RGW_PORT/auth/v1.0") == 20[04] ]]
}
minio_live() { curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$MINIO_PORT/minio/health/live"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
need_ports() {
	local p
	for p in "$@"; do
		port_free "$p" || die "127.0.0.1:$p is already in use by another process (see: ss -ltnp 'sport = :$p'); free it or set the BERTH_*_PORT variable"
	done
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# ---------- settings file ----------

write_env() {
	local tmp
	mkdir -p "$(dirname "$ENV_FILE")"
	tmp=$(mktemp "$ENV_FILE.XXXXXX")
	cat >"$tmp" <<EOF
# Written by scripts/backends/up.sh ($(date -u +%FT%TZ)) for the servers under $BASE.
# Throwaway test credentials, new at each fresh bring-up; do not commit.
# Read by internal/testenv; stop the servers with scripts/backends/down.sh.
BERTH_BACKENDS_DIR=$BASE
BERTH_S3_MINIO_ENDPOINT=http://127.0.0.1:$MINIO_PORT
BERTH_S3_MINIO_ACCESS_KEY=$MINIO_ACCESS_KEY
BERTH_S3_MINIO_SECRET_KEY=$MINIO_SECRET_KEY
BERTH_S3_MINIO_REGION=$REGION
BERTH_S3_RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
BERTH_S3_RGW_ACCESS_KEY=$RGW_ACCESS_KEY
BERTH_S3_RGW_SECRET_KEY=$RGW_SECRET_KEY
BERTH_S3_RGW_REGION=$REGION
BERTH_SWIFT_RGW_AUTH_URL=http://127.0.0.1:$RGW_PORT/auth/v1.0
BERTH_SWIFT_RGW_USER=$SWIFT_USER
BERTH_SWIFT_RGW_KEY=$SWIFT_KEY
BERTH_RADOS_CONF=$CONF
BERTH_RADOS_KEYRING=$ADMIN_KEYRING
BERTH_RADOS_USER=admin
BERTH_RADOS_POOL=$POOL
$(swift_sh env)
EOF
	chmod 600 "$tmp"
	mv -f "$tmp" "$ENV_FILE"
}

# swift_sh ARGS: scripts/backends/swift.sh under the lock this script holds.
swift_sh() { BERTH_BACKENDS_LOCKED=1 bash "$BACKENDS_SCRIPT_DIR/swift.sh" "$@"; }

# ---------- already up? ----------

all_alive() {
	local d
	for d in "${DAEMONS[@]}"; do [[ -n $(pid_of "$d") ]] || return 1; done
}

if [[ -f $CREDS ]] && all_alive; then
	# shellcheck source=/dev/null
	source "$CREDS"
	if osd_up && s3_ok "http://127.0.0.1:$RGW_PORT" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" &&
		swift_ok && s3_ok "http://127.0.0.1:$MINIO_PORT" "$MINIO_ACCESS_KEY" "$MINIO_SECRET_KEY"; then
		swift_sh up
		write_env
		log "already up ($(elapsed)); wrote $ENV_FILE"
		exit 0
	fi
	log "all daemons alive but not all answering: starting afresh"
fi

# ---------- fresh start ----------

trap 'log "ERROR: up.sh failed at line $LINENO after $(elapsed); logs in $LOG; clean up with scripts/backends/down.sh"' ERR

leftover=()
for d in "${DAEMONS[@]}"; do [[ -z $(pid_of "$d") ]] || leftover+=("$d"); done
if ((${#leftover[@]})); then
	log "stopping what runs (${leftover[*]}) to start afresh"
	stop rgw minio
	stop osd
	stop mon
fi
swift_sh down
wipe_base
mkdir -p "$RUN" "$LOG" "$CEPH_DIR"
touch "$MARKER"
need_ports "$MON_V2_PORT" "$MON_V1_PORT" "$RGW_PORT" "$MINIO_PORT" "$MINIO_CONSOLE_PORT"

# ---------- install (MinIO's build runs while apt and Ceph's start go on) ----------

minio_current() {
	[[ -x $MINIO_BIN ]] && [[ $(go version -m "$MINIO_BIN" 2>/dev/null | awk '$1 == "mod" {print $3}') == "$MINIO_VERSION" ]]
}

MINIO_BUILD_PID=
if ! minio_current; then
	command -v go >/dev/null || die "go is not on PATH: needed to build MinIO"
	log "building MinIO $MINIO_VERSION into $BIN_DIR (several minutes the first time; log: $LOG/minio-build.log)"
	mkdir -p "$BIN_DIR"
	(
		tmp=$(mktemp -d "$BIN_DIR/.build.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		GOBIN=$tmp GOFLAGS=-buildvcs=false timeout 1800 go install "$MINIO_MODULE@$MINIO_VERSION"
		mv -f "$tmp/minio" "$MINIO_BIN"
	) >"$LOG/minio-build.log" 2>&1 </dev/null 9>&- &
	MINIO_BUILD_PID=$!
fi

missing=()
for c in ceph-mon ceph-osd radosgw radosgw-admin ceph rados ceph-authtool monmaptool; do
	command -v "$c" >/dev/null || missing+=("$c")
done
[[ -f /usr/include/rados/librados.h ]] || missing+=(librados.h)
# Swift's packages join the same apt-get run (two would fight over dpkg's lock).
read -ra swift_pkgs <<<"$(swift_sh packages)"
if ((${#swift_pkgs[@]})); then
	CEPH_PKGS+=("${swift_pkgs[@]}")
	missing+=(swift)
fi
if ((${#missing[@]})); then
	log "installing ${CEPH_PKGS[*]} (missing: ${missing[*]})"
	export DEBIAN_FRONTEND=noninteractive
	{
		timeout 600 apt-get update -q &&
			timeout 900 apt-get install -y -q --no-install-recommends "${CEPH_PKGS[@]}"
	} >"$LOG/apt.log" 2>&1 </dev/null || {
		tail -n 30 "$LOG/apt.log" >&2
		die "apt-get failed (log: $LOG/apt.log)"
	}
	log "installed Ceph packages ($(elapsed))"
fi

# ---------- keys ----------

RGW_ACCESS_KEY=BERTH$(rand_hex 8 | tr a-f A-F)
RGW_SECRET_KEY=$(rand_hex 20)
SWIFT_KEY=$(rand_hex 20)
MINIO_ACCESS_KEY=berth$(rand_hex 6)
MINIO_SECRET_KEY=$(rand_hex 20)
cat >"$CREDS" <<EOF
RGW_ACCESS_KEY=$RGW_ACCESS_KEY
RGW_SECRET_KEY=$RGW_SECRET_KEY
SWIFT_KEY=$SWIFT_KEY
MINIO_ACCESS_KEY=$MINIO_ACCESS_KEY
MINIO_SECRET_KEY=$MINIO_SECRET_KEY
EOF
chmod 600 "$CREDS"

# ---------- Ceph: mon ----------

FSID=$(cat /proc/sys/kernel/random/uuid)
if [[ $STORE == bluestore ]]; then
	store_conf="osd objectstore = bluestore
bluestore block path = $CEPH_DIR/\$name.block
bluestore block create = true
bluestore block size = $(numfmt --from=iec "$BLOCK_SIZE")
bluestore fsck on mkfs = false
osd memory target = 1073741824"
else
	store_conf="osd objectstore = memstore
memstore device bytes = $(numfmt --from=iec "$BLOCK_SIZE")"
fi

cat >"$CONF" <<EOF
# Written by scripts/backends/up.sh: a throwaway one-node cluster.
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $ADMIN_KEYRING
run dir = $RUN
pid file = $RUN/\$name.pid
admin socket = $RUN/\$name.asok
log file = $LOG/\$name.log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
auth allow insecure global id reclaim = false
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = $CEPH_DIR/\$name

[osd]
osd data = $CEPH_DIR/\$name
keyring = $CEPH_DIR/\$name/keyring
$store_conf

[client.rgw.gw]
keyring = $CEPH_DIR/\$name.keyring
rgw data = $CEPH_DIR/\$name
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw enable apis = s3, swift, swift_auth, admin
rgw swift account in url = true
rgw gc obj min wait = 10
rgw gc processor period = 10
EOF

export CEPH_CONF=$CONF
ceph-authtool --create-keyring "$CEPH_DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$ADMIN_KEYRING" --gen-key -n client.admin \
	--cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$CEPH_DIR/mon.keyring" --import-keyring "$ADMIN_KEYRING" >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]" \
	"$CEPH_DIR/monmap" >/dev/null
ceph-mon -c "$CONF" -i a --mkfs --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/mon.keyring" \
	>"$LOG/mon-mkfs.log" 2>&1 || {
	cat "$LOG/mon-mkfs.log" >&2
	die "ceph-mon --mkfs failed"
}
# Ceph daemons fork into the background themselves once started, and write
# their pid files; their stdout and stderr stay in $LOG. Every long-lived
# process gets fd 9 (the lock) closed, or it would hold the lock for life.
ceph-mon -c "$CONF" -i a >>"$LOG/mon.a.out" 2>&1 </dev/null 9>&- || {
	tail -n 30 "$LOG/mon.a.log" >&2 || true
	die "ceph-mon failed to start"
}
wait_for "the Ceph monitor to answer" 30 "$LOG/mon.a.log" ceph_ mon stat
log "mon up ($(elapsed))"

# ---------- Ceph: OSD ----------

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_KEY=$(ceph-authtool --gen-print-key)
printf '{"cephx_secret": "%s"}\n' "$OSD_KEY" >"$CEPH_DIR/osd-new.json"
OSD_ID=$(ceph_ osd new "$OSD_UUID" -i "$CEPH_DIR/osd-new.json")
rm -f "$CEPH_DIR/osd-new.json"
[[ $OSD_ID == 0 ]] || die "ceph osd new returned id '$OSD_ID', expected 0"
mkdir -p "$CEPH_DIR/osd.0"
ceph-authtool --create-keyring "$CEPH_DIR/osd.0/keyring" --name osd.0 --add-key "$OSD_KEY" >/dev/null
ceph-osd -c "$CONF" -i 0 --mkfs --key "$OSD_KEY" --osd-uuid "$OSD_UUID" --no-mon-config \
	>"$LOG/osd-mkfs.log" 2>&1 || {
	tail -n 30 "$LOG/osd-mkfs.log" "$LOG/osd.0.log" >&2 || true
	die "ceph-osd --mkfs failed"
}
log "osd.0 made ($STORE) ($(elapsed))"
ceph-osd -c "$CONF" -i 0 >>"$LOG/osd.0.out" 2>&1 </dev/null 9>&- || {
	tail -n 30 "$LOG/osd.0.log" >&2 || true
	die "ceph-osd failed to start"
}
wait_for "osd.0 to be up" 60 "$LOG/osd.0.log" osd_up
log "osd up ($(elapsed))"

# ---------- Ceph: pool, radosgw, users ----------

{
	ceph_ osd pool create "$POOL" 8 8
	ceph_ osd pool application enable "$POOL" rados
	ceph_ auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' -o "$CEPH_DIR/client.rgw.gw.keyring"
} >>"$LOG/ceph-commands.log" 2>&1 || {
	tail -n 20 "$LOG/ceph-commands.log" >&2
	die "creating pool $POOL or radosgw's key failed"
}
mkdir -p "$CEPH_DIR/client.rgw.gw"
radosgw -c "$CONF" -n client.rgw.gw >>"$LOG/client.rgw.gw.out" 2>&1 </dev/null 9>&- || {
	tail -n 30 "$LOG/client.rgw.gw.log" >&2 || true
	die "radosgw failed to start"
}
probe_pool() {
	timeout 20 rados -c "$CONF" -p "$POOL" put .berth-probe /dev/null &&
		timeout 20 rados -c "$CONF" -p "$POOL" rm .berth-probe
}
wait_for "the RADOS pool $POOL to take writes" 60 "$LOG/osd.0.log" probe_pool
wait_for "radosgw to answer HTTP on 127.0.0.1:$RGW_PORT" 60 "$LOG/client.rgw.gw.log" \
	http_answers "http://127.0.0.1:$RGW_PORT/"
log "radosgw answers ($(elapsed))"
radosgw-admin -c "$CONF" user create --uid="$S3_UID" --display-name="Berth tests" \
	--access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY" >"$LOG/rgw-user.log" 2>&1 || {
	cat "$LOG/rgw-user.log" >&2
	die "radosgw-admin user create failed"
}
radosgw-admin -c "$CONF" subuser create --uid="$S3_UID" --subuser="$SWIFT_USER" --access=full \
	--key-type=swift --secret-key="$SWIFT_KEY" >>"$LOG/rgw-user.log" 2>&1 || {
	cat "$LOG/rgw-user.log" >&2
	die "radosgw-admin subuser create failed"
}
wait_for "RGW to accept the S3 keys" 30 "$LOG/client.rgw.gw.log" \
	s3_ok "http://127.0.0.1:$RGW_PORT" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY"
wait_for "RGW to accept the Swift key" 30 "$LOG/client.rgw.gw.log" swift_ok
log "Ceph ready: RADOS pool $POOL, S3 and Swift on 127.0.0.1:$RGW_PORT ($(elapsed))"

# ---------- MinIO ----------

if [[ -n $MINIO_BUILD_PID ]]; then
	log "waiting for the MinIO build"
	wait "$MINIO_BUILD_PID" || {
		tail -n 30 "$LOG/minio-build.log" >&2
		die "building MinIO failed (log: $LOG/minio-build.log)"
	}
	log "MinIO built ($(elapsed))"
fi
mkdir -p "$BASE/minio"
# setsid: a session of its own, so that a terminal's ^C or hang-up of the
# caller does not reach it; it is a plain child otherwise, and $! its pid.
MINIO_ROOT_USER=$MINIO_ACCESS_KEY MINIO_ROOT_PASSWORD=$MINIO_SECRET_KEY \
	MINIO_SITE_REGION=$REGION MINIO_BROWSER=off MINIO_UPDATE=off \
	setsid "$MINIO_BIN" server --quiet --address "127.0.0.1:$MINIO_PORT" \
	--console-address "127.0.0.1:$MINIO_CONSOLE_PORT" "$BASE/minio" \
	>>"$LOG/minio.log" 2>&1 </dev/null 9>&- &
echo $! >"${PIDFILE[minio]}"
wait_for "MinIO to answer /minio/health/live on 127.0.0.1:$MINIO_PORT" 30 "$LOG/minio.log" minio_live
wait_for "MinIO to accept its keys" 30 "$LOG/minio.log" \
	s3_ok "http://127.0.0.1:$MINIO_PORT" "$MINIO_ACCESS_KEY" "$MINIO_SECRET_KEY"
[[ -n $(pid_of minio) ]] || die "MinIO's pid $(<"${PIDFILE[minio]}") is not the MinIO process (setsid forked?)"
log "MinIO ready on 127.0.0.1:$MINIO_PORT ($(elapsed))"

swift_sh up

all_alive || die "a daemon died during bring-up; logs in $LOG"
write_env
log "up in $(elapsed); wrote $ENV_FILE"

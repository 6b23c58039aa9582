# Shared by up.sh and down.sh: settings, pid files, liveness. Sourced, not run.
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this

BACKENDS_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BACKENDS_SCRIPT_DIR/../.." && pwd)

# Everything the servers keep lives under BASE; up.sh wipes it on a fresh
# bring-up and down.sh removes it.
BASE=${BERTH_BACKENDS_DIR:-/tmp/berth-backends}
BASE=${BASE%/}
ENV_FILE=${BERTH_BACKENDS_ENV:-$REPO_ROOT/backends.env}
# A directory up.sh made holds this file; nothing else is ever wiped.
MARKER=$BASE/.berth-backends
RUN=$BASE/run
LOG=$BASE/log
CEPH_DIR=$BASE/ceph
CONF=$CEPH_DIR/ceph.conf
ADMIN_KEYRING=$CEPH_DIR/ceph.client.admin.keyring

# Ports, all on 127.0.0.1.
MON_V2_PORT=${BERTH_MON_V2_PORT:-3300}
MON_V1_PORT=${BERTH_MON_V1_PORT:-6789}
RGW_PORT=${BERTH_RGW_PORT:-7480}
MINIO_PORT=${BERTH_MINIO_PORT:-9000}
MINIO_CONSOLE_PORT=${BERTH_MINIO_CONSOLE_PORT:-9001}

# The daemons, in start order: name, pid file, executable's base name. Ceph
# writes its own pid files ("pid file" in ceph.conf); up.sh writes MinIO's.
DAEMONS=(mon osd rgw minio)
declare -A PIDFILE=(
	[mon]=$RUN/mon.a.pid
	[osd]=$RUN/osd.0.pid
	[rgw]=$RUN/client.rgw.gw.pid
	[minio]=$RUN/minio.pid
)
declare -A EXE=([mon]=ceph-mon [osd]=ceph-osd [rgw]=radosgw [minio]=minio)

# lock: one up.sh or down.sh at a time on a BASE (the lock file sits beside
# BASE, which gets wiped). The lock is fd 9, which every process they leave
# running must get closed (9>&-).
lock() {
	local holders p fd
	mkdir -p "$(dirname "$BASE")"
	exec 9>"$BASE.lock"
	flock -n 9 && return
	log "waiting for another up.sh or down.sh to release $BASE.lock"
	flock -w 600 9 && return
	exec 9>&-
	holders=$(for fd in /proc/[0-9]*/fd/*; do
		[[ $(readlink "$fd" 2>/dev/null) == "$BASE.lock" ]] || continue
		p=${fd#/proc/} && p=${p%%/*}
		echo "$p ($(cat "/proc/$p/comm" 2>/dev/null))"
	done | sort -u | tr '\n' ' ')
	die "$BASE.lock still held after 600 s, by: ${holders:-?}"
}

log() { printf '[backends %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# pid_of NAME: the pid in NAME's pid file, if that process is alive (not a
# zombie) and runs NAME's executable; nothing otherwise. Checking the
# executable keeps a reused pid from being taken for ours.
pid_of() {
	local f=${PIDFILE[$1]} pid exe state
	[[ -s $f ]] || return 0
	pid=$(<"$f")
	pid=${pid//[^0-9]/}
	[[ -n $pid && -d /proc/$pid ]] || return 0
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
	exe=${exe% (deleted)}
	[[ ${exe##*/} == "${EXE[$1]}" ]] || return 0
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
	[[ $state != Z ]] || return 0
	echo "$pid"
}

# now_ms: wall-clock milliseconds.
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# gone_within MS NAME...: wait up to MS milliseconds for the named daemons
# to exit; prints the names still alive when the time is up.
gone_within() {
	local deadline=$(($(now_ms) + $1)) name
	local -a left
	shift
	while :; do
		left=()
		for name in "$@"; do
			[[ -n $(pid_of "$name") ]] && left+=("$name")
		done
		if ((${#left[@]} == 0)) || (($(now_ms) >= deadline)); then
			echo "${left[*]}"
			return
		fi
		sleep 0.1
	done
}

# stop NAME...: SIGTERM the named daemons that are alive, wait up to 30 s for
# them to exit, then SIGKILL what is left and wait up to 10 s more.
stop() {
	local name pid left
	local -A pids=()
	for name in "$@"; do
		pid=$(pid_of "$name")
		[[ -n $pid ]] || continue
		pids[$name]=$pid
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
	done
	((${#pids[@]})) || return 0
	left=$(gone_within 30000 "${!pids[@]}")
	[[ -n $left ]] || return 0
	for name in $left; do
		log "$name (pid ${pids[$name]}) still running 30 s after SIGTERM: SIGKILL"
		kill -KILL "${pids[$name]}" 2>/dev/null || true
	done
	# shellcheck disable=SC2086 # $left is a list of names
	left=$(gone_within 10000 $left)
	[[ -z $left ]] || die "still running after SIGKILL: $left"
}

# wipe_base: remove BASE, only if up.sh made it (marker) or it is empty.
wipe_base() {
	[[ -e $BASE ]] || return 0
	if [[ ! -e $MARKER ]] && [[ -n $(ls -A "$BASE" 2>/dev/null) ]]; then
		die "$BASE is not empty and was not made by up.sh (no $MARKER): refusing to remove it; set BERTH_BACKENDS_DIR elsewhere"
	fi
	rm -rf "$BASE"
}

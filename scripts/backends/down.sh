#!/usr/bin/env bash
# Stops the servers scripts/backends/up.sh started: exactly those processes,
# by the pids in their pid files (a pid whose process no longer runs the
# expected executable is left alone), and waits for them to exit. Then
# removes the state directory (BERTH_BACKENDS_DIR, default
# /tmp/berth-backends) unless KEEP=1, and the backends.env that described
# these servers, so that tests skip instead of dialling dead ports.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lock

if [[ ! -d $BASE ]]; then
	log "nothing to stop: $BASE does not exist"
else
	[[ -e $MARKER ]] || die "$BASE was not made by up.sh (no $MARKER): not touching it"
	# Clients first, the monitor last, so each stops cleanly.
	stop rgw minio
	stop osd
	stop mon
	BERTH_BACKENDS_LOCKED=1 bash "$BACKENDS_SCRIPT_DIR/swift.sh" down
	if [[ ${KEEP:-} == 1 ]]; then
		log "stopped; kept $BASE (logs in $LOG)"
	else
		wipe_base
		log "stopped; removed $BASE"
	fi
fi

if [[ -f $ENV_FILE ]] && grep -q '^# Written by scripts/backends/up.sh' "$ENV_FILE" &&
	grep -qx "BERTH_BACKENDS_DIR=$BASE" "$ENV_FILE"; then
	rm -f "$ENV_FILE"
	log "removed $ENV_FILE"
fi

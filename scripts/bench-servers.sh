#!/usr/bin/env bash
# The bench CLI against every backend of the test harness, one after the
# other, with the same workload: nasfs (a temporary directory), MinIO and RGW
# (s3), OpenStack Swift and RGW (swift), the project's OSS server (oss), and
# RADOS (built with -tags rados). Results go to $OUT (default bench-results/)
# as JSON, CSV and HTML, and a table per backend to stdout.
#
#   make backends-up && bash scripts/bench-servers.sh [-duration 30s ...]
#
# Extra arguments go to every run. Needs backends.env (make backends-up).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f backends.env ]] || { echo "backends.env is missing: run make backends-up first" >&2; exit 2; }
# shellcheck disable=SC1091
source backends.env
OUT=${OUT:-bench-results}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'kill "$oss_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
oss_pid=

go build -o "$work/bench" ./cmd/bench
go build -tags rados -o "$work/bench-rados" ./cmd/bench
go build -o "$work/ossserver" ./cmd/ossserver

# A bucket or container per server (drivers never create them).
bucket=berth-bench-$$
go build -o "$work/mkbucket" ./internal/testenv/mkbucket
s3url() { # endpoint access secret
  echo "s3://$bucket?endpoint=$1&region=us-east-1&path_style=true&access_key=$2&secret_key=$3"
}
mkbucket() { # endpoint access secret
  "$work/mkbucket" -s3 "$1" -access "$2" -secret "$3" -bucket "$bucket"
}

declare -a names urls bins
names+=(nasfs); mkdir -p "$work/nasfs"; urls+=("nasfs://$work/nasfs"); bins+=("$work/bench")
if mkbucket "$BERTH_S3_MINIO_ENDPOINT" "$BERTH_S3_MINIO_ACCESS_KEY" "$BERTH_S3_MINIO_SECRET_KEY"; then
  names+=(s3-minio); urls+=("$(s3url "$BERTH_S3_MINIO_ENDPOINT" "$BERTH_S3_MINIO_ACCESS_KEY" "$BERTH_S3_MINIO_SECRET_KEY")"); bins+=("$work/bench")
fi
if mkbucket "$BERTH_S3_RGW_ENDPOINT" "$BERTH_S3_RGW_ACCESS_KEY" "$BERTH_S3_RGW_SECRET_KEY"; then
  names+=(s3-rgw); urls+=("$(s3url "$BERTH_S3_RGW_ENDPOINT" "$BERTH_S3_RGW_ACCESS_KEY" "$BERTH_S3_RGW_SECRET_KEY")"); bins+=("$work/bench")
fi
for srv in SAIO RGW; do
  auth=BERTH_SWIFT_${srv}_AUTH_URL user=BERTH_SWIFT_${srv}_USER key=BERTH_SWIFT_${srv}_KEY
  [[ -n ${!auth:-} ]] || continue
  "$work/mkbucket" -swift "${!auth}" -user "${!user}" -secret "${!key}" -bucket "$bucket" || continue
  names+=("swift-${srv,,}"); bins+=("$work/bench")
  urls+=("swift://$bucket?auth_url=${!auth}&user=${!user}&password=${!key}")
done
"$work/ossserver" -dir "$work/oss" -addr 127.0.0.1:0 -bucket "$bucket" -quiet >"$work/oss.env" 2>"$work/oss.log" &
oss_pid=$!
for _ in $(seq 50); do grep -q OSS_ACCESS_KEY_SECRET "$work/oss.env" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1091
source "$work/oss.env"
names+=(oss); bins+=("$work/bench")
urls+=("oss://$bucket?endpoint=$OSS_ENDPOINT&region=$OSS_REGION&access_key_id=$OSS_ACCESS_KEY_ID&access_key_secret=$OSS_ACCESS_KEY_SECRET&path_style=true")
names+=(rados); bins+=("$work/bench-rados")
urls+=("rados://$BERTH_RADOS_POOL/bench-$$?conf=$BERTH_RADOS_CONF&keyring=$BERTH_RADOS_KEYRING&user=$BERTH_RADOS_USER")

status=0
for i in "${!names[@]}"; do
  n=${names[$i]}
  echo "== $n"
  "${bins[$i]}" -url "${urls[$i]}" -quiet -json "$OUT/$n.json" -csv "$OUT/$n.csv" -html "$OUT/$n.html" "$@" || status=$?
done
exit "$status"

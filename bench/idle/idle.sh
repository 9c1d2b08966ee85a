#!/usr/bin/env bash
# idle.sh measures the resident memory of an idle `gatehouse serve`: a node
# that has started, migrated a fresh database, answered /healthz and served
# the three set-up requests bench/scim makes before its "idle" report (an
# organization, a SCIM directory, a directory token).
#
#   bench/idle/idle.sh BINARY cold|read|asis [DATABASE_URL]
#
# cold: the binary's pages are dropped from the page cache first, so the
#       process reads them in itself (as after a reboot or a fresh install);
# read: dropped, then read back whole with cat, which leaves them in the page
#       cache as large folios; a fault then maps a whole folio (up to 1 MiB),
#       so the same process shows several MB more RssFile;
# asis: the page cache left as it is (after `go build`, it holds the pages
#       the linker wrote, also partly as large folios).
# Only the binary's own pages are dropped (dd iflag=nocache), not the
# machine's page cache. Prints VmRSS, RssAnon, RssFile and PSS in MB.
set -euo pipefail
bin=$1 mode=$2 db=${3:-}
port=${PORT:-18290}
export GATEHOUSE_API_KEY=sk_bench_0123456789 GATEHOUSE_SECRET_KEY=$(printf '%064d' 1)
case $mode in
cold | read)
  sync "$bin"
  dd if="$bin" iflag=nocache count=0 status=none
  [ "$mode" = read ] && cat "$bin" >/dev/null
  ;;
asis) ;;
*) echo "mode must be cold, read or asis" >&2; exit 2 ;;
esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
GATEHOUSE_DATABASE_URL=$db "$bin" serve --data-dir "$dir" --addr 127.0.0.1:$port >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.05; done
api() { curl -sf -H "Authorization: Bearer $GATEHOUSE_API_KEY" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$port$1"; }
id() { grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4; }
org=$(api /organizations '{"name":"Bench"}' | id)
directory=$(api /directories "{\"organization_id\":\"$org\",\"type\":\"azure scim v2.0\"}" | id)
api "/directories/$directory/tokens" '{"name":"bench"}' >/dev/null
kb() { awk -v k="$1:" '$1==k {print $2}' "$2"; }
printf '%s %s %-4s VmRSS %.1f  anon %.1f  file %.1f  PSS %.1f MB\n' "$(date -u +%H:%M:%S)" "$(basename "$bin")" "$mode" \
  "$(kb VmRSS /proc/$pid/status)e-3" "$(kb RssAnon /proc/$pid/status)e-3" "$(kb RssFile /proc/$pid/status)e-3" "$(kb Pss /proc/$pid/smaps_rollup)e-3"
kill "$pid"
wait "$pid" || true

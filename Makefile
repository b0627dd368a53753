.PHONY: run test lint worker-text worker-audio

# 1) Run the product on the embedded default (no configuration, no external services).
run:
	bash scripts/run.sh

# 2) Run the whole test suite (installs what it needs; see scripts/test.sh).
test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check backend tests scripts alembic && .venv/bin/mypy backend

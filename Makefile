.PHONY: run test lint worker-text worker-audio beat reindex

# 1) Run the product on the embedded default (no configuration, no external services).
run:
	bash scripts/run.sh

# 2) Run the whole test suite (installs what it needs; see scripts/test.sh).
test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check backend tests scripts alembic && .venv/bin/mypy backend

# Production-style workers, one per queue (the run command starts both for you).
worker-text:
	.venv/bin/celery -A backend.worker worker -Q text -n text@%h --concurrency 2 --prefetch-multiplier 4

worker-audio:
	.venv/bin/celery -A backend.worker worker -Q audio -n audio@%h --concurrency 1 --prefetch-multiplier 1

beat:
	.venv/bin/celery -A backend.worker beat --schedule var/celerybeat-schedule

reindex:
	.venv/bin/python -m scripts.reindex index

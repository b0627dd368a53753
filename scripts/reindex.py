"""``python -m scripts.reindex check|index|search`` — see backend/knowledge/cli.py."""

import sys

from backend.knowledge.cli import main

if __name__ == "__main__":
    sys.exit(main())

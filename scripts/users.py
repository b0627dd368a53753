"""``python -m scripts.users list|show EMAIL|grant EMAIL --days N|revoke EMAIL|delete EMAIL`` — see
backend/admin/cli.py."""

import sys

from backend.admin.cli import main

if __name__ == "__main__":
    sys.exit(main())

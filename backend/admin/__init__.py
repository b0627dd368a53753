"""Operators manage accounts: list, show, grant or revoke access, erase an account and its data.

``service.py`` holds the rules, used by both the admin API (``router.py``) and the CLI
(``python -m scripts.users``); ``repository.py`` holds the SQL."""

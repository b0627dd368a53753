"""The read-only operator console: conversations, transcripts, leads and the funnel (``/admin/…``)."""

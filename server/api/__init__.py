"""REST v1: one router module per resource under ``routes/``, shared dependencies in ``deps``."""

"""The plain ceiling: a minimal Django + DRF project doing get-bflus's one-row read, no authentication.

What a partner would get from a plain DRF service: only Security and Common middleware, no sessions,
no throttles, the ORM as documented. bench/run.py serves it with the same gunicorn config as the project.
"""

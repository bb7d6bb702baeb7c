"""Settings for the test suite: the real settings, given test-only keys where the environment has none.

CI sets DATABASE_URL and CACHE_URL to run the very same suite against PostgreSQL and Redis.
"""

import os

# Hermetic: nothing in the working tree changes a test's outcome. The .env that `dev.py serve` writes is
# not read (here, nor in the servers and commands the tests start: they inherit this environment).
os.environ["BFLUENCE_READ_DOTENV"] = "false"
os.environ.setdefault("SECRET_KEY", "test-only-django-secret-key-never-used-in-production")
os.environ.setdefault("JWT_SIGNING_KEY", "test-only-jwt-signing-key-0123456789abcdef")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# Live-server threads must not keep connections open past their request: the test database is dropped
# at the end of the run.
os.environ.setdefault("CONN_MAX_AGE", "0")

from bfluence.settings import *  # noqa: F403
from bfluence.settings import BASE_DIR, DATABASES

# A file, not memory, so that server processes started by the tests see the same test database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}

# Static files come from the apps (WhiteNoise's finders), never from a `collectstatic` left in the tree.
STATIC_ROOT = BASE_DIR / ".test-staticfiles-never-collected"

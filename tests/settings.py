"""Settings for the test suite: the project's settings with a test secret."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret")

from colorreview.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # a file, not memory, so that a real worker process can share the test database
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"colorreview-test-{os.getpid()}.sqlite3")}

import tests.tasks.traced  # noqa: E402,F401  (registers the traced test segmenter in this process and its workers)

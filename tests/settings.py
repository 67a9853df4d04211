"""Settings for the test suite: the project's settings with a test secret."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret")

from colorreview.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

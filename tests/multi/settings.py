"""Production settings, with one change for speed: a cheap password hasher.

Django's default hasher takes most of a second per sign-in on purpose; the suite signs in
dozens of times, and what it proves does not depend on the hasher.
"""

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

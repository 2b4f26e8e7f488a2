"""Database sessions, read with a precompiled query (portal.precompiled).

Every signed-in page reads its session first. Django's database store builds that query
with the ORM each time; this store sends the same SQL, compiled once, and checks the expiry
date in Python instead of in the WHERE clause (the row and the answer are the same). Writes,
expiry and clearing are Django's own. Settings: SESSION_ENGINE = "portal.sessions".
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.contrib.sessions.models import Session
from django.db import router
from django.utils import timezone

from portal.precompiled import Precompiled

_ROW = Precompiled(
    lambda key: Session.objects.filter(session_key=key).values_list(
        "session_key", "session_data", "expire_date"
    ),
    placeholder="\x00session-key-placeholder",
)


class SessionStore(DatabaseStore):
    def _get_session_from_db(self) -> Session | None:
        if self.session_key is not None:
            db = router.db_for_read(Session)
            for key, data, expires in _ROW.rows(self.session_key, using=db):
                if expires > timezone.now():
                    return Session.from_db(
                        db, ["session_key", "session_data", "expire_date"], (key, data, expires)
                    )
        self._session_key = None
        return None

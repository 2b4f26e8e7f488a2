"""Small helpers the fleet tests share: a selection in the session, a job made directly."""

from __future__ import annotations

from django.utils import timezone

from fleet import selection
from fleet.models import Job, JobItem

HTMX = {"HX-Request": "true"}


def select(client, token, uids) -> None:
    """Put `uids` in the signed-in client's selection for `token`'s fleet (fleet/selection.py),
    as the device table's checkboxes would."""
    session = client.session
    session[f"{selection.KEY}:{token.pk}"] = list(uids)
    session.save()


def make_job(token, user=None, states=(), action=Job.Action.REBOOT, **fields) -> Job:
    """A job of `token` with one item per state in `states` (device uid "dev-<n>")."""
    now = timezone.now()
    job = Job.objects.create(
        token=token,
        token_label=token.label,
        action=action,
        created_by=user,
        created_by_name=user.get_username() if user else "",
        **fields,
    )
    for n, state in enumerate(states):
        final = state in JobItem.FINAL
        JobItem.objects.create(
            job=job,
            position=n,
            device_uid=f"dev-{n}",
            device_name=f"Device {n}",
            state=state,
            message=f"message {n}" if final else "",
            started_at=now if state != JobItem.State.WAITING else None,
            finished_at=now if final else None,
        )
    return job

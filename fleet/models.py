"""Fleet work's own records: tags, jobs and their per-device items, the workers running them.

A job's truth lives here, never in the task queue: a task (fleet/tasks.py) only advances these
rows, so a worker killed mid-job loses nothing. Each item moves through

    waiting -> sending -> sent | refused | failed | unknown
    waiting -> skipped | cancelled

and an item in `sending` is owned by one worker (`claimed_by`) until its answer is recorded.
An item whose worker died while it was `sending` becomes `unknown`: the call may have reached
the device, so it is never sent again by itself (fleet/engine.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from portal.models import ApiToken, AuditEvent


class Tag(models.Model):
    """A label of the portal's own on devices of one token's fleet (the upstream has none)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), "token", name="fleet_tag_name_unique_per_fleet")
        ]

    def __str__(self) -> str:
        return self.name


class DeviceTag(models.Model):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="devices")
    device_uid = models.CharField(max_length=100)
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint("tag", "device_uid", name="fleet_device_tag_unique")]
        indexes = [models.Index(fields=["device_uid"])]

    def __str__(self) -> str:
        return f"{self.tag} on {self.device_uid}"


class Job(models.Model):
    """One bulk action over many devices of one token's fleet."""

    class Action(models.TextChoices):
        REBOOT = "reboot", "Reboot"
        OTA = "ota", "Start update"
        WIFI_RESET = "wifi_reset", "Reset Wi-Fi"
        BUTTON = "button", "Send command button"
        COMMAND = "command", "Send command"
        TAG_ADD = "tag_add", "Add tag"
        TAG_REMOVE = "tag_remove", "Remove tag"

    class Offline(models.TextChoices):
        SKIP = "skip", "Skip them"
        TRY = "try", "Try them anyway"
        WAIT = "wait", "Wait for them to come back"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, related_name="jobs")
    token_label = models.CharField(max_length=100, blank=True)  # as it was when created
    action = models.CharField(max_length=20, choices=Action.choices)
    # What the action needs: {"button_id": ...}, {"payload": {...}}, {"tag": "..."}.
    params = models.JSONField(default=dict, blank=True)
    offline = models.CharField(max_length=10, choices=Offline.choices, default=Offline.SKIP)
    wait_until = models.DateTimeField(null=True, blank=True)  # Offline.WAIT: the latest moment
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.QUEUED, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when a 429 came: no item of this token's fleet work starts before then.
    paused_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.items.count()} devices (job {self.pk})"


class JobItem(models.Model):
    """One device's part in a job, and the truth about it."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        UNKNOWN = "unknown", "Outcome unknown"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = (State.SENT, State.REFUSED, State.FAILED, State.SKIPPED, State.UNKNOWN, State.CANCELLED)

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)  # the order devices are worked in
    device_uid = models.CharField(max_length=100)
    device_name = models.CharField(max_length=100, blank=True)  # as the table showed it
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    message = models.CharField(max_length=500, blank=True)  # the upstream's, or why
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True)  # waiting for the device
    claimed_by = models.CharField(max_length=64, blank=True)  # the worker sending it
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    audit = models.ForeignKey(
        AuditEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint("job", "device_uid", name="fleet_job_item_unique_device")
        ]
        indexes = [models.Index(fields=["job", "state"])]

    def __str__(self) -> str:
        return f"{self.device_uid}: {self.state}"


class Worker(models.Model):
    """A running fleet worker, as it last said it was alive (fleet/engine.py)."""

    id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True)
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"worker {self.id} on {self.host} (pid {self.pid})"


class Build(models.Model):
    """A firmware build in the team's library: checked once, stored once, rolled out to many.

    Builds belong to one token's fleet (the devices they go to are that token's); one md5 is
    one build per fleet. The file itself lives in BuildFile, in the database (at most 4 MB,
    the upstream's limit), so every instance and worker reads the same bytes and a list of
    builds never loads them.
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="builds")
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=50, blank=True)
    notes = models.TextField(max_length=1000, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    md5 = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    # What the image checks found (portal/firmware_images.py), once, at upload.
    kind = models.CharField(max_length=20, blank=True)  # esp8266, esp32, gzip, other
    summary = models.CharField(max_length=200, blank=True)
    chip = models.CharField(max_length=40, blank=True)
    app = models.JSONField(default=dict, blank=True)  # the esp_app_desc_t, when there is one
    warnings = models.JSONField(default=list, blank=True)  # confirmed by the uploader
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_by_name = models.CharField(max_length=150, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When someone last looked for it on the fleet's devices (BuildPlace holds what was found).
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        constraints = [
            models.UniqueConstraint("token", "md5", name="fleet_build_md5_unique_per_fleet")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    def in_use(self) -> bool:
        """Whether an active rollout uses this build (then it cannot be deleted).

        Rollouts do not exist yet (issue 13's second part): nothing uses a build, so this is
        False. The rollout model will answer here, e.g. with
        `self.rollouts.filter(state__in=ACTIVE).exists()`.
        """
        return False


class BuildFile(models.Model):
    """The bytes of one library build (Django's BinaryField: bytea on PostgreSQL)."""

    build = models.OneToOneField(
        Build, on_delete=models.CASCADE, primary_key=True, related_name="file"
    )
    content = models.BinaryField()

    def __str__(self) -> str:
        return f"file of {self.build}"


class BuildPlace(models.Model):
    """Where a build was found on one device, the last time the portal looked (fleet/library.py).

    Each flag is None when that look could not tell (the read failed, or the device's detail
    did not say), never a guess.
    """

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="places")
    device_uid = models.CharField(max_length=100)
    device_name = models.CharField(max_length=100, blank=True)
    uploaded = models.BooleanField(null=True)  # in the device's firmware list upstream
    firmware_id = models.CharField(max_length=20, blank=True)  # its id there
    running = models.BooleanField(null=True)  # the detail's current firmware md5
    target = models.BooleanField(null=True)  # the detail's target firmware md5
    problem = models.CharField(max_length=500, blank=True)  # why a read failed
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["device_name", "device_uid"]
        constraints = [
            models.UniqueConstraint("build", "device_uid", name="fleet_build_place_unique")
        ]

    def __str__(self) -> str:
        return f"{self.build} on {self.device_uid}"


class Budget(models.Model):
    """A token's fleet budget when there is no Redis (fleet/budget.py): when its next fleet
    call may start, until when it is paused (after a 429), and the leases of its calls in
    flight ({lease id: expiry}). Times are Unix seconds. Keyed by the token's pk only."""

    token_id = models.BigIntegerField(primary_key=True)
    next_call_at = models.FloatField(default=0.0)
    paused_until = models.FloatField(default=0.0)
    leases = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"fleet budget of token {self.token_id}"

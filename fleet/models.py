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

        Active: a rollout not yet done nor aborted (a draft too: it was planned with it).
        """
        return self.rollouts.filter(state__in=Rollout.ACTIVE).exists()


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


# --- staged rollouts (issue 13; fleet/rollouts.py plans and steers them, fleet/rollout_engine.py
# runs them) -----------------------------------------------------------------------------------


class Rollout(models.Model):
    """One library build going to many devices of one token's fleet, wave after wave.

    States: planning (the worker reads each chosen device's detail) -> draft (planned, not
    started) -> awaiting_approval (a second maintainer must
    approve) -> scheduled (waits for start_at or its window) -> running <-> paused -> done,
    or aborted from any state before done. The truth about each device is its Target and
    the Target's Steps; a task only advances them (fleet/rollout_engine.py).
    """

    class State(models.TextChoices):
        PLANNING = "planning", "Reading the devices"
        DRAFT = "draft", "Draft"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        DONE = "done", "Done"
        ABORTED = "aborted", "Aborted"

    class Promote(models.TextChoices):
        AUTO = "auto", "Automatically"
        MANUAL = "manual", "When a maintainer promotes"

    ACTIVE = (
        State.PLANNING,
        State.DRAFT,
        State.AWAITING_APPROVAL,
        State.SCHEDULED,
        State.RUNNING,
        State.PAUSED,
    )
    ENDED = (State.DONE, State.ABORTED)

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="rollouts")
    token_label = models.CharField(max_length=100, blank=True)  # as it was when planned
    # RESTRICT: a build an existing rollout names is not deleted (but a token's whole fleet is).
    # None for a rollback: each device goes back to its own previous build (Target.target_md5).
    build = models.ForeignKey(
        Build, on_delete=models.RESTRICT, null=True, blank=True, related_name="rollouts"
    )
    state = models.CharField(
        max_length=20, choices=State.choices, default=State.DRAFT, db_index=True
    )
    # Waves: a canary of `canary` devices (0: none), then cumulative percentages of the
    # devices to update, e.g. [10, 50, 100]: wave 1 brings the share done to 10 %, ...
    canary = models.PositiveIntegerField(default=1)
    percents = models.JSONField(default=list, blank=True)
    promote = models.CharField(max_length=10, choices=Promote.choices, default=Promote.AUTO)
    # A wave passes when at least this share of its devices is healthy.
    pass_percent = models.PositiveSmallIntegerField(default=100)
    soak_seconds = models.PositiveIntegerField(default=300)
    # The failure threshold: pauses the rollout by itself. A count over the rollout (since
    # the last resume) and/or a share of one wave; None: no such limit.
    max_failures = models.PositiveIntegerField(null=True, blank=True)
    max_failure_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    failure_base = models.PositiveIntegerField(default=0)  # failures counted before a resume
    # How long a device offline when its turn comes is waited for; how long a triggered
    # device may take to report the target (and an offline one to come back) before it is
    # timed out (online) or needs a visit (offline).
    offline_wait_seconds = models.PositiveIntegerField(default=3600)
    follow_timeout_seconds = models.PositiveIntegerField(default=900)
    # Optional schedule: not before start_at; only inside the window (days 0=Monday..6,
    # hours [start, end) in window_tz; end <= start spans midnight). Empty days: any day.
    start_at = models.DateTimeField(null=True, blank=True)
    window_days = models.JSONField(default=list, blank=True)
    window_start_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    window_end_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    window_tz = models.CharField(max_length=64, blank=True, default="UTC")
    needs_approval = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rollback_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="rollbacks"
    )
    paused_reason = models.CharField(max_length=500, blank=True)
    # The worker whose task advances it last said so then (fleet.engine.revive re-enqueues a
    # running rollout no live worker advances).
    advanced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"rollout {self.pk} of {self.build or 'previous builds'}"


class Wave(models.Model):
    """One stage of a rollout: number 0 is the canary (when there is one), then 1, 2, ..."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"  # ended with too few healthy devices
        PAUSED = "paused", "Paused"  # the failure threshold was reached in it

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveSmallIntegerField()
    percent = models.PositiveSmallIntegerField(null=True, blank=True)  # None: the canary
    size = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    promoted_by_name = models.CharField(max_length=150, blank=True)  # a manual promote

    class Meta:
        ordering = ["rollout", "number"]
        constraints = [
            models.UniqueConstraint("rollout", "number", name="fleet_wave_unique_number")
        ]

    def __str__(self) -> str:
        return "the canary" if self.percent is None else f"wave {self.number} ({self.percent} %)"


class Target(models.Model):
    """One device in one rollout, and the truth about it.

        waiting -> uploading -> targeting -> triggering -> following -> soaking -> healthy
        following -> failed | timed_out | needs_visit        (any write step -> failed)
        waiting -> missed (offline past the deadline) | cancelled (aborted before its turn)
        checking -> excluded | skipped | waiting: planning reads its detail (chip mismatch or
            unreadable; already running the build; to update)

    `claimed_by` is the worker working its next step right now; `next_check_at` when its
    next step is due.
    """

    class State(models.TextChoices):
        CHECKING = "checking", "Being checked"
        EXCLUDED = "excluded", "Excluded"
        SKIPPED = "skipped", "Already running it"
        WAITING = "waiting", "Waiting"
        UPLOADING = "uploading", "Uploading"
        TARGETING = "targeting", "Setting target"
        TRIGGERING = "triggering", "Starting update"
        FOLLOWING = "following", "Following"
        SOAKING = "soaking", "Soaking"
        HEALTHY = "healthy", "Healthy"
        FAILED = "failed", "Failed"
        TIMED_OUT = "timed_out", "Timed out"
        NEEDS_VISIT = "needs_visit", "Needs a visit"
        MISSED = "missed", "Offline: not updated"
        CANCELLED = "cancelled", "Not started"
        UNKNOWN = "unknown", "Outcome unknown"

    FAILURES = (State.FAILED, State.TIMED_OUT, State.NEEDS_VISIT)
    FINAL = (
        State.EXCLUDED, State.SKIPPED, State.HEALTHY, State.FAILED, State.TIMED_OUT,
        State.NEEDS_VISIT, State.MISSED, State.CANCELLED, State.UNKNOWN,
    )  # fmt: skip
    BEFORE_TRIGGER = (State.WAITING, State.UPLOADING, State.TARGETING, State.TRIGGERING)
    IN_FLIGHT = (State.FOLLOWING, State.SOAKING)

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="targets")
    wave = models.ForeignKey(
        Wave, on_delete=models.SET_NULL, null=True, blank=True, related_name="targets"
    )
    position = models.PositiveIntegerField(default=0)
    device_uid = models.CharField(max_length=100)
    device_name = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.WAITING)
    chip = models.CharField(max_length=40, blank=True)  # the device's, from its detail
    target_md5 = models.CharField(max_length=32)  # what it must run: the build's, or a rollback's
    # What it ran before (from its detail when planned): a rollback's build.
    previous_md5 = models.CharField(max_length=32, blank=True)
    previous_firmware_id = models.CharField(max_length=20, blank=True)
    previous_version = models.CharField(max_length=50, blank=True)
    # The build's copy on the device upstream (upload's answer or its firmware list).
    firmware_id = models.CharField(max_length=20, blank=True)
    firmware_md5 = models.CharField(max_length=32, blank=True)
    # The last detail read: for "needs a visit".
    last_ip = models.CharField(max_length=100, blank=True)
    last_rssi = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=1000, blank=True)
    last_seen_at = models.CharField(max_length=40, blank=True)  # as the upstream said it
    seen_offline = models.BooleanField(default=False)  # since its trigger
    # Its update was seen under way since the trigger (meta.ota_status not an ended word, or
    # not ended before it): an ended status then means this update ended.
    seen_updating = models.BooleanField(default=False)
    # The detail's `last_ota_at` read just before the trigger, as a mark to compare (see
    # fleet.rollout_engine.ota_mark; "" when the detail had none). A later non-empty mark that
    # differs means this OTA attempt ended. None (so null is meant): not recorded, for a device
    # triggered before it was kept, whose attempt this signal cannot tell.
    trigger_last_ota_at = models.CharField(  # noqa: DJ001
        max_length=40, null=True, blank=True, default=None
    )
    claimed_by = models.CharField(max_length=64, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)  # of its current wait
    triggered_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    why = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint("rollout", "device_uid", name="fleet_target_unique_device")
        ]
        indexes = [models.Index(fields=["rollout", "state"])]

    def __str__(self) -> str:
        return f"{self.device_uid}: {self.state}"


class Step(models.Model):
    """The ledger of one target, in order. A write step is recorded (outcome `pending`, with
    its worker) in its own committed transaction before its call, then its answer; a worker
    killed in between leaves it `pending` until revive makes it `unknown`."""

    class Kind(models.TextChoices):
        READ = "read", "Read detail"
        UPLOAD = "upload", "Upload"
        FIND_EXISTING = "find_existing", "Find the copy already uploaded"
        SET_TARGET = "set_target", "Set target"
        TRIGGER = "trigger", "Start update"
        POLL = "poll", "Follow"

    class Outcome(models.TextChoices):
        PENDING = "pending", "In flight"
        OK = "ok", "OK"
        WARNING = "warning", "Refused"
        ERROR = "error", "Failed"
        UNKNOWN = "unknown", "Outcome unknown"

    WRITES = (Kind.UPLOAD, Kind.SET_TARGET, Kind.TRIGGER)

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.CharField(max_length=500, blank=True)  # the upstream's, or what was seen
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=timezone.now)
    audit = models.ForeignKey(
        AuditEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["target", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.outcome}"

"""The background tasks of fleet work. A task only advances the state in fleet/models.py."""

from django.tasks import task

from fleet import engine


@task(queue_name="fleet")
def run_job(job_id: int, fan_out: bool = True) -> None:
    """Work on a job (fleet/engine.py); several workers may run it at once. A job's first
    task queues more of them when it has many items (`fan_out`), for other workers."""
    engine.run(job_id, fan_out=fan_out)


@task(queue_name="fleet")
def advance_rollout(rollout_id: int) -> None:
    """Advance a rollout (fleet/rollout_engine.py): its waves and its devices' steps. It queues
    itself again (with run_after) while the rollout has something to wait for."""
    from fleet import rollout_engine

    rollout_engine.advance(rollout_id)

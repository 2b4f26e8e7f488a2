"""The background tasks of fleet work. A task only advances the state in fleet/models.py."""

from django.tasks import task

from fleet import engine


@task(queue_name="fleet")
def run_job(job_id: int) -> None:
    """Work on a job (fleet/engine.py); several workers may run it at once."""
    engine.run(job_id)

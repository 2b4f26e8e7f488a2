from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "fleet"
    verbose_name = "Fleet work"

    def ready(self) -> None:
        # /readyz (the core's) says how many workers are alive; fleet's workers say it.
        from fleet.health import workers_alive
        from portal.health import count_workers_with

        count_workers_with(workers_alive)

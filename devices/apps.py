from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices"

    def ready(self) -> None:
        # A rollout may take its devices from a search of the table: fleet asks the table's
        # own matcher (fleet depends only on the core, so the table registers it there).
        from devices.listing import search_for_fleet
        from fleet.sources import register_search

        register_search(search_for_fleet)

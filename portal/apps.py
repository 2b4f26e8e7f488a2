from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal.roles import sync_groups

        post_migrate.connect(sync_groups, sender=self, dispatch_uid="portal.sync_groups")

        from portal import signals

        signals.connect_axes()

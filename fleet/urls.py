"""Fleet work's pages, under /fleet/."""

from django.urls import path  # noqa: F401 - the routes come with the views

app_name = "fleet"

urlpatterns: list = [
    # Tags and the selection (the device table's side of fleet work)
    # Bulk actions and jobs
]

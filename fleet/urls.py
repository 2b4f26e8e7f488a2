"""Fleet work's pages, under /fleet/."""

from django.urls import path

from fleet import library_views

app_name = "fleet"

urlpatterns: list = [
    # Tags and the selection (the device table's side of fleet work)
    # Bulk actions and jobs
    # The firmware library
    path("library/", library_views.index, name="library"),
    path("library/check/", library_views.check, name="library_check"),
    path("library/upload/", library_views.upload, name="library_upload"),
    path("library/<int:pk>/", library_views.build, name="library_build"),
    path("library/<int:pk>/find/", library_views.find, name="library_find"),
    path("library/<int:pk>/delete/", library_views.delete, name="library_delete"),
]

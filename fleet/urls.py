"""Fleet work's pages, under /fleet/."""

from django.urls import path

from fleet import tag_views

app_name = "fleet"

urlpatterns: list = [
    # Tags and the selection (the device table's side of fleet work)
    path("tags/", tag_views.tag_list, name="tags"),
    path("devices/<str:uid>/tags/", tag_views.device_tags, name="device_tags"),
    path("devices/<str:uid>/tags/add/", tag_views.tag_add, name="tag_add"),
    path("devices/<str:uid>/tags/remove/", tag_views.tag_remove, name="tag_remove"),
    path("selection/tags/add/", tag_views.selection_tag_add, name="selection_tag_add"),
    path("selection/tags/remove/", tag_views.selection_tag_remove, name="selection_tag_remove"),
    # Bulk actions and jobs
    path("bulk/", tag_views.bulk, name="bulk"),  # placeholder: jobs12's bulk view replaces it
]

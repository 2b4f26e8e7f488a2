"""Fleet work's pages, under /fleet/."""

from django.urls import path

from fleet import jobs_views, library_views, rollout_views, tag_views

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
    path("bulk/", jobs_views.bulk, name="bulk"),
    path("jobs/", jobs_views.job_list, name="jobs"),
    path("jobs/<int:pk>/", jobs_views.job_detail, name="job"),
    path("jobs/<int:pk>/csv", jobs_views.job_csv, name="job_csv"),
    path("jobs/<int:pk>/cancel/", jobs_views.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry/", jobs_views.job_retry, name="job_retry"),
    # The firmware library
    path("library/", library_views.index, name="library"),
    path("library/check/", library_views.check, name="library_check"),
    path("library/upload/", library_views.upload, name="library_upload"),
    path("library/<int:pk>/", library_views.build, name="library_build"),
    path("library/<int:pk>/find/", library_views.find, name="library_find"),
    path("library/<int:pk>/delete/", library_views.delete, name="library_delete"),
    # Rollouts
    path("rollouts/", rollout_views.rollout_list, name="rollouts"),
    path("rollouts/new/", rollout_views.rollout_new, name="rollout_new"),
    path("rollouts/<int:pk>/", rollout_views.rollout_detail, name="rollout"),
    path("rollouts/<int:pk>/csv", rollout_views.rollout_csv, name="rollout_csv"),
    path("rollouts/<int:pk>/visits/", rollout_views.rollout_visits, name="rollout_visits"),
    path("rollouts/<int:pk>/start/", rollout_views.rollout_start, name="rollout_start"),
    path("rollouts/<int:pk>/approve/", rollout_views.rollout_approve, name="rollout_approve"),
    path("rollouts/<int:pk>/pause/", rollout_views.rollout_pause, name="rollout_pause"),
    path("rollouts/<int:pk>/resume/", rollout_views.rollout_resume, name="rollout_resume"),
    path("rollouts/<int:pk>/abort/", rollout_views.rollout_abort, name="rollout_abort"),
    path("rollouts/<int:pk>/promote/", rollout_views.rollout_promote, name="rollout_promote"),
    path("rollouts/<int:pk>/rollback/", rollout_views.rollout_rollback, name="rollout_rollback"),
]

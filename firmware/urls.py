from django.urls import path

from firmware import views

app_name = "firmware"
urlpatterns = [
    path("devices/<str:uid>/firmware/", views.panel, name="panel"),
    path("devices/<str:uid>/firmware/check/", views.check, name="check"),
    path("devices/<str:uid>/firmware/upload/", views.upload, name="upload"),
    path("devices/<str:uid>/firmware/target/", views.set_target, name="set_target"),
    path("devices/<str:uid>/firmware/ota/", views.trigger_ota, name="ota"),
    path("devices/<str:uid>/firmware/follow/", views.follow, name="follow"),
    path("devices/<str:uid>/firmware/<int:firmware_id>/", views.card, name="card"),
    path("devices/<str:uid>/firmware/<int:firmware_id>/edit/", views.edit, name="edit"),
    path("devices/<str:uid>/firmware/<int:firmware_id>/update/", views.update, name="update"),
    path("devices/<str:uid>/firmware/<int:firmware_id>/delete/", views.delete, name="delete"),
]

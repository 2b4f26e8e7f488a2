from django.urls import path

from firmware import views

app_name = "firmware"
urlpatterns = [
    path("devices/<str:uid>/firmware/", views.panel, name="panel"),
]

from django.urls import path

from devices import actions, buttons, views

app_name = "devices"
urlpatterns = [
    path("", views.device_list, name="list"),
    # "-" cannot begin a uid (UID_PATTERN): no device's page is hidden by this one.
    path("-/selection/", views.selection_change, name="selection"),
    path("<str:uid>/", views.device_detail, name="detail"),
    path("<str:uid>/field/<str:field>/", views.field_value, name="field"),
    path("<str:uid>/edit/<str:field>/", views.field_edit, name="edit"),
    path("<str:uid>/rename/", views.rename, name="rename"),
    path("<str:uid>/commands/", actions.commands_panel, name="commands"),
    path("<str:uid>/commands/send/", actions.send_command, name="send_command"),
    path("<str:uid>/reboot/", actions.reboot, name="reboot"),
    path("<str:uid>/wifi-reset/", actions.wifi_reset, name="wifi_reset"),
    path("<str:uid>/ota/", actions.trigger_ota, name="ota"),
    path("<str:uid>/buttons/", buttons.buttons_panel, name="buttons"),
    path("<str:uid>/buttons/create/", buttons.create_button, name="create_button"),
    path("<str:uid>/buttons/<str:button_id>/send/", buttons.send_button, name="send_button"),
    path("<str:uid>/buttons/<str:button_id>/delete/", buttons.delete_button, name="delete_button"),
]

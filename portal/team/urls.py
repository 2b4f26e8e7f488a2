from django.urls import path

from portal.team import auditlog, tokens, users

app_name = "team"
urlpatterns = [
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/add/", tokens.token_add, name="token_add"),
    path("tokens/<int:pk>/", tokens.token_detail, name="token_detail"),
    path("tokens/<int:pk>/label/", tokens.token_relabel, name="token_relabel"),
    path("tokens/<int:pk>/value/", tokens.token_replace, name="token_replace"),
    path("tokens/<int:pk>/verify/", tokens.token_verify, name="token_verify"),
    path("tokens/<int:pk>/delete/", tokens.token_delete, name="token_delete"),
    path("account/token/", tokens.my_token, name="my_token"),
    path("users/", users.user_list, name="users"),
    path("users/add/", users.user_add, name="user_add"),
    path("users/<int:pk>/", users.user_detail, name="user_detail"),
    path("users/<int:pk>/access/", users.user_access, name="user_access"),
    path("users/<int:pk>/active/", users.user_active, name="user_active"),
    path("users/<int:pk>/password/", users.user_password, name="user_password"),
    path(
        "users/<int:pk>/require-password/",
        users.user_require_password,
        name="user_require_password",
    ),
    path("users/lockouts/lift/", users.lockout_lift, name="lockout_lift"),
    path("audit/", auditlog.audit_log, name="audit"),
    path("audit/export.csv", auditlog.audit_export, name="audit_export"),
    path("account/activity/", auditlog.my_activity, name="my_activity"),
]

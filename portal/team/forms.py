"""Forms for the team pages. They validate; the services in portal.services act."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import SetPasswordMixin, UsernameField
from django.contrib.auth.models import User

from portal import storable
from portal.audit_actions import words
from portal.models import ApiToken, AuditEvent
from portal.roles import ROLE_ORDER, Role

ROLE_CHOICES = [("", "No role"), *((r.value, r.label) for r in ROLE_ORDER)]
VALUE_HELP = "Stored encrypted. After you save it, only its last four characters are ever shown."


def _header_safe(value: str) -> None:
    problem = storable.token_problem(value)
    if problem:
        raise forms.ValidationError(problem, code="token")


def secret_field(label: str = "Token value") -> forms.CharField:
    # render_value=False: a value typed once is never sent back to any browser, even on error.
    return forms.CharField(
        label=label,
        validators=[_header_safe],
        max_length=1000,
        strip=True,
        help_text=VALUE_HELP,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
    )


class TokenLabelForm(forms.Form):
    label = forms.CharField(max_length=100, strip=True, help_text="A name people will recognise.")

    def __init__(self, *args, instance: ApiToken | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance

    def clean_label(self) -> str:
        label = self.cleaned_data["label"]
        taken = ApiToken.objects.filter(label=label)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("Another token already has this label.")
        return label


class TokenAddForm(TokenLabelForm):
    value = secret_field()


class TokenValueForm(forms.Form):
    value = secret_field("New token value")


class SelfTokenForm(forms.Form):
    value = secret_field("Your API token")


UNMAPPED_NOTE = (
    "Without an API token this user sees no devices: every device page tells them "
    "to ask an admin. Assign one here, now or later."
)


def _token_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=ApiToken.objects.all(),
        required=False,
        empty_label="No token",
        label="API token",
        help_text="The token this user works with. Several users may share one.",
        widget=forms.Select(attrs={"data-warn-empty": "no-token-warning"}),
    )


class UserAccessForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)
    token = _token_field()

    def without_token(self) -> bool:
        """Whether the form, as shown, maps the user to no token (its warning shows)."""
        value = self["token"].value()
        return value in (None, "")

    def clean_role(self) -> Role | None:
        value = self.cleaned_data["role"]
        return Role(value) if value else None


class UserCreateForm(SetPasswordMixin, UserAccessForm):
    """A new user: username, role, token, and an initial password (Django's validators)."""

    username = UsernameField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    # A new user needs a role: without one every page would refuse them.
    role = forms.ChoiceField(
        choices=[("", "Choose a role"), *((r.value, r.label) for r in ROLE_ORDER)],
        error_messages={"required": "Choose a role: a user without one can open no page."},
        help_text="Viewer reads; operator also renames, reboots and sends commands; "
        "maintainer also manages firmware, OTA and buttons; admin also manages the team.",
    )
    password1, password2 = SetPasswordMixin.create_password_fields(
        label1="Initial password", label2="Initial password again"
    )
    field_order = ["username", "role", "token", "password1", "password2"]

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        User.username_validator(username)
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean(self) -> dict:
        self.validate_passwords()
        username = self.cleaned_data.get("username")
        if username:
            self.validate_password_for_user(User(username=username))
        return self.cleaned_data


class LockoutLiftForm(forms.Form):
    """Which lockout to lift: the username and address as the Users page lists them."""

    username = forms.CharField(max_length=255, required=False)
    ip = forms.GenericIPAddressField(required=False)


class PasswordResetForm(SetPasswordMixin, forms.Form):
    password1, password2 = SetPasswordMixin.create_password_fields(
        label1="New password", label2="New password again"
    )

    def __init__(self, user: User, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict:
        self.validate_passwords()
        self.validate_password_for_user(self.user)
        return self.cleaned_data


class AuditFilterForm(forms.Form):
    """The audit log's filters. Every field is optional; a bad value is simply ignored.

    `user` offers the portal's users (an exact username, any case); `username` finds any
    name in the log by a part of it: a former user, or a failed sign-in's attempted name.
    `device` matches a part of the device's uid or of the name it had then.
    """

    user = forms.CharField(required=False, max_length=150, label="User", widget=forms.Select)
    username = forms.CharField(
        required=False,
        max_length=150,
        label="Or a username",
        widget=forms.TextInput(attrs={"placeholder": "a former user, say"}),
    )
    device = forms.CharField(
        required=False,
        max_length=100,
        label="Device",
        widget=forms.TextInput(attrs={"placeholder": "name or uid, or a part"}),
    )
    action = forms.ChoiceField(required=False, label="Action")
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any"), *AuditEvent.Outcome.choices], label="Outcome"
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self,
        *args,
        actions: list[str],
        users: list[tuple[str, str]] | None = None,
        mine: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        named = sorted(((code, words(code)) for code in actions), key=lambda c: c[1].lower())
        self.fields["action"].choices = [("", "Any"), *named]
        if mine:
            del self.fields["user"], self.fields["username"]
            return
        choices = [("", "Anyone"), *(users or [])]
        given = self.data.get("user", "")
        known = {value.lower(): value for value, _ in choices if value}
        if given and given.lower() in known:
            # A link typed in another case still shows (and submits) the user it means.
            self.data = self.data.copy()
            self.data["user"] = known[given.lower()]
        elif given:
            choices.append((given, f"{given} (not a user now)"))
        self.fields["user"].widget.choices = choices

    def clean(self) -> dict:
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return self.cleaned_data

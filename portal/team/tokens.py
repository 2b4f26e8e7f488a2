"""The token vault's pages (admins, `manage_tokens`) and "My API token" (every user, if allowed).

A token's value is typed once into a password field and never sent back to a browser: the
pages show its label and hint (last four characters) only.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal import confirm, outcomes, services
from portal.decorators import requires
from portal.models import ApiToken
from portal.outcomes import Done, Refused, perform
from portal.team.forms import SelfTokenForm, TokenAddForm, TokenLabelForm, TokenValueForm


def _verified(token: ApiToken) -> Done:
    """A saved token, and what the upstream said about it: the row notes the check."""
    sent = {"label": token.label, "hint": token.hint, "verified": token.status}
    if token.status == "ok":
        message, level = f"Saved “{token.label}”; the device service accepted it.", "success"
    elif token.status == "rejected":
        message = (
            f"Saved “{token.label}”, but the device service rejected it: "
            "replace the value, or check it with the vendor."
        )
        level = "warning"
    else:
        message = f"Saved “{token.label}”, but it could not be checked: {token.last_error}"
        level = "warning"
    return Done(answer=token, message=message, level=level, sent=sent, note=token.last_error)


@login_required
@require_GET
@requires("manage_tokens")
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = (
        ApiToken.objects.select_related("created_by", "personal_for")
        .annotate(user_count=Count("profiles"))
        .prefetch_related("profiles__user")
    )
    rows = [(token, token.readable()) for token in tokens]
    return render(request, "portal/tokens/list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
@requires("manage_tokens", action="token.add")
def token_add(request: HttpRequest) -> HttpResponse:
    form = TokenAddForm(request.POST or None)
    if request.method == "POST":
        outcome = perform(
            request,
            "token.add",
            lambda: _verified(
                services.add_token(
                    form.cleaned_data["label"], form.cleaned_data["value"], request.user
                )
            ),
            form=form,
        )
        if outcome.refused:
            return render(request, "portal/tokens/add.html", {"form": form}, status=400)
        outcome.flash(request)
        return redirect("team:token_detail", pk=outcome.answer.pk)
    return render(request, "portal/tokens/add.html", {"form": form})


def _detail(request: HttpRequest, token: ApiToken, status: int = 200, **forms) -> HttpResponse:
    context = {
        "token": token,
        "readable": token.readable(),
        "users": [p.user for p in token.profiles.select_related("user").order_by("user__username")],
        "label_form": forms.get("label_form") or TokenLabelForm(initial={"label": token.label}),
        "value_form": forms.get("value_form") or TokenValueForm(),
    }
    return render(request, "portal/tokens/detail.html", context, status=status)


@login_required
@require_GET
@requires("manage_tokens")
def token_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(ApiToken, pk=pk))


@login_required
@require_POST
@requires("manage_tokens", action="token.relabel")
def token_relabel(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    form = TokenLabelForm(request.POST, instance=token)
    old = token.label

    def relabel() -> Done:
        services.relabel_token(token, form.cleaned_data["label"])
        message = f"Renamed “{old}” to “{token.label}”."
        return Done(answer=token, message=message, sent={"to": token.label})

    outcome = perform(request, "token.relabel", relabel, form=form, sent={"from": old})
    if outcome.refused:
        return _detail(request, token, status=400, label_form=form)
    outcome.flash(request)
    return redirect("team:token_detail", pk=token.pk)


@login_required
@require_POST
@requires("manage_tokens", action="token.replace")
def token_replace(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    form = TokenValueForm(request.POST)
    outcome = perform(
        request,
        "token.replace",
        lambda: _verified(services.replace_token_value(token, form.cleaned_data["value"])),
        form=form,
        sent={"label": token.label},
    )
    if outcome.refused:
        return _detail(request, token, status=400, value_form=form)
    outcome.flash(request)
    return redirect("team:token_detail", pk=token.pk)


@login_required
@require_POST
@requires("manage_tokens", action="token.verify")
def token_verify(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)

    def verify() -> Done:
        services.verify_token(token)
        sent = {"label": token.label, "verified": token.status}
        if token.status == "ok":
            message, level = f"The device service accepts “{token.label}”.", "success"
        elif token.status == "rejected":
            message = f"“{token.label}” was {services.REJECTED[0].lower()}{services.REJECTED[1:]}"
            level = "warning"
        else:
            message = f"“{token.label}” did not pass the check: {token.last_error}"
            level = "warning"
        return Done(answer=token, message=message, level=level, sent=sent, note=token.last_error)

    perform(request, "token.verify", verify).flash(request)
    return redirect("team:token_detail", pk=token.pk)


@login_required
@require_POST
@requires("manage_tokens", action="token.delete")
def token_delete(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    if not confirm.confirmed(request):
        question = f"Delete the token “{token.label}”? This cannot be undone."
        return confirm.ask(request, question, "Delete", danger=True)
    sent = {"label": token.label, "hint": token.hint}

    def delete() -> Done:
        try:
            services.delete_token(token)
        except services.TokenInUse as error:
            raise Refused(str(error)) from None
        return Done(message=f"Deleted the token “{sent['label']}”.")

    outcome = perform(request, "token.delete", delete, sent=sent)
    outcome.flash(request)
    page = "team:tokens" if outcome.ok else "team:token_detail"
    args = [] if outcome.ok else [pk]
    if request.htmx:  # done or not, a whole page (an htmx redirect would be swapped in)
        return HttpResponseClientRedirect(reverse(page, args=args))
    return redirect(page, *args)


@login_required
@require_http_methods(["GET", "POST"])
def my_token(request: HttpRequest) -> HttpResponse:
    """ "My API token": a user enters their own token, when PORTAL_ALLOW_SELF_TOKEN is on."""
    if not settings.PORTAL_ALLOW_SELF_TOKEN:
        message = "Entering your own API token is turned off here. Ask an admin to assign one."
        if request.method == "POST":
            outcomes.refuse(request, "token.self", message)
        return render(request, "portal/forbidden.html", {"message": message}, status=403)
    form = SelfTokenForm(request.POST or None)
    if request.method == "POST":
        outcome = perform(
            request,
            "token.self",
            lambda: _verified(
                services.save_personal_token(request.user, form.cleaned_data["value"])
            ),
            form=form,
        )
        if not outcome.refused:
            outcome.flash(request)
            return redirect("team:my_token")
    profile = getattr(request.user, "portal_profile", None)
    context = {"form": form, "current": profile.token if profile else None}
    return render(request, "portal/tokens/mine.html", context, status=400 if form.errors else 200)

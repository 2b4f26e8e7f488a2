"""Tag pages: a device's tags (its page's panel), the fleet's tags, and tagging the selection.

Each write is one `tag.add` or `tag.remove` through the core's one write path (fleet/tags.py):
one audit row per device, including for the selection, where each device has its own row.
Every form works as a plain post (a redirect and a message) and with htmx (the panel again).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from fleet import selection, tags
from portal import results, storable
from portal.decorators import requires
from portal.iot import IoTError, client_for
from portal.outcomes import SUCCESS, WARNING, Refused, refuse
from portal.results import Result, device_label

TAG_SHOWN = 40  # characters of a typed tag a sentence repeats


def panel_context(request: HttpRequest, uid: str, device_name: str, **extra: object) -> dict:
    """The tags panel of a device's page (no upstream read: the portal's own records)."""
    token = tags.token_of(request.user)
    return {
        "uid": uid,
        "device_name": device_name,
        "tags": tags.of_device(token, uid),
        "fleet_tags": tags.names(token),
        "max_length": tags.MAX_LENGTH,
        **extra,
    }


def _name(request: HttpRequest, uid: str) -> str:
    source = request.POST if request.method == "POST" else request.GET
    return device_label(storable.shown(source.get("device_name", "")), uid)


@login_required
@require_GET
@requires("view_devices")
def device_tags(request: HttpRequest, uid: str) -> HttpResponse:
    """The panel alone (htmx, or its placeholder's link without JavaScript)."""
    context = panel_context(request, uid, _name(request, uid))
    template = "fleet/device_tags.html#panel" if request.htmx else "fleet/device_tags.html"
    return render(request, template, context)


def _what(name: str) -> str:
    """The tag in a sentence: “name”, or just "Tag" for a name that cannot be one."""
    shown = storable.shown(tags.normalise(name))
    if not shown or tags.problem(shown):
        return "Tag"
    return f"Tag “{shown[:TAG_SHOWN]}”"


def _device_write(request: HttpRequest, uid: str, action: str) -> HttpResponse:
    name = request.POST.get("tag", "")
    token = tags.token_of(request.user)
    write = tags.add if action == tags.ADD else tags.remove
    outcome = write(
        request, token, uid, name, device_check=lambda: client_for(request.user).get_device(uid)
    )
    device = _name(request, uid)
    done, to = ("added", "to") if action == tags.ADD else ("removed", "from")
    result = results.of(outcome, _what(name), device, done=done, to=to, quote=not outcome.ok)
    if not request.htmx:
        result.flash(request)
        return redirect("devices:detail", uid=uid)
    typed = "" if outcome.ok or action == tags.REMOVE else storable.shown(name)[:1000]
    errors = outcome.field_errors("tag") if action == tags.ADD and not outcome.ok else []
    context = panel_context(request, uid, device, result=result, typed=typed, errors=errors)
    return render(request, "fleet/device_tags.html#panel", context)


@login_required
@require_POST
@requires("manage_tags", action=tags.ADD)
def tag_add(request: HttpRequest, uid: str) -> HttpResponse:
    return _device_write(request, uid, tags.ADD)


@login_required
@require_POST
@requires("manage_tags", action=tags.REMOVE)
def tag_remove(request: HttpRequest, uid: str) -> HttpResponse:
    return _device_write(request, uid, tags.REMOVE)


@login_required
@require_GET
@requires("view_devices")
def tag_list(request: HttpRequest) -> HttpResponse:
    """The fleet's tags, each with its number of devices and a link to the table of them."""
    token = tags.token_of(request.user)
    listed = [
        (name, count, f"{reverse('devices:list')}?{QueryDict.fromkeys(['tag'], name).urlencode()}")
        for name, count in tags.of_fleet(token)
    ]
    return render(request, "fleet/tags.html", {"tags": listed, "has_token": token is not None})


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the device table as it was (only its query is taken from the form)."""
    shown = request.POST.get("next", "")
    query = QueryDict(shown[1:] if shown.startswith("?") else "").urlencode()
    return redirect(reverse("devices:list") + (f"?{query}" if query else ""))


@login_required
@require_POST
@requires("manage_tags", action=tags.ADD)
def selection_tag_add(request: HttpRequest) -> HttpResponse:
    return _selection_write(request, tags.ADD)


@login_required
@require_POST
@requires("manage_tags", action=tags.REMOVE)
def selection_tag_remove(request: HttpRequest) -> HttpResponse:
    return _selection_write(request, tags.REMOVE)


def _selection_write(request: HttpRequest, action: str) -> HttpResponse:
    """Add or remove a tag on every selected device: one audit row per device.

    The devices' names for the rows come from one read of the fleet; a selected device the
    fleet no longer has is refused (its own row), never tagged.
    """
    token = tags.token_of(request.user)
    chosen = selection.get(request, token.pk if token else None)
    name = request.POST.get("tag", "")
    found = "Select at least one device first." if not chosen else None
    found = found or tags.problem(storable.shown(tags.normalise(name)))
    if found or token is None:
        # Nothing can be written to any device: one row for the attempt, not one per device.
        refuse(request, action, found or "No API token is mapped to your account.")
        Result("error", f"{_what(name)} not {_verb(action)}: {found}").flash(request)
        return _back(request)
    try:
        names = {d.uid: d.name for d in client_for(request.user).list_devices()}
    except IoTError as error:
        refuse(request, action, error.message, sent={"tag": tags.normalise(name)})
        Result("error", f"{_what(name)} not {_verb(action)}: {error.message}").flash(request)
        return _back(request)
    tally = {SUCCESS: 0, WARNING: 0, "other": 0}
    last = ""
    write = tags.add if action == tags.ADD else tags.remove
    for uid in chosen:
        outcome = write(
            request, token, uid, name,
            device_name=device_label(names.get(uid), uid) if uid in names else uid,
            device_check=lambda uid=uid: _known(names, uid),
        )  # fmt: skip
        if getattr(request, "form_key_refusal", None):
            return _back(request)  # sent twice: refused once, with its message; nothing done
        tally[outcome.level if outcome.level in tally else "other"] += 1
        if not outcome.ok and outcome.level != WARNING:
            last = outcome.message
    _summary(action, name, tally, last).flash(request)
    return _back(request)


def _verb(action: str) -> str:
    return "added" if action == tags.ADD else "removed"


def _known(names: dict[str, object], uid: str) -> None:
    if uid not in names:
        raise Refused("This device is no longer in the fleet.")


def _summary(action: str, name: str, tally: dict[str, int], last: str) -> Result:
    """The selection's result in one sentence: how many changed, unchanged, refused."""
    verb, to = _verb(action), ("to" if action == tags.ADD else "from")
    done = tally[SUCCESS]
    parts = [f"{_what(name)} {verb} {to} {done} device{'' if done == 1 else 's'}"]
    if tally[WARNING]:
        already = "already had it" if action == tags.ADD else "did not have it"
        parts.append(f"{tally[WARNING]} {already}")
    if tally["other"]:
        parts.append(f"{tally['other']} not changed ({last})")
    level = SUCCESS if not tally["other"] else "error" if not done else WARNING
    return Result(level, "; ".join(parts).rstrip(".") + ".")

"""A page sent in parts: its head at once, the rest as it is drawn once its reads are done.

A device's page waits about one upstream round trip for its reads. Sent whole at the end, the
browser starts on it only then: it commits the navigation, parses the head and loads the
style sheets and scripts (from its cache) after the wait, not during it, which cost a third of
the page's time. Sent in parts, the head (the document up to its `<title>`: the same bytes
for every outcome) leaves before the reads have answered, and the browser does its part while
the portal waits; then each part of the rest as soon as it is drawn (a device's page sends
its top before it draws its panels), so the browser parses one while the next is drawn.

The price is that the status and the headers are decided before the reads answer. So only a
page whose answer is known to be 200 is streamed (a device's page for a uid the portal has
seen: portal/iot/known.py); whatever the reads then say (an upstream error, a device removed
since) is drawn as the page's content, as the page drawn whole would draw it. Whatever has to
happen before the headers leave happens in `page()`, before it returns: the CSRF token is made
(its cookie goes with the headers) and the messages are taken (they are cleared by the
middleware as the response leaves), and the rest is drawn in the request's own context (its
log lines keep the request's id, its time zone stays).

A proxy in front must pass the parts on as they come: the page says so to nginx
(`X-Accel-Buffering: no`); Caddy does it for any answer without a length.

If drawing the rest fails (a bug), the error is logged and the page ends with the portal's
error message where it had got to: the 200 has left, but nothing is sent or lost.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.contrib import messages
from django.http import HttpRequest, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

logger = logging.getLogger("portal.request")

# Where a page whose rest could not be drawn ends: after its head, or within its body.
WHAT_FAILED = (
    '<div class="alert alert-error" role="alert"><p><strong>This page could not be drawn.'
    "</strong> The portal hit an error it did not expect; nothing was sent to a device. "
    '<a href="">Load the page again</a>, and tell an admin if it keeps happening.</p></div>'
)
FAILED_WITHIN = WHAT_FAILED + "</main></body></html>\n"
FAILED = (
    "<title>Something went wrong · IoT Device Portal</title></head>\n"
    '<body><main id="main">' + FAILED_WITHIN
)


class StreamedPage(StreamingHttpResponse):
    """A page in parts, which still has a `content` for whatever needs the whole body at once
    (the test client, a check of the page): reading it draws the rest then and keeps it."""

    @property
    def content(self) -> bytes:  # type: ignore[override]
        whole = b"".join(self.streaming_content)
        self.streaming_content = [whole]
        return whole

    @property
    def text(self) -> str:  # type: ignore[override]
        return self.content.decode(self.charset)


def page(
    request: HttpRequest, head: Sequence[str], rest: Callable[[], Iterable[str]]
) -> StreamedPage:
    """A page whose head is sent now and whose text `rest()` gives, in parts, afterwards.

    `head` names the partials (in order) whose drawing is how the page begins: what is sent
    at once. `rest()` runs once the head has left; the text it gives is the whole page, in
    as many parts as it likes (each is sent as it comes), and its first part begins with that
    head, which is left out (a page that does not begin so is a bug: logged, and ended with
    the error message)."""
    start = "".join(render_to_string(name, request=request) for name in head)
    get_token(request)  # its cookie leaves with the headers, not after them
    list(messages.get_messages(request))  # taken now, so they are cleared as the page leaves
    run = contextvars.copy_context().run

    def parts() -> Iterator[str]:
        yield start
        sent = False  # whether any of the body has left
        try:
            pieces = iter(run(rest))
            while (piece := run(next, pieces, None)) is not None:
                if not sent:
                    if not piece.startswith(start):
                        logger.error("%s does not begin with its head: %s", request.path, head)
                        yield FAILED
                        return
                    piece = piece[len(start) :]
                sent = True
                yield piece
        except Exception:
            logger.exception("the rest of %s could not be drawn", request.path)
            yield FAILED_WITHIN if sent else FAILED

    response = StreamedPage(parts(), content_type="text/html; charset=utf-8")
    # A proxy passes each part on as it comes: nginx when told so (Caddy does by itself for
    # an answer without a Content-Length).
    response["X-Accel-Buffering"] = "no"
    return response

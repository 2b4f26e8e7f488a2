"""The one way to the upstream device API.

Every upstream call in the portal goes through an `IoTClient` built by `client_for(user)`.
The package has one concern per module, and this module is its whole public contract:

- `errors`: the few `IoTError` subclasses every failure becomes;
- `segments`: the strict patterns path segments are checked against before any call;
- `transport`: the HTTP calls, their timeouts, limits and status-code mapping; retries for
  reads only, never for writes;
- `cache`: the per-token read cache that stops a team sharing one token from multiplying
  upstream reads;
- `summaries`: the compact device list, decoded into typed structs;
- `parallel`: a bounded pool of threads on which a page starts reads ahead, so they overlap;
- `known`: the device uids each token is known to have, so reads are started ahead only for
  those (a uid the token does not have costs one read, not a page's worth);
- `client`: `IoTClient`, one method per endpoint, and `client_for`.

The token is held only by the transport, in a name-mangled attribute that no repr,
exception or log line includes.
"""

from portal.iot.cache import CACHE_ERRORS
from portal.iot.client import IoTClient, client_for
from portal.iot.errors import (
    InvalidIdentifier,
    IoTError,
    NotFound,
    NoToken,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TokenRejected,
    UpstreamUnavailable,
    level_of,
)
from portal.iot.segments import (
    BUTTON_ID_PATTERN,
    FIRMWARE_ID_PATTERN,
    FIRMWARE_TOO_LARGE,
    MAX_FIRMWARE_BYTES,
    MD5_PATTERN,
    UID_PATTERN,
    check_uid,
)
from portal.iot.summaries import DeviceSummary, Named, device_list_body
from portal.iot.transport import probe_upstream

__all__ = [
    "BUTTON_ID_PATTERN",
    "CACHE_ERRORS",
    "FIRMWARE_ID_PATTERN",
    "FIRMWARE_TOO_LARGE",
    "MAX_FIRMWARE_BYTES",
    "MD5_PATTERN",
    "UID_PATTERN",
    "DeviceSummary",
    "InvalidIdentifier",
    "IoTClient",
    "IoTError",
    "Named",
    "NoToken",
    "NotFound",
    "OutcomeUnknown",
    "RateLimited",
    "Rejected",
    "TokenRejected",
    "UpstreamUnavailable",
    "check_uid",
    "client_for",
    "device_list_body",
    "level_of",
    "probe_upstream",
]

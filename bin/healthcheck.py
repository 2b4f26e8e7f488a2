#!/usr/bin/env python3
"""The image's HEALTHCHECK: exit 0 when this instance's /healthz answers 200, else 1.

Python's standard library only (the image has no curl). It asks the port gunicorn binds
(PORTAL_BIND, default 0.0.0.0:8000) on loopback.
"""

import os
import sys
import urllib.request


def main() -> int:
    bind = os.environ.get("PORTAL_BIND", "0.0.0.0:8000")
    port = bind.rsplit(":", 1)[-1] if ":" in bind else "8000"
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"healthcheck: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

// The portal's own behaviour. No inline scripts anywhere (strict CSP): everything lives here.
(function () {
  "use strict";

  // Tell the server the viewer's time zone, so times are shown in it.
  try {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && !document.cookie.split("; ").includes("portal_tz=" + tz)) {
      document.cookie = "portal_tz=" + tz + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) {
    /* no time zone: server time it is */
  }
})();

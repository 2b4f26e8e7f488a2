// Device pages: inline editing keys, live JSON checks, polite polling, focus after swaps.
// No inline scripts anywhere (strict CSP): the templates only carry data- attributes.
(function () {
  "use strict";

  // Inline editing: Escape cancels (back to the shown value), Enter saves. In the
  // description's textarea Shift+Enter still makes a new line.
  document.addEventListener("keydown", function (event) {
    const form = event.target.closest && event.target.closest("form.inline-edit");
    if (!form) return;
    if (event.key === "Escape") {
      const cancel = form.querySelector("[data-inline-cancel]");
      if (cancel) {
        event.preventDefault();
        cancel.click();
      }
    } else if (event.key === "Enter" && !event.shiftKey && event.target.matches("[data-enter-submits]")) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // JSON payloads: say what is wrong, and where (line and column), while the user types.
  // The same scanner and sentences as the server's (portal/payloads.py): the engine's own
  // messages differ between browsers, and some ("Unexpected token") say nowhere. The server
  // checks again (it has the last word); this only saves a round trip.
  const SENTENCES = {
    "value": "A value is expected here: text in double quotes, a number, true, false, null, an object or an array.",
    "end-value": "The JSON ends where a value should be.",
    "end-object": 'The JSON ends before the closing "}" of an object.',
    "end-array": 'The JSON ends before the closing "]" of a list.',
    "word": 'The word {word} is not a JSON value: put text in double quotes, like "{word}" (true, false and null are written without quotes).',
    "single": "Text must be in double quotes (\"), not single quotes (').",
    "bare-key": 'A key must be in double quotes, like "{word}".',
    "key": 'A key in double quotes is expected here, like "relay".',
    "trailing-object": 'There is a comma too many before the closing "}".',
    "trailing-array": 'There is a comma too many before the closing "]".',
    "colon": "A colon (:) is expected after the key.",
    "comma-object": 'A comma (,) or the closing "}" is expected after the value.',
    "comma-array": 'A comma (,) or the closing "]" is expected after the item.',
    "extra": "There is more text after the end of the JSON: remove it, or put it inside the braces.",
    "unterminated": 'This text has no closing double quote (").',
    "control": "A line break or a tab inside text must be written as \\n or \\t.",
    "escape": "A backslash in text must start an escape like \\n, \\t, \\\" or \\u00e9; write \\\\ for a backslash itself.",
    "unicode": "A \\u escape needs four hexadecimal digits, like \\u00e9.",
    "number": "This number is not written as JSON allows (like 12, -3.5 or 2e6).",
    "constant": '{word} is not a number JSON allows; send it as a string, like "{word}".',
  };
  const SPACE = " \t\n\r";
  const DIGITS = "0123456789";
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const WORD = /[A-Za-z_$][A-Za-z0-9_$]*/y;
  const HEX4 = /^[0-9A-Fa-f]{4}$/;
  const CLOSE = { "{": "}", "[": "]" };
  const KIND = { "{": "object", "[": "array" };

  function say(kind, word) {
    return SENTENCES[kind].split("{word}").join(word || "");
  }

  function sticky(pattern, text, at) {
    pattern.lastIndex = at;
    const found = pattern.exec(text);
    return found ? found[0] : null;
  }

  function scanString(text, start) {
    let i = start + 1;
    const n = text.length;
    while (i < n) {
      const c = text[i];
      if (c === '"') return i + 1;
      if (c === "\\") {
        const after = text.slice(i + 1, i + 2);
        if (!after) break;
        if ('"\\/bfnrt'.includes(after)) i += 2;
        else if (after === "u" && HEX4.test(text.slice(i + 2, i + 6))) i += 6;
        else return [i, say(after === "u" ? "unicode" : "escape")];
      } else if (c < " ") {
        return [i, say("control")];
      } else {
        i += 1;
      }
    }
    return [start, say("unterminated")];
  }

  // The first thing wrong with `text` as JSON: [offset, sentence], or null. An explicit
  // stack, no recursion, whatever the nesting.
  function problem(text) {
    const stack = [];
    const n = text.length;
    let state = "value", comma = -1, i = 0;
    for (;;) {
      while (i < n && SPACE.includes(text[i])) i += 1;
      const c = i < n ? text[i] : "";
      const top = stack[stack.length - 1];
      if (state === "value" || state === "first-item") {
        if (c === "]" && top === "[" && (state === "first-item" || comma >= 0)) {
          if (state === "value") return [comma, say("trailing-array")];
          stack.pop(); i += 1; state = "after"; continue;
        }
        if (!c) return [i, say("end-value")];
        if (c === "{" || c === "[") {
          stack.push(c); i += 1; comma = -1;
          state = c === "{" ? "first-key" : "first-item";
          continue;
        }
        if (c === '"') {
          const found = scanString(text, i);
          if (Array.isArray(found)) return found;
          i = found; state = "after"; continue;
        }
        if (c === "-" || DIGITS.includes(c)) {
          if (text.startsWith("-Infinity", i)) return [i, say("constant", "-Infinity")];
          const number = sticky(NUMBER, text, i);
          const end = number ? i + number.length : i;
          if (!number || (end < n && (".eE" + DIGITS).includes(text[end]))) return [i, say("number")];
          i = end; state = "after"; continue;
        }
        const word = sticky(WORD, text, i);
        if (word === "true" || word === "false" || word === "null") {
          i += word.length; state = "after"; continue;
        }
        if (word === "NaN" || word === "Infinity") return [i, say("constant", word)];
        if (word) return [i, say("word", word)];
        return [i, say(c === "'" ? "single" : "value")];
      }
      if (state === "first-key" || state === "key") {
        if (c === "}") {
          if (state === "key") return [comma, say("trailing-object")];
          stack.pop(); i += 1; state = "after"; continue;
        }
        if (c === '"') {
          const found = scanString(text, i);
          if (Array.isArray(found)) return found;
          i = found; state = "colon"; continue;
        }
        const word = sticky(WORD, text, i);
        if (!c) return [i, say("end-object")];
        if (word) return [i, say("bare-key", word)];
        return [i, say(c === "'" ? "single" : "key")];
      }
      if (state === "colon") {
        if (c !== ":") return [i, say(c ? "colon" : "end-object")];
        i += 1; state = "value"; comma = -1; continue;
      }
      // after a value
      if (!stack.length) return c ? [i, say("extra")] : null;
      if (!c) return [i, say("end-" + KIND[top])];
      if (c === ",") {
        comma = i; i += 1; state = top === "{" ? "key" : "value"; continue;
      }
      if (c === CLOSE[top]) {
        stack.pop(); i += 1; state = "after"; continue;
      }
      return [i, say("comma-" + KIND[top])];
    }
  }

  // Line and column from 1, in characters (not UTF-16 units), as the server counts them.
  function position(text, offset) {
    const before = text.slice(0, offset);
    const lineStart = before.lastIndexOf("\n") + 1;
    return [before.split("\n").length, Array.from(before.slice(lineStart)).length + 1];
  }

  // What is wrong with a payload, in the server's words, or "" when it may be sent.
  function check(text, maxBytes) {
    const size = new TextEncoder().encode(text).length;
    if (size > maxBytes) {
      return "The payload is " + size.toLocaleString("en") + " bytes; at most 8 KB (" +
        maxBytes.toLocaleString("en") + " bytes) can be sent.";
    }
    if (!text.trim()) return "";
    const found = problem(text);
    if (found) {
      const [line, column] = position(text, found[0]);
      return "Line " + line + ", column " + column + ": " + found[1];
    }
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return 'The payload must be a JSON object, like {"relay": "on"}.';
    }
    return "";
  }
  window.PortalPayload = { problem: problem, position: position, check: check };

  function checkPayload(area) {
    const hint = document.getElementById(area.id + "_hint");
    const problemText = check(area.value, Number(area.dataset.maxBytes || 8192));
    area.setAttribute("aria-invalid", problemText ? "true" : "false");
    if (hint) {
      if (!hint.dataset.original) hint.dataset.original = hint.textContent;
      hint.textContent = problemText || hint.dataset.original;
      hint.classList.toggle("field-error", Boolean(problemText));
    }
  }

  let timer = null;
  document.addEventListener("input", function (event) {
    const area = event.target;
    if (!area.matches || !area.matches("textarea[data-json-object]")) return;
    clearTimeout(timer);
    timer = setTimeout(function () { checkPayload(area); }, 300);
  });

  // Polling: nobody reads a hidden tab, so it does not ask the upstream for anything.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-poll")) {
      event.preventDefault();
    }
  });

  // A panel that cannot load says so in its place; the rest of the page carries on.
  function panelFailed(event) {
    const elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-panel")) return;
    elt.removeAttribute("aria-busy");
    const note = elt.querySelector("p") || elt.appendChild(document.createElement("p"));
    note.className = "alert alert-error";
    note.setAttribute("role", "alert");
    note.textContent = "The " + elt.dataset.panel.toLowerCase() + " panel could not be loaded. Reload the page to try again.";
  }
  document.addEventListener("htmx:responseError", panelFailed);
  document.addEventListener("htmx:sendError", panelFailed);
  document.addEventListener("htmx:beforeSwap", function (event) {
    // A 5xx page must not be swapped into a panel.
    if (event.detail.xhr.status >= 500) {
      event.detail.shouldSwap = false;
      panelFailed(event);
    }
  });

  // Focus after a swap: if the focused element went away with the old content, put focus
  // somewhere sensible in the new content instead of dropping it to <body>. A panel that
  // loads while the user is elsewhere never takes the focus.
  let focusedBeforeSwap = null;
  document.addEventListener("htmx:beforeSwap", function () {
    focusedBeforeSwap = document.activeElement;
  });
  // The selection's "Actions" disclosure (a phone's): a box ticked while it is open redraws
  // the table and its bar; the new bar's disclosure stays open.
  let actionsOpen = false;
  document.addEventListener("htmx:beforeSwap", function () {
    const actions = document.getElementById("selection-actions");
    actionsOpen = Boolean(actions && actions.open);
  });
  document.addEventListener("htmx:afterSwap", function () {
    const actions = document.getElementById("selection-actions");
    if (actions && actionsOpen) actions.open = true;
    actionsOpen = false;
  });
  // The device list: a click on a heading sorts the new table; the filter form's Sort by
  // menu (a phone's sort control) follows it, so the next search keeps that sort.
  document.addEventListener("htmx:afterSwap", function () {
    const table = document.getElementById("device-table");
    const menu = document.getElementById("id_sort");
    if (table && menu && table.dataset.sort && menu.value !== table.dataset.sort) {
      menu.value = table.dataset.sort;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    const lost = focusedBeforeSwap;
    focusedBeforeSwap = null;
    if (!lost || lost === document.body || document.contains(lost)) return;
    const active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    let target = event.detail.target;
    // An outerHTML swap replaced the target itself: find its successor by id.
    if (target && !document.contains(target) && target.id) target = document.getElementById(target.id);
    if (!target || !document.contains(target)) return;
    const next =
      target.querySelector("[autofocus]") ||
      target.querySelector(".inline-value") ||
      target.querySelector("[role=alert]") ||
      target.querySelector("h2[tabindex]");
    if (!next) return;
    if (next.matches("[role=alert]") && !next.hasAttribute("tabindex")) next.setAttribute("tabindex", "-1");
    next.focus();
  });

  // A rename: the page names the device by its new name from now on, everywhere. The server
  // sends the event (HX-Trigger "device-renamed") with the answer to the rename; every
  // [data-device-name] of that device shows the new name, the forms carry it (their results
  // and audit rows name the device as it is called now), and each confirmation asks with it
  // (data-confirm-template keeps {name} where the device goes; other braces are doubled).
  function fill(template, name) {
    return template.replace(/\{\{|\}\}|\{name\}/g, function (m) {
      return m === "{name}" ? name : m.charAt(0);
    });
  }
  document.body.addEventListener("device-renamed", function (event) {
    const uid = event.detail && event.detail.uid;
    const name = event.detail && event.detail.name;
    if (!uid || typeof name !== "string") return;
    document.querySelectorAll("[data-device-name]").forEach(function (element) {
      if (element.getAttribute("data-device-uid") === uid) element.textContent = name;
    });
    document.querySelectorAll("input[name=device_name]").forEach(function (input) {
      input.value = name;
    });
    document.querySelectorAll("[data-confirm-template]").forEach(function (element) {
      element.setAttribute("hx-confirm", fill(element.getAttribute("data-confirm-template"), name));
    });
    // The panels that load later (or again) ask for the new name too.
    document.querySelectorAll("[data-panel][hx-get]").forEach(function (panel) {
      const url = new URL(panel.getAttribute("hx-get"), location.href);
      if (url.searchParams.has("device_name")) {
        url.searchParams.set("device_name", name);
        panel.setAttribute("hx-get", url.pathname + url.search);
      }
    });
  });

  // A target firmware set (in the firmware panel): the update can start now, so the hints
  // that say to assign one first go.
  document.body.addEventListener("device-target-set", function () {
    document.querySelectorAll("[data-needs-target]").forEach(function (hint) {
      const button = hint.id && document.querySelector('[aria-describedby="' + hint.id + '"]');
      if (button) button.removeAttribute("aria-describedby");
      hint.remove();
    });
  });
})();

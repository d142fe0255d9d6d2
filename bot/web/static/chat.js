/* The web chat page: send what the young person types or presses, show the engine's replies,
   poll for counsellors' messages while the tab is visible. No framework, no storage: the
   conversation lives only in this page. Reply HTML is sanitised by the server before it comes
   here; everything else is inserted as text. A crisis answer's helplines come first, as big
   tap-to-call buttons; every refusal shows the 24-hour helplines. The quick exit (the button,
   Esc, or typing exit / toka / /exit) stops everything, tells the server, and replaces this page
   in the history with a neutral one. Counsellors' messages are acknowledged by id on the next
   poll (the desk then sees them delivered) and each id is shown once. After /delete the server
   starts a new chat: the page forgets the old one and takes the new chat's CSRF token. */
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.getAttribute("data-csrf");
  var texts = JSON.parse(body.getAttribute("data-text"));
  var helplines = JSON.parse(body.getAttribute("data-calls") || "{}");
  var exitUrl = body.getAttribute("data-exit") || "";
  var lang = document.documentElement.lang === "sw" ? "sw" : "en";
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("text");
  var shown = {}; // outbox ids this page has shown
  var acks = []; // ... and not yet acknowledged
  var polling = false;
  var left = false;
  var queue = Promise.resolve();
  var timer = null;

  if (!/^https?:\/\//i.test(exitUrl)) exitUrl = "about:blank";

  function t(key) {
    return texts[lang][key];
  }

  function setLanguage(code) {
    if (!texts[code]) return;
    lang = code;
    document.documentElement.lang = code;
    document.title = t("chat_title");
    each("[data-t]", function (el) { el.textContent = t(el.getAttribute("data-t")); });
    each("[data-t-placeholder]", function (el) {
      var words = t(el.getAttribute("data-t-placeholder"));
      el.setAttribute("placeholder", words);
      el.setAttribute("aria-label", words);
    });
  }

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function add(kind, text) {
    var el = document.createElement("div");
    el.className = "msg " + kind;
    if (text) el.textContent = text;
    log.appendChild(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }

  function key(parent, label, onPress, kind) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    if (kind) button.className = kind;
    button.addEventListener("click", onPress);
    parent.appendChild(button);
  }

  function callButtons(calls) {
    // Big tap-to-call buttons: the helpline's name and its number (digits only, from the server).
    var box = document.createElement("div");
    box.className = "calls";
    (calls || []).forEach(function (c) {
      var number = String(c.number || "");
      if (!/^[0-9]{2,15}$/.test(number)) return;
      var link = document.createElement("a");
      link.className = "call";
      link.href = "tel:" + number;
      link.setAttribute("aria-label", t("chat_call") + " " + c.label + ", " + number);
      var name = document.createElement("span");
      name.textContent = c.label;
      var digits = document.createElement("span");
      digits.className = "num";
      digits.textContent = number;
      link.appendChild(name);
      link.appendChild(digits);
      box.appendChild(link);
    });
    return box.childNodes.length ? box : null;
  }

  function show(reply) {
    var el = add("bot");
    var calls = callButtons(reply.calls);
    if (calls) el.appendChild(calls); // a crisis answer: the helplines before anything else
    var text = document.createElement("div");
    text.className = "text";
    text.innerHTML = reply.html; // sanitised on the server: b, i, u, s, code, pre, blockquote, a
    el.appendChild(text);
    var rows = reply.buttons || [];
    if (!rows.length && !reply.location) return el;
    var keys = document.createElement("div");
    keys.className = "keys";
    if (reply.location) key(keys, reply.location, locate, "loc");
    rows.forEach(function (row) {
      row.forEach(function (b) {
        key(keys, b.label, function () { press(b); });
      });
    });
    el.appendChild(keys);
    return el;
  }

  function note(message, calls) {
    var el = add("note", message);
    var buttons = callButtons(calls);
    if (buttons) el.appendChild(buttons);
    return el;
  }

  function handle(data, asked) {
    if (left) return;
    if (data.clear) {
      quickExit(); // the server took this for a quick exit: leave as the button does
      return;
    }
    if (data.renewed && typeof data.csrf === "string") {
      // /delete: the old chat ended on the server; forget it here too and carry on as a new one
      csrf = data.csrf;
      log.textContent = "";
      shown = {};
      acks = [];
    }
    var first = asked && asked.parentNode === log ? asked : null;
    (data.replies || []).forEach(function (reply) {
      if (typeof reply.id === "number") {
        if (shown[reply.id]) return; // shown already, its acknowledgement on its way
        shown[reply.id] = true;
        acks.push(reply.id);
      }
      var el = show(reply);
      first = first || el;
    });
    if (first) reveal(first);
  }

  function refused(error, asked) {
    // A refusal: a crisis's safety answer first, then what went wrong, with the helplines.
    if (left) return;
    var data = error.data || {};
    var first = asked && asked.parentNode === log ? asked : null;
    (data.replies || []).forEach(function (reply) {
      var el = show(reply);
      first = first || el;
    });
    var answered = data.replies && data.replies.length;
    var own = helplines[lang] && helplines[lang].length ? helplines[lang] : data.calls;
    var el = note(error.message, answered ? [] : own);
    reveal(first || el);
  }

  function reveal(el) {
    // The question and the start of a long answer, rather than its end.
    log.scrollTop = Math.min(el.offsetTop - 8, log.scrollHeight - log.clientHeight);
  }

  function failure(message, data) {
    var error = new Error(message);
    error.data = data || {};
    return error;
  }

  function call(url, options) {
    options.credentials = "same-origin";
    options.headers = options.headers || {};
    options.headers["X-CSRF-Token"] = csrf;
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        var said = data.errors && data.errors[lang];
        throw failure(said || t(response.status === 403 ? "chat_expired" : "chat_offline"), data);
      });
    }, function () {
      throw failure(t("chat_offline"));
    });
  }

  function send(data, echo) {
    if (left) return;
    var asked = echo ? add("me", echo) : null;
    queue = queue.then(function () {
      if (left) return null;
      var typing = add("bot typing", "\u2022\u2022\u2022");
      return call("/chat/send", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(data)
      }).then(function (answer) {
        typing.remove();
        handle(answer, asked);
      }, function (error) {
        typing.remove();
        refused(error, asked);
      });
    });
  }

  function press(button) {
    if (button.payload.indexOf("lang:") === 0) setLanguage(button.payload.slice(5));
    send({ payload: button.payload }, button.label);
  }

  function locate() {
    if (!navigator.geolocation) {
      note(t("chat_location_failed"));
      return;
    }
    navigator.geolocation.getCurrentPosition(function (where) {
      send({ latitude: where.coords.latitude, longitude: where.coords.longitude }, "\uD83D\uDCCD");
    }, function () {
      note(t("chat_location_failed"));
    }, { timeout: 20000, maximumAge: 60000 });
  }

  function poll() {
    if (left || polling || document.visibilityState === "hidden") return;
    polling = true;
    var sent = acks.slice(0, 50);
    call("/chat/poll?ack=" + sent.join(","), { method: "GET" }).then(function (data) {
      acks = acks.filter(function (id) { return sent.indexOf(id) < 0; });
      handle(data);
    }, function () {}).then(function () { polling = false; });
  }

  function isExit(text) {
    // The engine's quick-exit words alone: exit, toka, /exit (any case, stray punctuation).
    var word = text.toLowerCase().replace(/[\s.,;:!?'"()\u00a1\u00bf-]+/g, "");
    return word === "exit" || word === "toka" || word === "/exit";
  }

  function quickExit() {
    // Stop, forget, tell the server (the case is marked left, the cookie expired), and leave:
    // location.replace, so the back button does not come back to this page.
    if (left) return;
    left = true;
    clearInterval(timer);
    document.removeEventListener("visibilitychange", poll);
    log.textContent = "";
    input.value = "";
    try {
      fetch("/chat/exit", {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: { "X-CSRF-Token": csrf }
      }).catch(function () {});
    } catch (ignored) {
      // an old browser without keepalive: leave all the same
    }
    location.replace(exitUrl);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    if (isExit(text)) {
      quickExit();
      return;
    }
    send({ text: text }, text);
  });

  document.getElementById("exit").addEventListener("click", quickExit);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Esc") {
      event.preventDefault();
      quickExit();
    }
  });

  document.addEventListener("visibilitychange", poll);
  timer = setInterval(poll, 3000);
  send({ command: "start" });
})();

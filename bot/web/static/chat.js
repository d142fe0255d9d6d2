/* The web chat page: send what the young person types or presses, show the engine's replies,
   poll for counsellors' messages while the tab is visible. No framework, no storage: the
   conversation lives only in this page. Reply HTML is sanitised by the server before it comes
   here; everything else is inserted as text. */
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.getAttribute("data-csrf");
  var texts = JSON.parse(body.getAttribute("data-text"));
  var lang = document.documentElement.lang === "sw" ? "sw" : "en";
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("text");
  var after = 0;
  var polling = false;
  var queue = Promise.resolve();

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

  function show(reply) {
    var el = add("bot");
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

  function handle(data, asked) {
    if (data.clear) log.textContent = "";
    var first = asked && asked.parentNode === log ? asked : null;
    (data.replies || []).forEach(function (reply) {
      var el = show(reply);
      first = first || el;
    });
    if (first) reveal(first);
    if (typeof data.after === "number" && data.after > after) after = data.after;
  }

  function reveal(el) {
    // The question and the start of a long answer, rather than its end.
    log.scrollTop = Math.min(el.offsetTop - 8, log.scrollHeight - log.clientHeight);
  }

  function call(url, options) {
    options.credentials = "same-origin";
    options.headers = options.headers || {};
    options.headers["X-CSRF-Token"] = csrf;
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        var said = data.errors && data.errors[lang];
        throw new Error(said || t(response.status === 403 ? "chat_expired" : "chat_offline"));
      });
    }, function () {
      throw new Error(t("chat_offline"));
    });
  }

  function send(data, echo) {
    var asked = echo ? add("me", echo) : null;
    data.after = after;
    queue = queue.then(function () {
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
        add("note", error.message);
      });
    });
  }

  function press(button) {
    if (button.payload.indexOf("lang:") === 0) setLanguage(button.payload.slice(5));
    send({ payload: button.payload }, button.label);
  }

  function locate() {
    if (!navigator.geolocation) {
      add("note", t("chat_location_failed"));
      return;
    }
    navigator.geolocation.getCurrentPosition(function (where) {
      send({ latitude: where.coords.latitude, longitude: where.coords.longitude }, "\uD83D\uDCCD");
    }, function () {
      add("note", t("chat_location_failed"));
    }, { timeout: 20000, maximumAge: 60000 });
  }

  function poll() {
    if (polling || document.visibilityState === "hidden") return;
    polling = true;
    call("/chat/poll?after=" + after, { method: "GET" }).then(handle, function () {})
      .then(function () { polling = false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text: text }, text);
  });

  document.getElementById("exit").addEventListener("click", function () {
    log.textContent = "";
    input.value = "";
    send({ command: "exit" });
  });

  document.addEventListener("visibilitychange", poll);
  setInterval(poll, 3000);
  send({ command: "start" });
})();

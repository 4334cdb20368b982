/* qbsync admin pages: a little plain JavaScript. Every page works without it; it adds the menu toggle,
   confirmations, select-all, reveal/copy of secrets and the live push progress bar. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* A POST from script: the CSRF token travels in the X-CSRF-Token header. */
  function post(url, fields) {
    var body = new URLSearchParams(fields || {});
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || ("the server answered " + response.status)); }
        return data;
      });
    });
  }

  function copyText(text, button) {
    function done() {
      if (!button) { return; }
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the text stays selected for a manual copy */ }
    document.body.removeChild(area);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("nav-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var open = document.body.classList.toggle("nav-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }

    /* Confirm destructive actions: <form data-confirm="..."> or <button data-confirm="...">. */
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var submitter = event.submitter;
      var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); }
    });

    /* Select-all checkbox for bulk actions. */
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        var name = box.getAttribute("data-select-all");
        var form = box.closest("form") || document;
        form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (each) {
          each.checked = box.checked;
        });
      });
    });

    /* Show only the credential fields of the chosen platform. */
    document.querySelectorAll("select[data-platform-switch]").forEach(function (select) {
      function apply() {
        document.querySelectorAll("[data-platform]").forEach(function (block) {
          block.hidden = block.getAttribute("data-platform") !== select.value;
        });
      }
      select.addEventListener("change", apply);
      apply();
    });

    /* Fill a field with a new random secret. */
    document.querySelectorAll("[data-generate-into]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.querySelector(button.getAttribute("data-generate-into"));
        var bytes = new Uint8Array(24);
        window.crypto.getRandomValues(bytes);
        var text = btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
        target.value = text;
        target.type = "text";
      });
    });

    /* Copy plain text from a field: <button data-copy="#field-id">. */
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        copyText(source.value !== undefined ? source.value : source.textContent, button);
      });
    });

    /* Secrets: fetched only when asked, then shown or copied. */
    var revealed = {};
    function fetchSecret(url, field) {
      if (revealed[field]) { return Promise.resolve(revealed[field]); }
      return post(url, { field: field }).then(function (data) { revealed[field] = data.value; return data.value; });
    }
    document.querySelectorAll("[data-reveal]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = button.getAttribute("data-reveal");
        var target = document.querySelector('[data-secret-for="' + field + '"]');
        if (button.getAttribute("data-shown") === "yes") {
          target.textContent = target.getAttribute("data-masked");
          button.setAttribute("data-shown", "no");
          button.textContent = "Show";
          return;
        }
        fetchSecret(button.getAttribute("data-url"), field).then(function (value) {
          target.setAttribute("data-masked", target.getAttribute("data-masked") || target.textContent);
          target.textContent = value;
          button.setAttribute("data-shown", "yes");
          button.textContent = "Hide";
        }, function (error) { window.alert("Could not show it: " + error.message); });
      });
    });
    document.querySelectorAll("[data-copy-secret]").forEach(function (button) {
      button.addEventListener("click", function () {
        fetchSecret(button.getAttribute("data-url"), button.getAttribute("data-copy-secret")).then(
          function (value) { copyText(value, button); },
          function (error) { window.alert("Could not copy it: " + error.message); });
      });
    });

    /* Live push progress: poll the JSON endpoint every second until the push has finished. */
    var meter = document.querySelector("[data-progress-url]");
    if (meter) {
      var url = meter.getAttribute("data-progress-url");
      var bar = meter.querySelector("progress");
      var tick = function () {
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (response) { return response.json(); })
          .then(function (data) {
            bar.value = data.percent;
            bar.textContent = data.percent + "%";
            meter.querySelectorAll("[data-field]").forEach(function (cell) {
              var value = data[cell.getAttribute("data-field")];
              cell.textContent = (value === null || value === undefined) ? "—" :
                (typeof value === "number" ? value.toLocaleString() : value);
            });
            meter.setAttribute("data-state", data.state);
            var state = meter.querySelector("[data-state-badge]");
            if (state) { state.textContent = data.state; state.className = "badge " + data.state; }
            var error = meter.querySelector("[data-error]");
            if (error) { error.hidden = !data.error; error.textContent = data.error || ""; }
            if (!data.finished) { setTimeout(tick, 1000); }
          })
          .catch(function () { setTimeout(tick, 3000); });
      };
      if (meter.getAttribute("data-finished") !== "yes") { setTimeout(tick, 1000); }
    }
  });
})();

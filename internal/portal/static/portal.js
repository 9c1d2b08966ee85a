// Gatehouse Admin Portal: copy buttons, pop-up messages to the host app,
// the Done button and test sign-in windows. No inline script anywhere: the
// CSP allows only this file.
(function () {
  "use strict";
  var body = document.body;
  var origin = body.getAttribute("data-opener-origin") || "*";

  function tell(event, detail) {
    if (window.opener && !window.opener.closed) {
      try { window.opener.postMessage({ source: "gatehouse-admin-portal", event: event, detail: detail || null }, origin); } catch (e) { /* opener gone */ }
    }
    if (window.parent && window.parent !== window) {
      try { window.parent.postMessage({ source: "gatehouse-admin-portal", event: event, detail: detail || null }, origin); } catch (e) { /* parent gone */ }
    }
  }

  if (body.getAttribute("data-event") === "success") {
    tell("success", { page: location.pathname });
  }

  // Copy buttons: data-copy names the element whose text to copy.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.getElementById(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = src.value !== undefined && src.tagName === "INPUT" ? src.value : src.textContent;
    var done = function () {
      var label = btn.textContent;
      btn.textContent = "Copied";
      btn.setAttribute("aria-live", "polite");
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.trim()).then(done, function () { fallback(text, done); });
    } else {
      fallback(text, done);
    }
  });

  function fallback(text, done) {
    var ta = document.createElement("textarea");
    ta.value = text.trim();
    ta.setAttribute("readonly", "");
    ta.className = "sr-only";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selectable */ }
    document.body.removeChild(ta);
  }

  // Done: a pop-up tells its opener and closes; an iframe tells its parent;
  // a full page goes to the host app's success or return URL.
  var doneBtn = document.querySelector("[data-action=done]");
  if (doneBtn) {
    doneBtn.addEventListener("click", function () {
      tell("close");
      if (window.opener && !window.opener.closed) { window.close(); return; }
      var to = body.getAttribute("data-success-url") || body.getAttribute("data-return-url");
      if (to) { location.href = to; }
    });
  }
  window.addEventListener("pagehide", function (ev) {
    if (!ev.persisted && window.opener && window.name === "gatehouse-admin-portal" && document.visibilityState === "hidden") {
      tell("close");
    }
  });

  // Test sign-in: open the IdP in a new window; when it reports back,
  // reload to show the result.
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest("[data-test-window]");
    if (!a) return;
    ev.preventDefault();
    var w = window.open(a.href, "gatehouse-sso-test", "width=520,height=720");
    if (!w) { location.href = a.href; return; }
    var timer = setInterval(function () {
      if (w.closed) { clearInterval(timer); location.reload(); }
    }, 500);
  });
  window.addEventListener("message", function (ev) {
    if (ev.origin !== location.origin || !ev.data || ev.data.source !== "gatehouse-sso-test") return;
    location.reload();
  });

  // A test-result page opened as a window tells the portal page that
  // opened it, which reloads to show the attempt; the window stays open
  // with the details until the admin closes it.
  var result = body.querySelector("[data-test-result]");
  if (result && window.opener && !window.opener.closed) {
    try {
      window.opener.postMessage({ source: "gatehouse-sso-test", result: result.getAttribute("data-test-result") }, location.origin);
    } catch (e) { /* the opener is gone */ }
  }
  var closeBtn = document.querySelector("[data-action=close-window]");
  if (closeBtn && window.opener) {
    closeBtn.hidden = false;
    closeBtn.addEventListener("click", function () { window.close(); });
  }

  // Confirm destructive actions.
  document.addEventListener("submit", function (ev) {
    var q = ev.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) ev.preventDefault();
  });
}());

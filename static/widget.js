/*! c2c click-to-call widget loader.
 * Embed: <script src="https://GATEWAY/widget.js" data-campaign="PUBLIC_ID" async></script>
 * Optional: data-language="en|es|de", data-position="bottom-right|bottom-left|top-right|top-left",
 * data-color="#0b6bcb", data-text-color="#ffffff", data-label="Call sales".
 * The wasm widget (GATEWAY/static/pkg/) loads after the page has loaded, when the browser is
 * idle, or at once when the page calls C2C.*. Its only global is window.C2C: until the widget is
 * there, C2C queues calls and replays them in order. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) {
    // Not set for some async/injected loads: find the last <script> whose src is widget.js.
    var all = document.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0 && !script; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(all[i].src)) script = all[i];
    }
  }
  if (!script || !script.src || window.C2C) return;
  var data = function (k) { return script.getAttribute("data-" + k) || ""; };
  var campaign = data("campaign");
  if (!campaign) {
    console.warn("c2c: the widget.js <script> has no data-campaign attribute");
    return;
  }
  var gateway = new URL(script.src, location.href).origin;
  var pkg = gateway + "/static/pkg/";
  var options = {
    language: data("language"),
    position: data("position"),
    color: data("color"),
    textColor: data("text-color"),
    label: data("label")
  };
  var started = false;

  function start() {
    if (started) return;
    started = true;
    import(pkg + "c2c_widget.js")
      .then(function (m) {
        return m.default({ module_or_path: pkg + "c2c_widget_bg.wasm" }).then(function () {
          m.mount(gateway, campaign, options);
        });
      })
      .catch(function (e) {
        console.warn("c2c: the call widget could not be loaded", e);
      });
  }

  // The stand-in C2C: calls are queued (and start the load); the widget replays them.
  var q = [];
  var stub = { q: q, state: "loading", reason: null };
  ["open", "close", "call", "hangup", "dtmf", "on", "off"].forEach(function (name) {
    stub[name] = function () {
      q.push([name, Array.prototype.slice.call(arguments)]);
      if (name !== "on" && name !== "off") start();
    };
  });
  stub.stats = function () { return Promise.resolve(null); };
  window.C2C = stub;

  function idle() {
    if (window.requestIdleCallback) window.requestIdleCallback(start, { timeout: 2000 });
    else setTimeout(start, 1);
  }
  if (document.readyState === "complete") idle();
  else window.addEventListener("load", idle);
})();

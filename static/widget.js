/*! c2c click-to-call widget loader.
 * Embed: <script src="https://GATEWAY/widget.js" data-campaign="PUBLIC_ID" async></script>
 * Loads the wasm widget from the same gateway (GATEWAY/static/pkg/) without blocking the page.
 * Its only global is window.C2C, defined by the widget once mounted. */
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
  if (!script || !script.src) return;
  var campaign = script.getAttribute("data-campaign");
  if (!campaign) {
    console.warn("c2c: the widget.js <script> has no data-campaign attribute");
    return;
  }
  var gateway = new URL(script.src, location.href).origin;
  var pkg = gateway + "/static/pkg/";

  function start() {
    import(pkg + "c2c_widget.js")
      .then(function (m) {
        return m.default({ module_or_path: pkg + "c2c_widget_bg.wasm" }).then(function () {
          m.mount(gateway, campaign);
        });
      })
      .catch(function (e) {
        console.warn("c2c: the call widget could not be loaded", e);
      });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();

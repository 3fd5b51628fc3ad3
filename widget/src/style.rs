//! The widget's stylesheet, scoped to its shadow root: nothing leaks into the host page and the
//! page's CSS does not reach in (`all: initial` on the host resets inherited properties).
//!
//! It is installed as a constructed stylesheet where the browser has them, which a page's
//! Content-Security-Policy `style-src` does not govern; only older browsers get a `<style>`.
//! Dark colours follow `prefers-color-scheme`; `prefers-reduced-motion` turns off the pulse.

/// The stylesheet.
pub(crate) const CSS: &str = "\
:host{all:initial;position:fixed;z-index:2147483000;bottom:20px;right:20px;\
--c2c-color:#0b6bcb;--c2c-on-color:#fff;--c2c-bg:#fff;--c2c-fg:#1d2430;--c2c-muted:#55606e;\
--c2c-line:#d5dae1;--c2c-err:#b3261e;\
font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--c2c-fg)}\
@media (prefers-color-scheme:dark){:host{--c2c-bg:#1f242b;--c2c-fg:#eef1f5;--c2c-muted:#b4bcc7;\
--c2c-line:#434b56;--c2c-err:#ffb4ab}}\
:host([data-position=bottom-left]){right:auto;left:20px}\
:host([data-position=top-right]){bottom:auto;top:20px}\
:host([data-position=top-left]){bottom:auto;top:20px;right:auto;left:20px}\
.panel{display:flex;flex-direction:column;align-items:flex-end;gap:8px}\
:host([data-position^=top]) .panel{flex-direction:column-reverse}\
:host([data-position$=left]) .panel{align-items:flex-start}\
.card{background:var(--c2c-bg);border-radius:12px;padding:14px 16px;width:280px;\
max-width:calc(100vw - 72px);box-shadow:0 4px 24px rgba(0,0,0,.22)}\
.head{display:flex;justify-content:space-between;align-items:center;gap:8px}\
h2{font-size:16px;margin:0}\
p{margin:8px 0}\
.row{display:flex;align-items:center;gap:8px;margin:8px 0}\
[data-c2c=timer]{font-variant-numeric:tabular-nums;font-weight:600;min-width:4ch}\
[data-c2c=meter]{flex:1;height:8px;border-radius:4px;background:var(--c2c-line);overflow:hidden}\
.fill{height:100%;width:0;background:#2e7d32}\
.keys{display:grid;grid-template-columns:repeat(3,1fr);gap:6px}\
button{font:inherit;font-weight:600;border:0;border-radius:999px;padding:12px 22px;\
cursor:pointer;color:var(--c2c-on-color);background:var(--c2c-color);\
box-shadow:0 2px 12px rgba(0,0,0,.25)}\
button:hover{filter:brightness(1.08)}\
button:focus-visible,input:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}\
.card button{box-shadow:none;padding:8px 14px}\
.card .plain{background:transparent;color:var(--c2c-fg);border:1px solid var(--c2c-line)}\
.card [aria-pressed=true]{background:var(--c2c-fg);color:var(--c2c-bg)}\
[data-c2c=close]{padding:2px 10px;font-size:18px;line-height:1}\
[data-c2c=hangup]{background:#c62828;color:#fff}\
[data-state=ringing]::before{content:'';display:inline-block;width:8px;height:8px;margin-right:6px;\
border-radius:50%;background:var(--c2c-color);animation:c2c-pulse 1s ease-in-out infinite alternate}\
@keyframes c2c-pulse{from{opacity:.25}to{opacity:1}}\
@media (prefers-reduced-motion:reduce){*,::before{animation:none!important;transition:none!important}}\
label{display:block;font-weight:600;margin-top:8px}\
input[type=tel],input[type=text]{box-sizing:border-box;width:100%;font:inherit;padding:8px;\
margin-top:4px;border:1px solid var(--c2c-muted);border-radius:6px;background:var(--c2c-bg);\
color:var(--c2c-fg)}\
[aria-invalid=true]{border-color:var(--c2c-err)}\
.check{display:flex;gap:8px;align-items:flex-start;margin-top:10px}\
.check label{font-weight:400;margin:0}\
small{color:var(--c2c-muted)}\
.err{color:var(--c2c-err);margin:4px 0}\
.err:empty{display:none}\
form button{margin-top:12px}\
[hidden]{display:none!important}";

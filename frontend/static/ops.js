// The ops page (frontend/templates/ops.html). A file, not an inline script: the
// storefront's Content-Security-Policy allows scripts from itself only (static.rs).
// Refresh every 5 s, unless the operator is typing.
setInterval(() => { if (!document.activeElement || document.activeElement.tagName !== 'INPUT') location.reload(); }, 5000);

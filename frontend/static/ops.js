// The ops and analytics pages (frontend/templates/ops.html, analytics.html), whose live
// charts and figures are drawn by the server. A file, not an inline script: the
// storefront's Content-Security-Policy allows scripts from itself only (security.rs).
// Refresh every 5 s, unless the operator is typing.
setInterval(() => { if (!document.activeElement || document.activeElement.tagName !== 'INPUT') location.reload(); }, 5000);

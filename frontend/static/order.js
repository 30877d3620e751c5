// The order page (frontend/templates/order.html). A file, not an inline script: the
// storefront's Content-Security-Policy allows scripts from itself only (static.rs).
// Short polling: re-render the journey until it is done end to end.
(function () {
  const box = document.getElementById('journey');
  async function refresh() {
    try {
      const res = await fetch(box.dataset.url);
      box.innerHTML = await res.text();   // server-rendered, escaped by askama
      if (res.headers.get('x-journey-done') === 'true') {
        const status = box.querySelector('[data-order-status]');
        if (status) { document.getElementById('order-status').textContent = status.dataset.orderStatus; }
        return;
      }
    } catch (e) { /* retry */ }
    setTimeout(refresh, 1000);
  }
  setTimeout(refresh, 500);
})();

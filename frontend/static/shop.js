// The shop page (frontend/templates/shop.html). A file, not an inline script: the
// storefront's Content-Security-Policy allows scripts from itself only (static.rs).
// Live stock: poll a small JSON endpoint and update the numbers (text only, never HTML).
setInterval(async () => {
  try {
    const stock = await (await fetch('/api/stock')).json();
    for (const [sku, n] of Object.entries(stock)) {
      const el = document.getElementById('stock-' + sku);
      if (el) el.textContent = n;
    }
  } catch (e) { /* the next poll will try again */ }
}, 2000);

// Flash sale: VUS shoppers press "Buy" on the hot product at the same instant, one unit
// each, while only a handful exist. The platform must confirm exactly as many orders as
// there were units available and answer everyone else 409 out_of_stock: no oversell, no
// lost units, no 5xx.
//
// Stock never comes back by itself. With ADMIN_TOKEN set (./dev load and ./dev test set
// it), setup restocks the product up to STOCK units through the operator's restock
// endpoint (idempotent, keyed per run), so every run is a real sale; without it, a run
// after the first finds the product sold out and expects 0 confirmations (the checks still
// hold). The real verification is the invariant checker's; the checks here are the
// shopper-side view of the same thing.
//
// A shopper told 503 with Retry-After (the order service's in-flight limit, an open
// circuit) waits and sends the same order with the same Idempotency-Key again, for at most
// PATIENCE_MS: with thousands at once most are first turned away, and a sale where they gave
// up would leave units unsold.
//
// Thousands of shoppers are signed in before the run (load-tests/sign-in.py, TOKENS_FILE: a
// JSON array of {customer_id, token}, one per VU, shared by every VU); without it each VU
// signs its shopper in before the sale opens.
//
// Env: VUS (100), SKU (hot-sneaker), STOCK (10), ADMIN_TOKEN, START_DELAY_MS (1000),
// POLL_MAX_MS (20000), PATIENCE_MS (60000), TOKENS_FILE, MAX_ERROR_RATE (0), VERBOSE.

import http from 'k6/http';
import { check, sleep } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

import {
  CARDS,
  INVENTORY_URL,
  ORDER_URL,
  authHeaders,
  envInt,
  envNumber,
  envString,
  getProduct,
  json,
  metricValue,
  newRunId,
  orderBody,
  orderIdOf,
  pollUntilTerminal,
  postOrder,
  preflight,
  summaryWriter,
  tokenFor,
  usePresigned,
  uuidv4,
} from '../lib/common.js';

const VUS = envInt('VUS', 100);
const SKU = envString('SKU', 'hot-sneaker');
const START_DELAY_MS = envInt('START_DELAY_MS', 1000);
const POLL_MAX_MS = envInt('POLL_MAX_MS', 20000);
const MAX_ERROR_RATE = envNumber('MAX_ERROR_RATE', 0);
const STOCK = envInt('STOCK', 10);
const ADMIN_TOKEN = envString('ADMIN_TOKEN', '');
const PATIENCE_MS = envInt('PATIENCE_MS', 60000);
const TOKENS_FILE = envString('TOKENS_FILE', '');
// One copy for all VUs (setup's data would be copied into each of thousands of VUs).
const presigned = TOKENS_FILE ? new SharedArray('shoppers', () => JSON.parse(open(TOKENS_FILE))) : null;
if (presigned && presigned.length < VUS) throw new Error(`${TOKENS_FILE} has ${presigned.length} shoppers for ${VUS} VUs`);

const checkoutDuration = new Trend('checkout_duration', true);
const confirmed = new Counter('flash_confirmed');
const soldOut = new Counter('flash_sold_out');
const otherOutcome = new Counter('flash_other_outcome');
const errors = new Rate('flash_errors');
// Set in teardown from the server's own records, so handleSummary can compare them with
// what the shoppers saw (k6 VUs share no memory; metrics are the way across).
const stockBefore = new Gauge('flash_stock_before');
const stockAfter = new Gauge('flash_stock_after');
const serverConfirmed = new Gauge('flash_confirmed_server');
const oversold = new Counter('flash_oversold');
// Answers 503 + Retry-After waited out, and when each shopper had a definitive answer
// (ms after the sale opened: its max is how long the sale took).
const turnedAway = new Counter('flash_turned_away');
const answeredAfter = new Trend('flash_answered_after', true);

export const options = {
  scenarios: {
    flash_sale: {
      // Every VU is started at once and buys exactly once.
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1,
      maxDuration: `${Math.ceil((START_DELAY_MS + PATIENCE_MS + POLL_MAX_MS) / 1000) + 30}s`,
    },
  },
  // Teardown lists VUS customers' orders; the default 60 s is plenty, but say so.
  teardownTimeout: '300s',
  thresholds: {
    // The one that must never happen: more confirmations than units.
    flash_oversold: ['count==0'],
    flash_errors: [`rate<=${MAX_ERROR_RATE}`],
    checks: ['rate==1'],
    // No limit: listed so that the summary shows the latency of each answer.
    'checkout_duration{outcome:confirmed}': ['max>=0'],
    'checkout_duration{outcome:sold_out}': ['max>=0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

const customerOf = (runId, vu) => (presigned ? presigned[vu - 1].customer_id : `lt-${runId}-fs-${vu}`);

/** The shopper of VU `vu`, signed in (before the run, or now). */
function signIn(runId, vu) {
  const customer = customerOf(runId, vu);
  if (presigned) usePresigned({ [customer]: presigned[vu - 1].token });
  return { customer, token: tokenFor(customer) };
}

// Tops the product up to STOCK units. The key is per run: a retried request adds nothing.
function restock(product, runId) {
  const missing = STOCK - product.available;
  if (!ADMIN_TOKEN || missing <= 0) return product;
  const res = http.post(
    `${INVENTORY_URL}/admin/products/${encodeURIComponent(SKU)}/restock`,
    JSON.stringify({ quantity: missing }),
    {
      headers: { 'Content-Type': 'application/json', 'X-Admin-Token': ADMIN_TOKEN, 'Idempotency-Key': `flash-${runId}` },
      tags: { name: 'POST /admin/products/{sku}/restock' },
    },
  );
  if (res.status !== 201 && res.status !== 200) exec.test.abort(`restock of ${SKU} failed: HTTP ${res.status} ${res.body}`);
  return json(res);
}

export function setup() {
  preflight();
  const runId = newRunId();
  let product = getProduct(SKU);
  if (!product) exec.test.abort(`product ${SKU} not found`);
  product = restock(product, runId);
  if (product.available === 0) {
    console.warn(`${SKU} is already sold out: every shopper should get 409 out_of_stock`);
  }
  return {
    runId,
    before: product.available,
    // A common instant, a little ahead, so that the VUs fire together rather than in
    // the order k6 happened to start them.
    startAt: Date.now() + START_DELAY_MS,
  };
}

export default function (data) {
  // Signed in before the sale opens: at the start every shopper only checks out.
  const { customer, token } = signIn(data.runId, exec.vu.idInTest);
  const wait = data.startAt - Date.now();
  if (wait > 0) sleep(wait / 1000);

  const key = uuidv4();
  const body = orderBody(customer, [{ sku: SKU, quantity: 1 }], CARDS.success);
  const giveUpAt = Date.now() + PATIENCE_MS;
  let res;
  for (;;) {
    res = postOrder(body, key, `lt-${data.runId}-${key}`, { timeout: '15s' });
    const retryAfter = Number(res.headers['Retry-After']);
    if (res.status !== 503 || !retryAfter || Date.now() + retryAfter * 1000 > giveUpAt) break;
    turnedAway.add(1);
    sleep(Math.min(retryAfter, 5));
  }

  let status = null;
  let reason = null;
  const answer = json(res);
  if (res.status === 202) {
    // Under a burst the payment call can time out: the order then ends later.
    const polled = pollUntilTerminal(orderIdOf(res), { maxMs: POLL_MAX_MS, token });
    status = polled.status;
    reason = polled.order && polled.order.reason_code;
  } else if (answer && answer.status) {
    status = answer.status;
    reason = answer.reason_code;
  }

  const isConfirmed = status === 'confirmed';
  const isSoldOut = status === 'rejected' && reason === 'out_of_stock';
  if (isConfirmed || isSoldOut) answeredAfter.add(Date.now() - data.startAt);
  if (isConfirmed) confirmed.add(1);
  else if (isSoldOut) soldOut.add(1);
  else otherOutcome.add(1, { http_status: String(res.status) });
  errors.add(!isConfirmed && !isSoldOut);
  checkoutDuration.add(res.timings.duration, { outcome: isConfirmed ? 'confirmed' : isSoldOut ? 'sold_out' : 'other' });

  check(res, {
    'answered 201 confirmed or 409 out_of_stock': () =>
      (res.status === 201 && isConfirmed) || (res.status === 409 && isSoldOut) || res.status === 202,
  });
  if (!isConfirmed && !isSoldOut && __ENV.VERBOSE) {
    console.warn(`flash-sale ${key}: HTTP ${res.status} ${res.body && res.body.slice(0, 300)}`);
  }
}

export function teardown(data) {
  const product = getProduct(SKU);
  const after = product ? product.available : -1;
  // The server's count: every shopper's orders (one customer per VU, so a duplicate
  // order for one shopper would show here too).
  let serverCount = 0;
  let listed = 0;
  for (let vu = 1; vu <= VUS; vu++) {
    // As each shopper (signed in again here: teardown runs apart from the VUs).
    const res = http.get(`${ORDER_URL}/orders`, {
      headers: authHeaders(signIn(data.runId, vu).token),
      tags: { name: 'GET /orders (mine)' },
    });
    const orders = json(res);
    if (!Array.isArray(orders)) continue;
    listed += orders.length;
    serverCount += orders.filter((o) => o.status === 'confirmed').length;
  }
  stockBefore.add(data.before);
  stockAfter.add(after);
  serverConfirmed.add(serverCount);
  oversold.add(Math.max(0, serverCount - data.before));

  check(null, {
    'stock never negative': () => after >= 0,
    'no oversell: confirmed orders <= stock before': () => serverCount <= data.before,
    'every unit sold that could be: confirmed == min(stock before, shoppers)': () =>
      serverCount === Math.min(data.before, VUS),
    'stock accounted: before - after == confirmed': () => data.before - after === serverCount,
    'one order per shopper': () => listed <= VUS,
  });
}

export const handleSummary = summaryWriter('flash-sale', (data) => {
  const before = metricValue(data, 'flash_stock_before', 'value', NaN);
  const after = metricValue(data, 'flash_stock_after', 'value', NaN);
  const seen = metricValue(data, 'flash_confirmed', 'count');
  return [
    `flash sale of ${SKU} to ${VUS} shoppers:`,
    `  stock before ${before}, after ${after}`,
    `  confirmed: ${seen} seen by shoppers, ${metricValue(data, 'flash_confirmed_server', 'value', NaN)} on the server` +
      ` (expected ${Math.min(before, VUS)})`,
    `  409 out_of_stock: ${metricValue(data, 'flash_sold_out', 'count')}, other outcomes: ${metricValue(data, 'flash_other_outcome', 'count')}`,
    `  503 waited out: ${metricValue(data, 'flash_turned_away', 'count')}; every shopper answered within ` +
      `${(metricValue(data, 'flash_answered_after', 'max', NaN) / 1000).toFixed(1)} s of the opening`,
  ];
});

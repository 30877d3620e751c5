// Shared helpers for the load-test scripts in ../k6/.
//
// Only k6 built-ins are imported: the machines that run these tests reach no CDN, so
// nothing may come from jslib.k6.io or any other URL at run time.

import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';

// Declines (402) and rejections or in-flight answers (409) are the platform working as
// designed: keep them out of http_req_failed, which then counts only real failures
// (transport errors, timeouts, 4xx from bad requests, 5xx).
http.setResponseCallback(http.expectedStatuses(200, 201, 202, 402, 409));

// --- configuration --------------------------------------------------------------------

const trimSlash = (url) => url.replace(/\/+$/, '');

export const ORDER_URL = trimSlash(__ENV.ORDER_URL || 'http://127.0.0.1:8081');
export const INVENTORY_URL = trimSlash(__ENV.INVENTORY_URL || 'http://127.0.0.1:8082');
// run-k6.sh passes an absolute path; the default is relative to k6's working directory,
// which is the repository root when the scripts are run from there.
export const RESULTS_DIR = trimSlash(__ENV.RESULTS_DIR || 'load-tests/results');

/** An env variable as a string, or `fallback` when unset or empty. */
export function envString(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/** An env variable as a number; a typo must fail the run, not silently become NaN. */
export function envNumber(name, fallback) {
  const raw = envString(name, undefined);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name}=${raw} is not a number`);
  return n;
}

export function envInt(name, fallback) {
  return Math.round(envNumber(name, fallback));
}

/** A k6-style duration ('90s', '5m', '1h30m', '500ms') in milliseconds. */
export function parseDuration(text) {
  const units = { ms: 1, s: 1000, m: 60000, h: 3600000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== String(text).length) throw new Error(`not a duration: ${text}`);
  return total;
}

// The simulated provider's test cards (docs/checkout.md).
export const CARDS = {
  success: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  rateLimited: '4000000000000429', // 202, cancelled at the order deadline (30 s)
  slow: '4000000000000408', // 202 after the payment timeout, the reconciler confirms it
  providerError: '4000000000000500', // 202, cancelled at the order deadline
};

export const TERMINAL = ['confirmed', 'rejected', 'cancelled'];
export const isTerminal = (status) => TERMINAL.indexOf(status) >= 0;

// --- ids ------------------------------------------------------------------------------

/** A random (v4) UUID: one fresh idempotency key per checkout attempt. */
export function uuidv4() {
  // k6 1.x has WebCrypto as a global; fall back to Math.random for older binaries
  // (collisions are not a concern at load-test volumes).
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  const hex = [];
  for (let i = 0; i < 16; i++) hex.push(Math.floor(Math.random() * 256));
  hex[6] = (hex[6] & 0x0f) | 0x40;
  hex[8] = (hex[8] & 0x3f) | 0x80;
  const h = hex.map((b) => (b < 16 ? '0' : '') + b.toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A short id for one test run, made in setup() and handed to every VU: each VU runs the
 * init code on its own, so a value made there would differ between VUs.
 */
export function newRunId() {
  return uuidv4().slice(0, 8);
}

/**
 * The customer id of a VU's shopper (1-64 of letters, digits, - _ . @): one per VU, who
 * signs in once and checks out again and again, as a real shopper's session would
 * (a sign-in costs an Argon2 hash on purpose: one per checkout would measure password
 * hashing, not checkouts). The payment service opens unknown customers with a large
 * balance (OPENING_BALANCE_MINOR); the run id makes a run's orders easy to find.
 */
export function customerFor(runId, scenario, vu) {
  return `lt-${runId}-${scenario}-${vu}`.slice(0, 64);
}

// --- shoppers sign in -------------------------------------------------------------------

const SHOPPER_PASSWORD = 'load-test shopper password';
// Per VU: each VU has its own copy of this module.
const tokens = {};

/**
 * The token of `customerId`, signed in once per VU: registered on first use (POST
 * /customers), or signed in if it exists already (POST /sessions). null when the order
 * service could not sign them in (down, or its database): the call then goes without a
 * token and is answered 401, which the scripts count as a failed attempt and retry.
 */
export function tokenFor(customerId) {
  if (!customerId) return null;
  if (tokens[customerId]) return tokens[customerId];
  if (presigned[customerId]) return (tokens[customerId] = presigned[customerId]);
  const credentials = JSON.stringify({ customer_id: customerId, password: SHOPPER_PASSWORD });
  const params = {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'sign in' },
    timeout: '10s',
    responseCallback: http.expectedStatuses(200, 201, 409, 503),
  };
  let res = signInOnce(`${ORDER_URL}/customers`, credentials, params);
  if (res.status === 409) res = signInOnce(`${ORDER_URL}/sessions`, credentials, params);
  const body = res.status === 200 || res.status === 201 ? json(res) : null;
  if (!body || !body.token) return null;
  tokens[customerId] = body.token;
  return body.token;
}

/**
 * One sign-up or sign-in, sent again (at most 5 times) while the order service answers 503
 * with Retry-After: it hashes only a few passwords at once and tells the rest to come back
 * (`sign_in_busy`, nothing created).
 */
function signInOnce(url, credentials, params) {
  let res;
  for (let attempt = 1; attempt <= 5; attempt++) {
    res = http.post(url, credentials, params);
    const wait = Number(res.headers['Retry-After']);
    if (res.status !== 503 || !wait) break;
    sleep(Math.min(wait, 5));
  }
  return res;
}

// Tokens signed in by setup() (signInAhead), shared with every VU through setup's data.
let presigned = {};

/**
 * Signs in the shoppers of VUs 1..count before the test starts (in setup()), so that the
 * measured run does not include their sign-ins: registering is an Argon2id hash on the order
 * service, tens of milliseconds of CPU each, and a run whose VUs signed in as they started
 * measured those hashes in the checkouts' latency tail. Returns customer id -> token.
 */
export function signInAhead(runId, scenario, count) {
  const signed = {};
  for (let vu = 1; vu <= count; vu++) {
    const customer = customerFor(runId, scenario, vu);
    const token = tokenFor(customer);
    if (token) signed[customer] = token;
  }
  return signed;
}

/** In a VU: the tokens setup() signed in (its data.tokens) are used before signing in again. */
export function usePresigned(signed) {
  if (signed) presigned = signed;
}

/** The `Authorization` header of a signed-in customer (none without a token). */
export function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function customerOfBody(body) {
  try {
    return JSON.parse(body).customer_id;
  } catch (_) {
    return null;
  }
}

// --- HTTP -----------------------------------------------------------------------------

/** The body as JSON, or null: an error page or a cut-off body must not throw mid-iteration. */
export function json(res) {
  if (!res || !res.body) return null;
  try {
    return JSON.parse(res.body);
  } catch (_) {
    return null;
  }
}

/** GET /products; returns the parsed list (empty on failure) and the response. */
export function getProducts(params = {}) {
  const res = http.get(`${INVENTORY_URL}/products`, {
    tags: { name: 'GET /products' },
    ...params,
  });
  const body = json(res);
  return { res, products: Array.isArray(body) ? body : [] };
}

/** GET /products/{sku}; returns the product or null. */
export function getProduct(sku, params = {}) {
  const res = http.get(`${INVENTORY_URL}/products/${encodeURIComponent(sku)}`, {
    tags: { name: 'GET /products/{sku}' },
    ...params,
  });
  return res.status === 200 ? json(res) : null;
}

/** The request body of POST /orders, as the exact string to send (replays must match it). */
export function orderBody(customerId, lines, cardNumber) {
  return JSON.stringify({ customer_id: customerId, lines, card_number: cardNumber });
}

/**
 * POST /orders. `body` is a string so that a retry sends byte-for-byte the same body.
 * Extra request params (timeout, tags, responseCallback) come in `params`.
 */
export function postOrder(body, key, correlationId, params = {}) {
  // As the customer the body names, signed in (the order service takes who orders from
  // the token, and refuses a body naming anyone else).
  const headers = {
    'Content-Type': 'application/json',
    'Idempotency-Key': key,
    ...authHeaders(tokenFor(customerOfBody(body))),
  };
  if (correlationId) headers['X-Correlation-Id'] = correlationId;
  return http.post(`${ORDER_URL}/orders`, body, {
    headers,
    tags: { name: 'POST /orders', ...(params.tags || {}) },
    ...withoutTags(params),
  });
}

function withoutTags(params) {
  const out = {};
  for (const k of Object.keys(params)) if (k !== 'tags' && k !== 'token') out[k] = params[k];
  return out;
}

/** The order id from a POST/GET /orders response, from the body or else the Location. */
export function orderIdOf(res) {
  const body = json(res);
  if (body && typeof body.id === 'string') return body.id;
  const location = res && res.headers && res.headers.Location;
  const m = location && /\/orders\/([^/?#]+)/.exec(location);
  return m ? m[1] : null;
}

/**
 * Polls GET /orders/{id} until the order is confirmed, rejected or cancelled, or until
 * `maxMs` has passed. Waits grow from 100 ms to `maxIntervalMs`: most 202s resolve within
 * a few seconds (the reconciler ticks every 500 ms), while the 429 and provider-error
 * cards take the whole 30 s deadline, where fast polling would only add load.
 *
 * Returns { status, order, polls, timedOut, elapsedMs }; status is the last one seen.
 */
export function pollUntilTerminal(orderId, opts = {}) {
  const maxMs = opts.maxMs !== undefined ? opts.maxMs : 20000;
  const maxIntervalMs = opts.maxIntervalMs || 1000;
  const started = Date.now();
  let waitMs = 100;
  let polls = 0;
  let order = null;
  let status = null;
  for (;;) {
    const res = http.get(`${ORDER_URL}/orders/${encodeURIComponent(orderId)}`, {
      headers: authHeaders(opts.token),
      tags: { name: 'GET /orders/{id}', ...(opts.tags || {}) },
      timeout: opts.timeout || '5s',
    });
    polls++;
    const body = res.status === 200 ? json(res) : null;
    if (body) {
      order = body;
      status = body.status;
      if (isTerminal(status)) {
        return { status, order, polls, timedOut: false, elapsedMs: Date.now() - started };
      }
    }
    const elapsed = Date.now() - started;
    if (elapsed + waitMs > maxMs) {
      return { status, order, polls, timedOut: true, elapsedMs: elapsed };
    }
    sleep(waitMs / 1000);
    waitMs = Math.min(maxIntervalMs, Math.round(waitMs * 1.5));
  }
}

/**
 * For setup(): makes sure the platform answers before any load is sent, and aborts the
 * test with a clear message otherwise (instead of thousands of connection errors).
 * Returns the product list as it was at the start.
 */
export function preflight() {
  const { res, products } = getProducts({ timeout: '5s' });
  if (res.status !== 200 || products.length === 0) {
    exec.test.abort(
      `inventory at ${INVENTORY_URL} answered GET /products with ${res.status || res.error}; is the platform up (./dev up)?`,
    );
  }
  const probe = http.get(`${ORDER_URL}/openapi.json`, { timeout: '5s', tags: { name: 'preflight' } });
  if (probe.status !== 200) {
    exec.test.abort(`order service at ${ORDER_URL} is not answering (${probe.status || probe.error})`);
  }
  return products;
}

// --- random carts ---------------------------------------------------------------------

/** A random integer in [min, max]. */
export function randInt(min, max) {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** `n` distinct random elements of `list` (all of them if it is shorter). */
export function pick(list, n) {
  const copy = list.slice();
  const out = [];
  while (out.length < n && copy.length > 0) {
    out.push(copy.splice(Math.floor(Math.random() * copy.length), 1)[0]);
  }
  return out;
}

// --- summary --------------------------------------------------------------------------

/**
 * A handleSummary for `scenario`: the full summary data as JSON plus a readable text
 * summary, both under RESULTS_DIR, and the text on stdout. `notes` (optional) is a
 * function of the data returning extra lines, for scenario-specific verdicts. `opts`
 * goes to textSummary.
 */
export function summaryWriter(scenario, notes, opts = {}) {
  return function handleSummary(data) {
    let text = textSummary(scenario, data, opts);
    if (notes) {
      const extra = notes(data) || [];
      if (extra.length) text += `\n${extra.join('\n')}\n`;
    }
    return {
      stdout: text,
      [`${RESULTS_DIR}/${scenario}-summary.json`]: JSON.stringify(data, null, 2),
      [`${RESULTS_DIR}/${scenario}-summary.txt`]: text,
    };
  };
}

/** A metric's value from the summary data, or `fallback` when it was never recorded. */
export function metricValue(data, name, stat, fallback = 0) {
  const m = data.metrics[name];
  if (!m || !m.values || m.values[stat] === undefined) return fallback;
  return m.values[stat];
}

const fmtMs = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(2)}ms`);

function fmtNumber(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3);
}

function fmtBytes(v) {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// Trend stats in a fixed order (k6 hands them over in map order, which varies).
const TREND_ORDER = ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];

function trendKeys(values) {
  const known = TREND_ORDER.filter((k) => k in values);
  const rest = Object.keys(values)
    .filter((k) => TREND_ORDER.indexOf(k) < 0)
    .sort();
  return known.concat(rest);
}

/** One stat of a metric, formatted for its kind (`stat` of a trend, or the headline). */
function formatStat(m, stat) {
  const v = m.values;
  if (m.type === 'trend') return (m.contains === 'time' && stat !== 'count' ? fmtMs : fmtNumber)(v[stat]);
  if (m.type === 'rate') return `${(v.rate * 100).toFixed(2)}%`;
  if (m.type === 'counter') return m.contains === 'data' ? fmtBytes(v[stat]) : fmtNumber(v[stat]);
  return fmtNumber(v[stat]);
}

function formatMetric(m) {
  const v = m.values;
  switch (m.type) {
    case 'trend':
      // A sub-metric nothing was tagged with still reports zeros; say so instead.
      if (v.count === 0 || (v.min === 0 && v.max === 0 && v.avg === 0)) return '(no samples)';
      return trendKeys(v)
        .map((k) => `${k}=${formatStat(m, k)}`)
        .join(' ');
    case 'counter':
      return m.contains === 'data'
        ? `${fmtBytes(v.count)} (${fmtBytes(v.rate)}/s)`
        : `${fmtNumber(v.count)} (${fmtNumber(v.rate)}/s)`;
    case 'rate':
      return `${(v.rate * 100).toFixed(2)}% (${v.passes} of ${v.passes + v.fails})`;
    case 'gauge':
      return `${fmtNumber(v.value)} (min ${fmtNumber(v.min)}, max ${fmtNumber(v.max)})`;
    default:
      return JSON.stringify(v);
  }
}

/** The observed value a threshold expression such as `p(95)<250` was judged on. */
function thresholdObserved(m, expr) {
  const stat = (/^\s*([a-z]+(?:\([0-9.]+\))?)/.exec(expr) || [])[1];
  if (stat && m.values && stat in m.values) return `${stat}=${formatStat(m, stat)}`;
  return formatMetric(m);
}

function collectChecks(group, out) {
  for (const c of group.checks || []) out.push(c);
  for (const g of group.groups || []) collectChecks(g, out);
  return out;
}

/** Thresholds that only make k6 report a sub-metric; see textSummary. */
export const DISPLAY_ONLY = /^\s*(max|count)\s*>=\s*0\s*$/;

/**
 * A plain-text summary: thresholds first (the verdict), then checks, then every metric.
 * A small stand-in for jslib's textSummary, which cannot be fetched here. `opts.breakdown`
 * false leaves out the display-only sub-metrics (a script that tabulates them itself).
 */
export function textSummary(scenario, data, opts = {}) {
  const lines = [];
  const durationS = data.state && data.state.testRunDurationMs ? data.state.testRunDurationMs / 1000 : 0;
  lines.push(`=== ${scenario}: ${durationS.toFixed(1)} s ===`);

  const names = Object.keys(data.metrics).sort();
  const thresholdLines = [];
  const infoLines = [];
  let failed = 0;
  for (const name of names) {
    const t = data.metrics[name].thresholds || {};
    for (const expr of Object.keys(t)) {
      const ok = t[expr].ok;
      // `max>=0` / `count>=0` are display-only thresholds: k6 shows a tagged sub-metric
      // (e.g. checkout_duration{card:slow}) only when a threshold names it.
      if (DISPLAY_ONLY.test(expr)) {
        infoLines.push(`  info  ${name}: ${formatMetric(data.metrics[name])}`);
        continue;
      }
      if (!ok) failed++;
      thresholdLines.push(`  ${ok ? 'PASS' : 'FAIL'}  ${name}: ${expr}   (${thresholdObserved(data.metrics[name], expr)})`);
    }
  }
  lines.push('');
  lines.push(`thresholds: ${thresholdLines.length - failed} passed, ${failed} failed`);
  lines.push(...thresholdLines);
  if (infoLines.length && opts.breakdown !== false) {
    lines.push('');
    lines.push('breakdown:');
    lines.push(...infoLines);
  }

  const checks = collectChecks(data.root_group || {}, []);
  if (checks.length) {
    lines.push('');
    lines.push('checks:');
    for (const c of checks) {
      const total = c.passes + c.fails;
      const pct = total ? ((c.passes / total) * 100).toFixed(2) : '0.00';
      lines.push(`  ${c.fails ? 'FAIL' : 'ok  '}  ${c.name}: ${pct}% (${c.passes} passed, ${c.fails} failed)`);
    }
  }

  lines.push('');
  lines.push('metrics:');
  const width = Math.min(40, Math.max(...names.filter((n) => n.indexOf('{') < 0).map((n) => n.length)));
  // Sub-metrics (name{tag:value}) were shown with their thresholds above.
  for (const name of names.filter((n) => n.indexOf('{') < 0)) {
    lines.push(`  ${name.padEnd(width)}  ${formatMetric(data.metrics[name])}`);
  }
  return `${lines.join('\n')}\n`;
}

// Chaos: patient shoppers under an open workload while `./dev chaos` kills and restarts
// the broker, each service and PostgreSQL, and pauses the outbox relay. Whatever breaks,
// a shopper's checkout must end exactly once: this script records what every client was
// told (lib/ledger.js), and check-ledger holds that against the databases afterwards. k6's
// own verdict is only about the script running; the ledger checker judges the platform.
//
// Each iteration (one shopper, one Idempotency-Key, one customer id of its own):
//   POST /orders; on a transport error, a timeout, a 5xx (503 included), a 409
//   request_in_flight or a 429, retry with the SAME key and body, exponential backoff with
//   jitter, honouring Retry-After, until an answer or PATIENCE_MS since the first attempt;
//   on a 202, poll GET /orders/{id} until the order is terminal or patience ends.
// The cart is drawn from the product list read in setup(), so a shopper does not need
// inventory to be up to start checking out.
//
// Env: RATE (10/s), DURATION (9m), PATIENCE_MS (90000), POST_TIMEOUT (10s), PRE_VUS,
// MAX_VUS (sized for patience), VERBOSE.

import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';

import { buildCart, openWorkload } from '../lib/checkout-flow.js';
import {
  CARDS,
  ORDER_URL,
  authHeaders,
  envInt,
  envString,
  isTerminal,
  json,
  newRunId,
  orderBody,
  postOrder,
  preflight,
  summaryWriter,
  tokenFor,
  uuidv4,
} from '../lib/common.js';
import { ledgerAttempt, ledgerFinal } from '../lib/ledger.js';

const PATIENCE_MS = envInt('PATIENCE_MS', 90000);
const POST_TIMEOUT = envString('POST_TIMEOUT', '10s');

const workload = openWorkload({
  rate: 10,
  duration: '9m',
  pollMaxMs: PATIENCE_MS,
  // A client may wait out a whole outage, so an outage needs a VU per arrival during it.
  // Allocated up front: k6 starts VUs one by one mid-test, too slowly on a busy machine
  // (a first run with 3×RATE reached 318 of the 600 needed and dropped 288 arrivals).
  preVUs: (w) => Math.max(5, Math.ceil((w.rate * PATIENCE_MS * 0.7) / 1000)),
  maxVUs: (w) => Math.max(50, Math.min(2000, Math.ceil((w.rate * (PATIENCE_MS + 10000)) / 1000))),
});

const attempts = new Counter('chaos_attempts');
const retries = new Counter('chaos_retries');
const outcomes = new Counter('chaos_outcomes');
const timeToAnswer = new Trend('chaos_time_to_answer', true);

export const options = {
  scenarios: { chaos: workload.scenario },
  // Display only: the platform is judged by check-ledger, not by k6 (a fault makes
  // checkouts wait and retry by design).
  thresholds: {
    'chaos_outcomes{outcome:confirmed}': ['count>=0'],
    'chaos_outcomes{outcome:rejected}': ['count>=0'],
    'chaos_outcomes{outcome:cancelled}': ['count>=0'],
    'chaos_outcomes{outcome:unknown}': ['count>=0'],
    'chaos_retries{why:transport}': ['count>=0'],
    'chaos_retries{why:http_503}': ['count>=0'],
    'chaos_retries{why:http_500}': ['count>=0'],
    'chaos_retries{why:in_flight}': ['count>=0'],
    dropped_iterations: ['count>=0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// Retrying is the point here: keep k6 from counting the expected failures as http errors.
http.setResponseCallback(http.expectedStatuses(200, 201, 202, 402, 409));

export function setup() {
  const products = preflight();
  const runId = newRunId();
  console.log(JSON.stringify({ ledger_run: runId, ts: Date.now(), rate: workload.rate, duration: workload.duration }));
  return { runId, products };
}

/** The order id an answer names: the order itself, or a 409 in-flight's details. */
function namedOrderId(body) {
  if (!body) return null;
  if (typeof body.id === 'string') return body.id;
  return (body.error && body.error.details && body.error.details.order_id) || null;
}

function backoffMs(n, res) {
  // Full jitter over an exponential ceiling (250 ms .. 5 s), so that clients released by
  // the same recovery do not come back in lockstep.
  let ms = Math.random() * Math.min(5000, 250 * 2 ** (n - 1));
  const ra = res && res.headers ? Number(res.headers['Retry-After']) : NaN;
  if (Number.isFinite(ra) && ra >= 0) ms = Math.max(ms, Math.min(ra, 10) * 1000);
  return Math.max(100, ms);
}

/** Polls the order until it is terminal or `deadline`; the last status seen. */
function pollOrder(orderId, customer, deadline) {
  let waitMs = 250;
  let polls = 0;
  let order = null;
  while (Date.now() < deadline) {
    const res = http.get(`${ORDER_URL}/orders/${encodeURIComponent(orderId)}`, {
      headers: authHeaders(tokenFor(customer)),
      tags: { name: 'GET /orders/{id}' },
      timeout: '5s',
      responseCallback: http.expectedStatuses(200, 404),
    });
    polls++;
    const body = res.status === 200 ? json(res) : null;
    if (body && body.status) {
      order = body;
      if (isTerminal(body.status)) break;
    }
    sleep(Math.min(waitMs, Math.max(0, deadline - Date.now())) / 1000);
    waitMs = Math.min(2000, Math.round(waitMs * 1.5));
  }
  return { order, polls };
}

export default function (data) {
  const key = uuidv4();
  const customer = `ch-${data.runId}-${exec.vu.idInTest}-${exec.scenario.iterationInTest}`;
  const body = orderBody(customer, buildCart(data.products), CARDS.success);
  const correlationId = `lt-${data.runId}-${key}`;
  const started = Date.now();
  const deadline = started + PATIENCE_MS;

  let n = 0;
  let orderId = null;
  let outcome = 'unknown';
  let reason = null;
  let accepted = false;
  while (Date.now() < deadline) {
    n++;
    const sent = Date.now();
    const res = postOrder(body, key, correlationId, { timeout: POST_TIMEOUT });
    const b = json(res);
    const code = (b && b.error && b.error.code) || null;
    const named = namedOrderId(b);
    if (named) orderId = named;
    ledgerAttempt({
      key,
      customer,
      n,
      sent_ms: sent,
      ts: Date.now(),
      status: res.status,
      error: res.status === 0 ? res.error || 'transport_error' : null,
      code,
      order_id: named,
    });
    attempts.add(1);

    if (res.status === 201 || res.status === 402 || (res.status === 409 && b && b.status === 'rejected')) {
      outcome = b.status;
      reason = b.reason_code || null;
      break;
    }
    if (res.status === 202 && named) {
      accepted = true;
      break;
    }
    let why = null;
    if (res.status === 0) why = 'transport';
    else if (res.status >= 500) why = `http_${res.status}`;
    else if (res.status === 409) why = code === 'request_in_flight' ? 'in_flight' : 'http_409';
    else if (res.status === 429) why = 'http_429';
    // Not signed in: the sign-in itself failed (the order service or its database down);
    // the next attempt signs in again.
    else if (res.status === 401) why = 'sign_in';
    if (!why) {
      // 400/422: the request itself is wrong; no retry can help.
      reason = `http_${res.status}`;
      console.warn(`chaos: key ${key} HTTP ${res.status}: ${res.body && res.body.slice(0, 200)}`);
      break;
    }
    retries.add(1, { why });
    const pause = Math.min(backoffMs(n, res), deadline - Date.now());
    if (pause > 0) sleep(pause / 1000);
  }

  let polls = 0;
  if (accepted) {
    const polled = pollOrder(orderId, customer, deadline);
    polls = polled.polls;
    if (polled.order && isTerminal(polled.order.status)) {
      outcome = polled.order.status;
      reason = polled.order.reason_code || null;
    } else {
      reason = `not_terminal:${polled.order ? polled.order.status : 'unseen'}`;
    }
  }
  if (outcome !== 'unknown') timeToAnswer.add(Date.now() - started, { outcome });
  outcomes.add(1, { outcome });
  ledgerFinal({
    key,
    customer,
    outcome,
    order_id: orderId,
    reason,
    started_ms: started,
    ts: Date.now(),
    attempts: n,
    polls,
  });
  if (__ENV.VERBOSE && outcome === 'unknown') {
    console.warn(`chaos: key ${key} gave up after ${n} attempts (${reason})`);
  }
}

export const handleSummary = summaryWriter('chaos');

// The shopper's checkout journey, shared by checkout.js, soak.js and mixed-failures.js:
// browse -> cart -> POST /orders -> (on 202) poll to a terminal state.
//
// The custom metrics live here so that every script using the flow reports the same
// names; k6 only creates them once per VU however many scripts import this module.

import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import exec from 'k6/execution';

import {
  CARDS,
  customerFor,
  tokenFor,
  envInt,
  envNumber,
  envString,
  getProducts,
  json,
  orderBody,
  orderIdOf,
  pick,
  pollUntilTerminal,
  postOrder,
  randInt,
  uuidv4,
} from './common.js';

// Latency of POST /orders alone: what the shopper waits for after pressing "Pay".
export const checkoutDuration = new Trend('checkout_duration', true);
// From pressing "Pay" until the order is confirmed, rejected or cancelled (includes
// polling after a 202).
export const timeToTerminal = new Trend('time_to_terminal', true);
export const ordersConfirmed = new Counter('orders_confirmed');
export const ordersRejected = new Counter('orders_rejected');
export const ordersCancelled = new Counter('orders_cancelled');
// 202s: outcome not known when the POST returned.
export const ordersAccepted = new Counter('orders_accepted');
// Still not terminal when polling gave up: the reconciler owes these an ending.
export const ordersUnresolved = new Counter('orders_unresolved');
// 503 + Retry-After: a dependency's circuit was open and nothing was ordered.
export const checkoutUnavailable = new Counter('checkout_unavailable');
// The shopper got no definitive answer: transport error or timeout, 5xx, an unexpected
// status or body, or an order that did not end within the polling bound. Business
// outcomes (declined, out of stock, cancelled at the deadline) are not errors.
export const checkoutErrors = new Rate('checkout_errors');

// The outcome each test card must end in; anything else fails the "expected outcome"
// check. The slow card is approved late (the reconciler resolves the timeout).
const EXPECTED = {
  success: ['confirmed', null],
  slow: ['confirmed', null],
  declined: ['rejected', 'payment_declined'],
  insufficient_funds: ['rejected', 'payment_declined'],
  rate_limited: ['cancelled', 'deadline_exceeded'],
  provider_error: ['cancelled', 'deadline_exceeded'],
};

export const CARD_KINDS = {
  success: CARDS.success,
  declined: CARDS.declined,
  insufficient_funds: CARDS.insufficientFunds,
  rate_limited: CARDS.rateLimited,
  slow: CARDS.slow,
  provider_error: CARDS.providerError,
};

/**
 * The open workload that checkout.js, soak.js and mixed-failures.js share: shoppers arrive
 * at RATE per second whether or not earlier ones are done, as on a real shop (a closed
 * model would slow its own arrivals down when the platform slows, hiding exactly the
 * latency we want to see). Reads the common env knobs, with each script's own defaults,
 * and returns them with the k6 scenario built from them.
 *
 * Env: RATE, DURATION, POLL_MAX_MS, PRE_VUS, MAX_VUS, P95_MS (250), P99_MS (500),
 * MAX_ERROR_RATE (0.01), MAX_DROPPED (10). `preVUs` / `maxVUs` compute the VU defaults
 * from the rate and polling bound when a script needs more than the usual.
 */
export function openWorkload({ rate, duration, pollMaxMs = 20000, preVUs, maxVUs }) {
  const w = {
    rate: envInt('RATE', rate),
    duration: envString('DURATION', duration),
    pollMaxMs: envInt('POLL_MAX_MS', pollMaxMs),
    p95Ms: envNumber('P95_MS', 250),
    p99Ms: envNumber('P99_MS', 500),
    maxErrorRate: envNumber('MAX_ERROR_RATE', 0.01),
    maxDropped: envInt('MAX_DROPPED', 10),
  };
  // Enough VUs for one second of arrivals up front; more are added (up to maxVUs) only if
  // iterations get slow, e.g. when 202s have to be polled.
  w.preVUs = envInt('PRE_VUS', preVUs ? preVUs(w) : Math.max(5, w.rate));
  w.maxVUs = envInt('MAX_VUS', maxVUs ? maxVUs(w) : Math.max(50, w.rate * 4));
  w.scenario = {
    executor: 'constant-arrival-rate',
    rate: w.rate,
    timeUnit: '1s',
    duration: w.duration,
    preAllocatedVUs: w.preVUs,
    maxVUs: w.maxVUs,
    // Lets an iteration that is polling a 202 finish instead of being cut off.
    gracefulStop: `${Math.ceil(w.pollMaxMs / 1000) + 5}s`,
  };
  // The thresholds every open-workload script judges by; each adds its latency bars.
  w.thresholds = {
    checkout_errors: [`rate<${w.maxErrorRate}`],
    // Dropped iterations mean k6 ran out of VUs: the offered load was not applied, so
    // the latency figures would be flattering.
    dropped_iterations: [`count<${w.maxDropped}`],
    checks: ['rate>0.99'],
  };
  return w;
}

/**
 * A cart of 1-2 random non-hot products that have stock, 1-2 units each. The flash-sale
 * product is left alone: its 10 units are for flash-sale.js, and stock never comes back.
 */
export function buildCart(products) {
  const candidates = products.filter((p) => !p.hot && p.available >= 2);
  return pick(candidates, randInt(1, 2)).map((p) => ({ sku: p.sku, quantity: randInt(1, 2) }));
}

/**
 * One checkout. `opts`: runId and scenario (for ids), cardKind (a key of CARD_KINDS),
 * pollMaxMs (bound on polling after a 202), pollIntervalMaxMs, postTimeout (k6 request
 * timeout), tags (added to every metric sample of this checkout), shoppers (when set, VU n
 * shops as shopper ((n - 1) mod shoppers) + 1: the VUs k6 adds beyond those setup() signed
 * in reuse their shoppers instead of signing new ones up mid-run).
 * Returns { outcome, reason, httpStatus }.
 */
export function checkout(opts) {
  const cardKind = opts.cardKind || 'success';
  const tags = { card: cardKind, ...(opts.tags || {}) };

  const browse = getProducts();
  const browsed = check(browse.res, {
    'products listed': (r) => r.status === 200 && browse.products.length > 0,
  });
  const cart = buildCart(browse.products);
  if (!browsed || cart.length === 0) {
    checkoutErrors.add(true, { ...tags, stage: 'browse' });
    return { outcome: 'error', reason: 'browse_failed', httpStatus: browse.res.status };
  }

  // A VU k6 starts mid-run (the platform slowed down) would otherwise sign a new shopper up:
  // an Argon2id hash on the order service, measured as checkout cost, at the worst moment.
  const vu = opts.shoppers ? ((exec.vu.idInTest - 1) % opts.shoppers) + 1 : exec.vu.idInTest;
  const customer = customerFor(opts.runId, opts.scenario, vu);
  const key = uuidv4();
  const correlationId = `lt-${opts.runId}-${key}`;
  const started = Date.now();
  const res = postOrder(orderBody(customer, cart, CARD_KINDS[cardKind]), key, correlationId, {
    timeout: opts.postTimeout || '10s',
    tags,
  });
  // Timed-out requests count too (at the timeout): dropping them would flatter the tail.
  checkoutDuration.add(res.status === 0 ? Date.now() - started : res.timings.duration, tags);

  const body = json(res);
  let outcome = 'error';
  let reason = null;

  switch (res.status) {
    case 201:
    case 402:
      outcome = body && body.status;
      reason = body && body.reason_code;
      break;
    case 409:
      // Either a rejection (out_of_stock) or request_in_flight, which a fresh key can
      // never get: that one stays an error.
      if (body && body.status === 'rejected') {
        outcome = 'rejected';
        reason = body.reason_code;
      } else {
        reason = (body && body.error && body.error.code) || 'conflict';
      }
      break;
    case 202: {
      ordersAccepted.add(1, tags);
      const id = orderIdOf(res);
      if (!id) {
        reason = 'no_order_id';
        break;
      }
      const polled = pollUntilTerminal(id, {
        maxMs: opts.pollMaxMs || 20000,
        maxIntervalMs: opts.pollIntervalMaxMs,
        token: tokenFor(customer),
      });
      if (polled.timedOut) {
        ordersUnresolved.add(1, tags);
        reason = `not_terminal:${polled.status}`;
      } else {
        outcome = polled.status;
        reason = polled.order && polled.order.reason_code;
      }
      break;
    }
    case 503:
      checkoutUnavailable.add(1, tags);
      reason = 'dependency_unavailable';
      break;
    default:
      reason = res.status === 0 ? res.error || 'transport_error' : `http_${res.status}`;
  }

  const terminal = outcome === 'confirmed' || outcome === 'rejected' || outcome === 'cancelled';
  if (terminal) timeToTerminal.add(Date.now() - started, { ...tags, outcome });
  if (outcome === 'confirmed') ordersConfirmed.add(1, tags);
  if (outcome === 'rejected') ordersRejected.add(1, { ...tags, reason: reason || 'unknown' });
  if (outcome === 'cancelled') ordersCancelled.add(1, { ...tags, reason: reason || 'unknown' });
  checkoutErrors.add(!terminal, tags);

  const [wantStatus, wantReason] = EXPECTED[cardKind];
  check(
    res,
    {
      'POST /orders answered (201/202/402/409)': (r) => [201, 202, 402, 409].indexOf(r.status) >= 0,
      'order ended as the card implies': () =>
        outcome === wantStatus && (wantReason === null || reason === wantReason),
    },
    tags,
  );
  if (!terminal && __ENV.VERBOSE) {
    console.warn(`checkout ${key} (${cardKind}): HTTP ${res.status} ${reason} ${res.body && res.body.slice(0, 300)}`);
  }
  return { outcome: terminal ? outcome : 'error', reason, httpStatus: res.status };
}

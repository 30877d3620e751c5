// Retry storm: impatient clients and duplicate submits, the traffic that idempotency
// keys exist for. One key must never yield two orders, whatever the timing.
//
// Scenario `impatient_clients`: each checkout gives POST /orders a short client-side
// timeout (CLIENT_TIMEOUT, 300ms) and retries the SAME key with the SAME body on a
// timeout, a 409 request_in_flight or a 5xx, up to MAX_ATTEMPTS times with backoff. A
// share of them (SLOW_SHARE) use the slow card, whose payment takes longer than the order
// service's payment timeout, so the first attempt always times out on the client while
// the server carries on with it.
//
// Scenario `duplicate_submits`: DUP_COPIES identical requests (one key, one body) fired
// at once with http.batch, as a double-clicked "Pay" button or a proxy that retries.
//
// Both end with a check against the server: the shopper (one customer per key) has
// exactly one order, and every answer that named an order named that one.
//
// Env: RETRY_VUS (10), RETRY_ITERATIONS (3), CLIENT_TIMEOUT (300ms), MAX_ATTEMPTS (10),
// SLOW_SHARE (0.5), DUP_VUS (5), DUP_ITERATIONS (4), DUP_COPIES (5), POLL_MAX_MS (20000),
// MAX_UNANSWERED_RATE (0.05), VERBOSE.

import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';

import {
  CARDS,
  ORDER_URL,
  authHeaders,
  envInt,
  envNumber,
  envString,
  isTerminal,
  json,
  newRunId,
  orderBody,
  pick,
  pollUntilTerminal,
  postOrder,
  preflight,
  summaryWriter,
  tokenFor,
  uuidv4,
} from '../lib/common.js';

const RETRY_VUS = envInt('RETRY_VUS', 10);
const RETRY_ITERATIONS = envInt('RETRY_ITERATIONS', 3);
const CLIENT_TIMEOUT = envString('CLIENT_TIMEOUT', '300ms');
const MAX_ATTEMPTS = envInt('MAX_ATTEMPTS', 10);
const SLOW_SHARE = envNumber('SLOW_SHARE', 0.5);
const DUP_VUS = envInt('DUP_VUS', 5);
const DUP_ITERATIONS = envInt('DUP_ITERATIONS', 4);
const DUP_COPIES = envInt('DUP_COPIES', 5);
const POLL_MAX_MS = envInt('POLL_MAX_MS', 20000);
const MAX_UNANSWERED_RATE = envNumber('MAX_UNANSWERED_RATE', 0.05);

// Every POST sent, and why the client sent it again.
const attempts = new Counter('retry_attempts');
const timeouts = new Counter('retry_timeouts');
const inFlight = new Counter('retry_in_flight_409');
const unavailable = new Counter('retry_5xx');
// From the first attempt to the first definitive answer (201/202/402/409 rejected).
const timeToAnswer = new Trend('retry_time_to_answer', true);
// Keys whose client gave up without a definitive answer.
const unanswered = new Rate('retry_unanswered');
// A key that led to two orders, or answers naming different orders. Must stay at 0.
const violations = new Rate('idempotency_violations');
const duplicateAnswers = new Counter('duplicate_answers');

export const options = {
  scenarios: {
    impatient_clients: {
      executor: 'per-vu-iterations',
      exec: 'impatientClient',
      vus: RETRY_VUS,
      iterations: RETRY_ITERATIONS,
      // Bounded whatever happens: each iteration retries for at most ~15 s and polls
      // for at most POLL_MAX_MS.
      maxDuration: '3m',
    },
    duplicate_submits: {
      executor: 'per-vu-iterations',
      exec: 'duplicateSubmits',
      vus: DUP_VUS,
      iterations: DUP_ITERATIONS,
      maxDuration: '2m',
    },
  },
  thresholds: {
    idempotency_violations: ['rate==0'],
    retry_unanswered: [`rate<=${MAX_UNANSWERED_RATE}`],
    checks: ['rate>0.99'],
    // Display only: how the storm looked.
    'retry_attempts{scenario:impatient_clients}': ['count>=0'],
    'retry_attempts{scenario:duplicate_submits}': ['count>=0'],
    'duplicate_answers{in_flight:false}': ['count>=0'],
    'duplicate_answers{in_flight:true}': ['count>=0'],
    'retry_time_to_answer{card:slow}': ['max>=0'],
    'retry_time_to_answer{card:success}': ['max>=0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  const products = preflight();
  return {
    runId: newRunId(),
    skus: products.filter((p) => !p.hot).map((p) => p.sku),
  };
}

/** A fresh shopper and key: one customer per key, so "one order per customer" is checkable. */
function newAttempt(data, tag, card) {
  const key = uuidv4();
  const customer = `lt-${data.runId}-${tag}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  const lines = pick(data.skus, 1 + Math.floor(Math.random() * 2)).map((sku) => ({ sku, quantity: 1 }));
  tokenFor(customer); // signed in before the storm, so that the storm is only checkouts
  return { key, customer, body: orderBody(customer, lines, card), correlationId: `lt-${data.runId}-${key}` };
}

/** The order id an answer names: the order itself, or a 409 in-flight's details. */
function namedOrderId(res) {
  const b = json(res);
  if (!b) return null;
  if (typeof b.id === 'string') return b.id;
  return (b.error && b.error.details && b.error.details.order_id) || null;
}

const isInFlight = (res) => {
  const b = res.status === 409 ? json(res) : null;
  return !!(b && b.error && b.error.code === 'request_in_flight');
};

/** 201, 202, 402, or 409 with a rejected order: the server's answer for this key. */
const isDefinitive = (res) =>
  [201, 202, 402].indexOf(res.status) >= 0 || (res.status === 409 && !isInFlight(res) && namedOrderId(res) !== null);

/** Seconds from a Retry-After header, capped so a client never stalls a run. */
function retryAfter(res, fallbackS) {
  const v = Number(res.headers['Retry-After']);
  return Number.isFinite(v) && v >= 0 ? Math.min(v, 3) : fallbackS;
}

/**
 * After the storm: the shopper must have exactly one order, the one every answer named.
 * Polls it to a terminal state first when asked, so that a slow-card order is seen ending.
 */
function verifyOneOrder(attempt, ids, poll) {
  const distinct = Object.keys(ids);
  let status = null;
  if (poll && distinct.length === 1) {
    status = pollUntilTerminal(distinct[0], { maxMs: POLL_MAX_MS, token: tokenFor(attempt.customer) }).status;
  }
  const listed = json(
    http.get(`${ORDER_URL}/orders`, {
      headers: authHeaders(tokenFor(attempt.customer)),
      tags: { name: 'GET /orders (mine)' },
    }),
  );
  const serverIds = Array.isArray(listed) ? listed.map((o) => o.id) : null;
  const ok = check(serverIds, {
    'all answers for one key name the same order': () => distinct.length <= 1,
    'one key, one order on the server': (s) => s !== null && s.length === 1,
    'the server order is the one the answers named': (s) =>
      s !== null && (distinct.length === 0 || (s.length === 1 && s[0] === distinct[0])),
  });
  if (poll) check(status, { 'order reached a terminal state': (s) => isTerminal(s) });
  violations.add(!ok);
  if (!ok) {
    console.error(
      `idempotency: key ${attempt.key} (customer ${attempt.customer}) answers named ${JSON.stringify(distinct)}, ` +
        `server has ${JSON.stringify(serverIds)}`,
    );
  }
}

export function impatientClient(data) {
  const slow = Math.random() < SLOW_SHARE;
  const card = slow ? CARDS.slow : CARDS.success;
  const attempt = newAttempt(data, 'rs', card);
  const tags = { card: slow ? 'slow' : 'success' };
  const ids = {};
  const started = Date.now();
  let answer = null;

  for (let n = 1; n <= MAX_ATTEMPTS && !answer; n++) {
    const res = postOrder(attempt.body, attempt.key, attempt.correlationId, { timeout: CLIENT_TIMEOUT, tags });
    attempts.add(1, tags);
    const id = namedOrderId(res);
    if (id) ids[id] = true;

    // Exponential backoff with full jitter (100 ms .. 2 s), so retries of many clients
    // do not arrive in lockstep.
    let pauseS = (Math.random() * Math.min(2000, 100 * 2 ** n)) / 1000;
    if (res.status === 0) {
      timeouts.add(1, tags);
    } else if (isDefinitive(res)) {
      answer = res;
      break;
    } else if (isInFlight(res)) {
      inFlight.add(1, tags);
      // The server asks for 1 s; a storm client is impatient by design and comes back
      // sooner, which is the load this scenario is about.
      pauseS = Math.max(pauseS, Math.min(retryAfter(res, 0), 0.5));
    } else if (res.status >= 500) {
      unavailable.add(1, tags);
      pauseS = Math.max(pauseS, retryAfter(res, pauseS));
    } else {
      // 400/422: the request itself is wrong; retrying cannot help.
      console.warn(`retry-storm: HTTP ${res.status} for key ${attempt.key}: ${res.body && res.body.slice(0, 200)}`);
      break;
    }
    if (n < MAX_ATTEMPTS) sleep(pauseS);
  }

  unanswered.add(!answer, tags);
  if (answer) {
    timeToAnswer.add(Date.now() - started, tags);
    // A replay after the answer must return the stored first response, same order.
    const replay = postOrder(attempt.body, attempt.key, attempt.correlationId, {
      timeout: '10s',
      tags: { ...tags, name: 'POST /orders (replay)' },
    });
    attempts.add(1, tags);
    const replayId = namedOrderId(replay);
    if (replayId) ids[replayId] = true;
    check(replay, {
      'replay returns the stored answer': (r) => r.status === answer.status && replayId === namedOrderId(answer),
    });
  } else if (__ENV.VERBOSE) {
    console.warn(`retry-storm: key ${attempt.key} unanswered after ${MAX_ATTEMPTS} attempts`);
  }
  verifyOneOrder(attempt, ids, !!answer);
}

export function duplicateSubmits(data) {
  const attempt = newAttempt(data, 'dup', CARDS.success);
  const request = {
    method: 'POST',
    url: `${ORDER_URL}/orders`,
    body: attempt.body,
    params: {
      headers: {
        'Content-Type': 'application/json',
        'Idempotency-Key': attempt.key,
        'X-Correlation-Id': attempt.correlationId,
        ...authHeaders(tokenFor(attempt.customer)),
      },
      tags: { name: 'POST /orders (duplicate)' },
      timeout: '10s',
    },
  };
  const copies = [];
  for (let i = 0; i < DUP_COPIES; i++) copies.push(request);
  const responses = http.batch(copies);
  attempts.add(responses.length);

  const ids = {};
  let definitive = 0;
  for (const res of responses) {
    const id = namedOrderId(res);
    if (id) ids[id] = true;
    if (isDefinitive(res)) definitive++;
    duplicateAnswers.add(1, { status: String(res.status), in_flight: String(isInFlight(res)) });
  }
  check(responses, {
    'duplicates: every copy answered (definitive or 409 in flight)': (rs) =>
      rs.every((r) => isDefinitive(r) || isInFlight(r)),
    'duplicates: at least one definitive answer': () => definitive > 0,
  });
  unanswered.add(definitive === 0);
  verifyOneOrder(attempt, ids, false);
}

export const handleSummary = summaryWriter('retry-storm');

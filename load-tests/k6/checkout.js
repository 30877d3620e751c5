// Checkout under an open workload (see openWorkload in lib/checkout-flow.js): shoppers
// arrive at RATE per second whether or not earlier ones are done.
//
// Each iteration: GET /products -> cart of 1-2 random non-hot products -> POST /orders
// with a fresh Idempotency-Key and the approving card -> on 202, poll to a terminal state.
//
// Env: RATE (50/s), DURATION (30s), PRE_VUS, MAX_VUS, P95_MS (250), P99_MS (500),
// MAX_ERROR_RATE (0.01), MAX_DROPPED (10), POLL_MAX_MS (20000), VERBOSE (log failures).

import { checkout, openWorkload } from '../lib/checkout-flow.js';
import { newRunId, preflight, summaryWriter } from '../lib/common.js';

const {
  rate: RATE,
  duration: DURATION,
  pollMaxMs: POLL_MAX_MS,
  p95Ms: P95_MS,
  p99Ms: P99_MS,
  maxErrorRate: MAX_ERROR_RATE,
  maxDropped: MAX_DROPPED,
  scenario,
} = openWorkload({ rate: 50, duration: '30s' });

export const options = {
  scenarios: {
    checkout: scenario,
  },
  thresholds: {
    checkout_duration: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    checkout_errors: [`rate<${MAX_ERROR_RATE}`],
    // Dropped iterations mean k6 ran out of VUs: the offered load was not applied, so
    // the latency figures would be flattering.
    dropped_iterations: [`count<${MAX_DROPPED}`],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  preflight();
  return { runId: newRunId() };
}

export default function (data) {
  checkout({ runId: data.runId, scenario: 'co', cardKind: 'success', pollMaxMs: POLL_MAX_MS });
}

export const handleSummary = summaryWriter('checkout');

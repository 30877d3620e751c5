// Checkout under an open workload (see openWorkload in lib/checkout-flow.js): shoppers
// arrive at RATE per second whether or not earlier ones are done.
//
// Each iteration: GET /products -> cart of 1-2 random non-hot products -> POST /orders
// with a fresh Idempotency-Key and the approving card -> on 202, poll to a terminal state.
//
// Env: RATE (50/s), DURATION (30s), PRE_VUS, MAX_VUS, P95_MS (250), P99_MS (500),
// MAX_ERROR_RATE (0.01), MAX_DROPPED (10), POLL_MAX_MS (20000), VERBOSE (log failures).

import { checkout, openWorkload } from '../lib/checkout-flow.js';
import { newRunId, preflight, signInAhead, summaryWriter, usePresigned } from '../lib/common.js';

const workload = openWorkload({ rate: 50, duration: '30s' });

export const options = {
  scenarios: {
    checkout: workload.scenario,
  },
  thresholds: {
    ...workload.thresholds,
    checkout_duration: [`p(95)<${workload.p95Ms}`, `p(99)<${workload.p99Ms}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  preflight();
  const runId = newRunId();
  // The VUs allocated up front get their shoppers signed in now, outside the measurement.
  return { runId, tokens: signInAhead(runId, 'co', workload.preVUs) };
}

export default function (data) {
  usePresigned(data.tokens);
  checkout({
    runId: data.runId,
    scenario: 'co',
    cardKind: 'success',
    pollMaxMs: workload.pollMaxMs,
    // The VUs beyond those signed in ahead shop as one of them (a shopper may have several
    // checkouts in flight): the run measures checkouts, not sign-ups.
    shoppers: workload.preVUs,
  });
}

export const handleSummary = summaryWriter('checkout');

// Soak: the checkout flow at a steady, moderate arrival rate for a long time. What it
// looks for is not peak latency but drift: connection pools that leak, tables or queues
// that grow, caches that never expire. Samples are tagged with the part of the run they
// fall in (first, middle, last fifth), and the summary compares the first and the last.
//
// Env: RATE (20/s), DURATION (5m), PRE_VUS, MAX_VUS, P95_MS (250), P99_MS (500),
// MAX_ERROR_RATE (0.01), MAX_DROPPED (10), POLL_MAX_MS (20000), VERBOSE.

import exec from 'k6/execution';

import { checkout, openWorkload } from '../lib/checkout-flow.js';
import { metricValue, newRunId, parseDuration, preflight, summaryWriter } from '../lib/common.js';

const {
  rate: RATE,
  duration: DURATION,
  pollMaxMs: POLL_MAX_MS,
  p95Ms: P95_MS,
  p99Ms: P99_MS,
  maxErrorRate: MAX_ERROR_RATE,
  maxDropped: MAX_DROPPED,
  scenario,
} = openWorkload({ rate: 20, duration: '5m' });
const DURATION_MS = parseDuration(DURATION);

export const options = {
  scenarios: {
    soak: scenario,
  },
  thresholds: {
    checkout_duration: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    // The end of a soak must meet the same bar as the whole: a platform that slowly
    // degrades fails here even when the average still looks fine.
    'checkout_duration{window:last}': [`p(95)<${P95_MS}`],
    'checkout_duration{window:first}': ['max>=0'],
    checkout_errors: [`rate<${MAX_ERROR_RATE}`],
    'checkout_errors{window:last}': [`rate<${MAX_ERROR_RATE}`],
    dropped_iterations: [`count<${MAX_DROPPED}`],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  preflight();
  return { runId: newRunId() };
}

/** Which fifth of the run this moment falls in: first, middle (2nd-4th) or last. */
function windowNow() {
  const fraction = (Date.now() - exec.scenario.startTime) / DURATION_MS;
  if (fraction < 0.2) return 'first';
  if (fraction >= 0.8) return 'last';
  return 'middle';
}

export default function (data) {
  checkout({
    runId: data.runId,
    scenario: 'soak',
    cardKind: 'success',
    pollMaxMs: POLL_MAX_MS,
    tags: { window: windowNow() },
  });
}

export const handleSummary = summaryWriter('soak', (data) => {
  const first = metricValue(data, 'checkout_duration{window:first}', 'p(95)', NaN);
  const last = metricValue(data, 'checkout_duration{window:last}', 'p(95)', NaN);
  const drift = first > 0 ? last / first : NaN;
  return [
    `soak at ${RATE}/s for ${DURATION}: checkout p95 ${first.toFixed(1)}ms in the first fifth, ` +
      `${last.toFixed(1)}ms in the last (x${drift.toFixed(2)})`,
  ];
});

// Soak: the checkout flow at a steady, moderate arrival rate for a long time. What it
// looks for is not peak latency but drift: connection pools that leak, tables or queues
// that grow, caches that never expire. Samples are tagged with the part of the run they
// fall in (first, middle, last fifth), and the summary compares the first and the last.
//
// Env: RATE (20/s), DURATION (5m), PRE_VUS, MAX_VUS, P95_MS (250), P99_MS (500),
// MAX_ERROR_RATE (0.01), MAX_DROPPED (10), POLL_MAX_MS (20000), VERBOSE.

import exec from 'k6/execution';

import { checkout, openWorkload } from '../lib/checkout-flow.js';
import {
  metricValue,
  newRunId,
  parseDuration,
  preflight,
  signInAhead,
  summaryWriter,
  usePresigned,
} from '../lib/common.js';

const workload = openWorkload({ rate: 20, duration: '5m' });
const DURATION_MS = parseDuration(workload.duration);

export const options = {
  scenarios: {
    soak: workload.scenario,
  },
  thresholds: {
    ...workload.thresholds,
    checkout_duration: [`p(95)<${workload.p95Ms}`, `p(99)<${workload.p99Ms}`],
    // The end of a soak must meet the same bar as the whole: a platform that slowly
    // degrades fails here even when the average still looks fine.
    'checkout_duration{window:last}': [`p(95)<${workload.p95Ms}`],
    'checkout_duration{window:first}': ['max>=0'],
    'checkout_errors{window:last}': [`rate<${workload.maxErrorRate}`],
  },
  summaryTrendStats: ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  preflight();
  const runId = newRunId();
  // As in checkout.js: shoppers signed in before the soak, reused by any VU k6 adds.
  return { runId, tokens: signInAhead(runId, 'soak', workload.preVUs) };
}

/** Which fifth of the run this moment falls in: first, middle (2nd-4th) or last. */
function windowNow() {
  const fraction = (Date.now() - exec.scenario.startTime) / DURATION_MS;
  if (fraction < 0.2) return 'first';
  if (fraction >= 0.8) return 'last';
  return 'middle';
}

export default function (data) {
  usePresigned(data.tokens);
  checkout({
    runId: data.runId,
    scenario: 'soak',
    cardKind: 'success',
    pollMaxMs: workload.pollMaxMs,
    shoppers: workload.preVUs,
    tags: { window: windowNow() },
  });
}

export const handleSummary = summaryWriter('soak', (data) => {
  const first = metricValue(data, 'checkout_duration{window:first}', 'p(95)', NaN);
  const last = metricValue(data, 'checkout_duration{window:last}', 'p(95)', NaN);
  const drift = first > 0 ? last / first : NaN;
  return [
    `soak at ${workload.rate}/s for ${workload.duration}: checkout p95 ${first.toFixed(1)}ms in the first fifth, ` +
      `${last.toFixed(1)}ms in the last (x${drift.toFixed(2)})`,
  ];
});

// The checkout scenario (checkout.js: the same open workload, the same shopper journey with
// the approving card), plus one JSON line per shopper with its outcome and its start and
// end time, so that `./dev online-migration` can count the errors of each migration step
// (load-tests/online-migration.sh). Stopped by that command (SIGTERM) when the steps are done.
//
// Env: RATE (20/s), DURATION (2h: an upper bound), and checkout.js's other knobs.

import { checkout, openWorkload } from '../lib/checkout-flow.js';
import { newRunId, preflight, summaryWriter } from '../lib/common.js';

const workload = openWorkload({ rate: 20, duration: '2h' });

export const options = {
  scenarios: {
    checkout: workload.scenario,
  },
  thresholds: workload.thresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  preflight();
  const runId = newRunId();
  console.log(JSON.stringify({ migration_run: runId, ts: Date.now() }));
  return { runId };
}

export default function (data) {
  const started = Date.now();
  const r = checkout({ runId: data.runId, scenario: 'om', cardKind: 'success', pollMaxMs: workload.pollMaxMs });
  console.log(
    JSON.stringify({
      shopper: r.outcome,
      reason: r.reason || null,
      status: r.httpStatus,
      started_ms: started,
      ended_ms: Date.now(),
    }),
  );
}

export const handleSummary = summaryWriter('online-migration');

// Checkout under an open workload: shoppers arrive at RATE per second whether or not
// earlier ones are done, as on a real shop (a closed model would slow its own arrivals
// down when the platform slows, hiding exactly the latency we want to see).
//
// Each iteration: GET /products -> cart of 1-2 random non-hot products -> POST /orders
// with a fresh Idempotency-Key and the approving card -> on 202, poll to a terminal state.
//
// Env: RATE (50/s), DURATION (30s), PRE_VUS, MAX_VUS, P95_MS (250), P99_MS (500),
// MAX_ERROR_RATE (0.01), MAX_DROPPED (10), POLL_MAX_MS (20000), VERBOSE (log failures).

import { checkout } from '../lib/checkout-flow.js';
import { envInt, envNumber, envString, newRunId, preflight, summaryWriter } from '../lib/common.js';

const RATE = envInt('RATE', 50);
const DURATION = envString('DURATION', '30s');
// Enough VUs for one second of arrivals up front; more are added (up to MAX_VUS) only
// if iterations get slow, e.g. when 202s have to be polled.
const PRE_VUS = envInt('PRE_VUS', Math.max(5, RATE));
const MAX_VUS = envInt('MAX_VUS', Math.max(50, RATE * 4));
const P95_MS = envNumber('P95_MS', 250);
const P99_MS = envNumber('P99_MS', 500);
const MAX_ERROR_RATE = envNumber('MAX_ERROR_RATE', 0.01);
const MAX_DROPPED = envInt('MAX_DROPPED', 10);
const POLL_MAX_MS = envInt('POLL_MAX_MS', 20000);

export const options = {
  scenarios: {
    checkout: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: PRE_VUS,
      maxVUs: MAX_VUS,
      // Lets an iteration that is polling a 202 finish instead of being cut off.
      gracefulStop: `${Math.ceil(POLL_MAX_MS / 1000) + 5}s`,
    },
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

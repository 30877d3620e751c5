// Mixed failures: the checkout flow at a steady arrival rate, where a share of shoppers
// use the provider's failing test cards. The point is that bad cards stay the bad cards'
// problem: declines answer fast, unknown outcomes (429, provider error, slow provider)
// answer 202 and end later (cancelled at the 30 s deadline, or confirmed by the
// reconciler), and the shoppers with good cards keep fast checkouts and no errors.
//
// Env: RATE (20/s), DURATION (30s), PRE_VUS, MAX_VUS, shares of checkouts per card:
// SHARE_DECLINED (0.05), SHARE_INSUFFICIENT (0.05), SHARE_RATE_LIMITED (0.05),
// SHARE_SLOW (0.05), SHARE_PROVIDER_ERROR (0.05), the rest approve. POLL_MAX_MS (40000:
// the deadline is 30 s), P95_MS (250) / P99_MS (500) for good-card checkouts,
// MAX_ERROR_RATE (0.01), MAX_DROPPED (10), VERBOSE.

import { CARD_KINDS, checkout, openWorkload } from '../lib/checkout-flow.js';
import { envNumber, metricValue, newRunId, preflight, summaryWriter } from '../lib/common.js';

// Cumulative shares, in a fixed order; whatever is left uses the approving card.
const SHARES = [
  ['declined', envNumber('SHARE_DECLINED', 0.05)],
  ['insufficient_funds', envNumber('SHARE_INSUFFICIENT', 0.05)],
  ['rate_limited', envNumber('SHARE_RATE_LIMITED', 0.05)],
  ['slow', envNumber('SHARE_SLOW', 0.05)],
  ['provider_error', envNumber('SHARE_PROVIDER_ERROR', 0.05)],
];
const failingShare = SHARES.reduce((sum, [, share]) => sum + share, 0);
if (failingShare > 1 || SHARES.some(([, share]) => share < 0)) {
  throw new Error(`card shares must be >= 0 and add up to at most 1 (they add up to ${failingShare})`);
}

// A 429 or provider-error order holds its VU for the whole deadline while polling:
// budget VUs for RATE * share * 40 s of them, plus the quick ones. They are allocated up
// front for the ~32 s (deadline and polling) each of them holds one: a VU k6 has to create
// mid-run arrives late, and the arrivals that find no VU meanwhile are dropped.
const longShare = SHARES.filter(([k]) => k === 'rate_limited' || k === 'provider_error').reduce((s, [, v]) => s + v, 0);
const workload = openWorkload({
  rate: 20,
  duration: '30s',
  // The deadline is 30 s: an unknown outcome is polled until the order is cancelled.
  pollMaxMs: 40000,
  preVUs: (w) => Math.max(10, Math.ceil(w.rate * (2 + longShare * 32))),
  maxVUs: (w) => Math.max(100, Math.ceil(w.rate * (2 + longShare * (w.pollMaxMs / 1000) * 1.5))),
});

function pickCard() {
  let r = Math.random();
  for (const [kind, share] of SHARES) {
    if (r < share) return kind;
    r -= share;
  }
  return 'success';
}

const OUTCOME_METRICS = ['orders_confirmed', 'orders_rejected', 'orders_cancelled', 'orders_unresolved', 'checkout_unavailable'];
const CARDS_IN_TABLE = Object.keys(CARD_KINDS);

// Thresholds that only make k6 keep per-card sub-metrics for the table in the summary.
const perCard = {};
for (const card of CARDS_IN_TABLE) {
  for (const m of OUTCOME_METRICS) perCard[`${m}{card:${card}}`] = ['count>=0'];
  perCard[`time_to_terminal{card:${card}}`] = ['max>=0'];
  perCard[`checkout_duration{card:${card}}`] = ['max>=0'];
}

export const options = {
  scenarios: {
    // Orders placed near the end still get polled to their deadline (gracefulStop).
    mixed_failures: workload.scenario,
  },
  thresholds: {
    ...perCard,
    // Every checkout, whatever its card, must reach its card's outcome within the bound
    // (checkout_errors, among the shared thresholds).
    ...workload.thresholds,
    // Good cards must not suffer from the bad ones.
    'checkout_duration{card:success}': [`p(95)<${workload.p95Ms}`, `p(99)<${workload.p99Ms}`],
  },
  summaryTrendStats: ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  preflight();
  return { runId: newRunId() };
}

export default function (data) {
  checkout({
    runId: data.runId,
    scenario: 'mx',
    cardKind: pickCard(),
    pollMaxMs: workload.pollMaxMs,
    // The long waits are 30 s deadlines: no point asking every second.
    pollIntervalMaxMs: 2000,
  });
}

/** One row per card: how many checkouts, how they ended, how long they took. */
function outcomeTable(data) {
  const sub = (metric, card, stat) => metricValue(data, `${metric}{card:${card}}`, stat, 0);
  const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`);
  const header = ['card', 'sent', 'confirmed', 'rejected', 'cancelled', 'unresolved', '503', 'POST p95', 'terminal p95'];
  const rows = [header];
  for (const card of CARDS_IN_TABLE) {
    const sent = sub('checkout_duration', card, 'count');
    if (!sent) continue;
    rows.push([
      card,
      sent,
      sub('orders_confirmed', card, 'count'),
      sub('orders_rejected', card, 'count'),
      sub('orders_cancelled', card, 'count'),
      sub('orders_unresolved', card, 'count'),
      sub('checkout_unavailable', card, 'count'),
      fmt(sub('checkout_duration', card, 'p(95)')),
      fmt(sub('time_to_terminal', card, 'p(95)')),
    ].map(String));
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return ['outcomes per card:'].concat(
    rows.map((r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`),
  );
}

export const handleSummary = summaryWriter('mixed-failures', outcomeTable, { breakdown: false });

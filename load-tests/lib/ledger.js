// The client-side ledger of a chaos run: what every client sent and what it was told, as
// one JSON line per record, for load-tests/tools' check-ledger to hold against the
// databases afterwards.
//
// k6 has no shared file writes, so each record is a console.log line of JSON tagged
// {"ledger": ...}; run-k6.sh's caller passes `--log-output=file=<results>/ledger.jsonl
// --log-format=raw`, which makes k6 append the bare message lines to that one file (k6's
// own warnings land there too; the checker skips every line that is not a ledger record).
//
//   {"ledger":"attempt","key","customer","n","sent_ms","ts","status","error","code","order_id"}
//       one per POST /orders; status 0 = transport error or timeout (error says which),
//       code = the error body's code (e.g. request_in_flight), order_id if the answer
//       named one (the order, or a 409's details.order_id)
//   {"ledger":"final","key","customer","outcome","order_id","reason","started_ms","ts",
//    "attempts","polls"}
//       one per key when its client stops: outcome confirmed, rejected, cancelled, or
//       unknown (patience ran out without a definitive answer)

export function ledgerAttempt(fields) {
  console.log(JSON.stringify({ ledger: 'attempt', ...fields }));
}

export function ledgerFinal(fields) {
  console.log(JSON.stringify({ ledger: 'final', ...fields }));
}

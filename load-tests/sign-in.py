#!/usr/bin/env python3
"""Signs in COUNT shoppers before a load run and writes their tokens for k6 (TOKENS_FILE).

    load-tests/sign-in.py --order-url http://127.0.0.1:8081 --prefix lt-hot-1 --count 2000 \\
        --out tokens.json

Shopper i (1..COUNT) is customer PREFIX-i, registered (POST /customers) or, if it exists,
signed in (POST /sessions), with the password the k6 scripts use. The output is a JSON
array of {"customer_id", "token"} in that order, one per k6 VU.

Why apart from the run: a sign-up is an Argon2id hash on the order service, tens of
milliseconds of CPU on purpose, and it hashes only a few at once (503 sign_in_busy for the
rest). Thousands of VUs signing in as the sale opens would measure hashing, not the sale;
and tokens passed through k6's setup() are copied into every VU (half a megabyte each for
2,000 shoppers), where a file read into a SharedArray is one copy.
"""

import argparse
import concurrent.futures
import json
import sys
import time
import urllib.error
import urllib.request

# The password of every load-test shopper (load-tests/lib/common.js, SHOPPER_PASSWORD).
PASSWORD = "load-test shopper password"
PATIENCE_SECS = 120


def post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null"), None
    except urllib.error.HTTPError as e:
        return e.code, None, e.headers.get("Retry-After")


def sign_in(order_url, customer):
    """The shopper's token: registered, or signed in if it exists; 503s are waited out."""
    credentials = {"customer_id": customer, "password": PASSWORD}
    give_up = time.monotonic() + PATIENCE_SECS
    path = "/customers"
    while True:
        status, body, retry_after = post(order_url + path, credentials)
        if status in (200, 201):
            return body["token"]
        if status == 409 and path == "/customers":
            path = "/sessions"
            continue
        if status == 503 and retry_after and time.monotonic() < give_up:
            time.sleep(min(float(retry_after), 5))
            continue
        raise RuntimeError(f"{customer}: {path} answered {status}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--count", type=int, required=True)
    # A few at once: the order service hashes one per core and tells the rest to come back.
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    customers = [f"{args.prefix}-{i}"[:64] for i in range(1, args.count + 1)]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        tokens = list(pool.map(lambda c: sign_in(args.order_url, c), customers))
    with open(args.out, "w") as out:
        json.dump([{"customer_id": c, "token": t} for c, t in zip(customers, tokens)], out)
    print(
        f"sign-in: {len(tokens)} shoppers signed in in {time.monotonic() - started:.1f} s -> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

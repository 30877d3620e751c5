"""Quantiles from two scrapes of a Prometheus histogram (a service's /metrics before and after a
run), for the load reports (load-report.py, hot-product-report.py)."""
import re


def histogram(text, name, labels=""):
    """Bucket counts of a Prometheus histogram, summed over the label sets that contain
    `labels` (e.g. 'mode="row"'; all of them when empty): {le: count}."""
    buckets = {}
    for line in text.splitlines():
        m = re.match(rf'^{name}_bucket\{{(.*)\}} ([0-9.e+-]+)$', line)
        if not m or labels not in m.group(1):
            continue
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        buckets[le] = buckets.get(le, 0.0) + float(m.group(2))
    return buckets


def quantile(before, after, q):
    """Estimates a quantile from the difference of two scrapes of a cumulative histogram."""
    delta = {le: after.get(le, 0.0) - before.get(le, 0.0) for le in after}
    bounds = sorted((float("inf") if le == "+Inf" else float(le), n) for le, n in delta.items())
    if not bounds or bounds[-1][1] <= 0:
        return None
    target, previous_bound, previous_count = q * bounds[-1][1], 0.0, 0.0
    for bound, count in bounds:
        if count >= target:
            if bound == float("inf"):
                return previous_bound
            span = count - previous_count
            return previous_bound + (bound - previous_bound) * ((target - previous_count) / span if span else 0)
        previous_bound, previous_count = bound, count
    return None


def count(before, after):
    """How many observations the histogram gained between the two scrapes."""
    return after.get("+Inf", 0.0) - before.get("+Inf", 0.0)

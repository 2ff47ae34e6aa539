#!/usr/bin/env python3
"""A lower bound on the lag-seconds of any scaling plan with few scale events
on a periodic-burst trace, within a replica-seconds budget.

Usage: burst_plan_bound.py CLI TRACE EVENTS BUDGET KEDA_LAG -- SIMULATE_OPTIONS...
  CLI       the eventworker CLI (its `simulate` is the model judged)
  EVENTS    the most scale events a plan may make (KEDA's)
  BUDGET    the most replica-seconds it may pay (KEDA's, or the keep-up floor)
  KEDA_LAG  KEDA's lag-seconds, to print the bound as a ratio

The argument. Cut the trace into periods, each from one burst's onset to the
next (the onsets: the rate above twice its median; the time before the
first and after the last onset is only counted at 1 replica and no lag). A plan with at most
EVENTS scale events changes the replica count within at most EVENTS periods;
in every other period (at least n = periods - EVENTS of them) it runs one
count r throughout, so it pays at least r x the period's length there and at
least 1 replica everywhere else, and that period's lag-seconds are at least
L(r): the smallest, over the trace's bursts, of the lag-seconds within one
period of a group that runs r replicas all along and starts the period with
no backlog (`simulate --min-replicas r --max-replicas r`, checked to be
drained at each onset; a backlog carried in, a pod start or a rebalance only
add lag). With c the shortest period, the constant periods' counts satisfy
sum(r - 1) <= (BUDGET - trace seconds) / c, and since the lower convex hull
of L is convex and decreasing, their lag is at least n x hull(1 + that / n).
The bound is the smallest of these over n from periods - EVENTS to periods.
Prints L(r) per count and the bound; exit status 0.
"""
import csv
import os
import statistics
import subprocess
import sys
import tempfile


def simulate(cli, trace, replicas, options):
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        path = f.name
    try:
        subprocess.run([cli, "simulate", "--trace", trace, "--min-replicas", str(replicas), "--max-replicas",
                        str(replicas), "--csv", path] + options, check=True, stdout=subprocess.DEVNULL)
        return [(float(r["produce_rate"]), float(r["lag"])) for r in csv.DictReader(open(path))]
    finally:
        os.unlink(path)


def hull(points):
    """Lower convex hull of (x, y) points sorted by x."""
    out = []
    for p in points:
        while len(out) >= 2 and (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0]) >= (p[1] - out[-2][1]) * (
                out[-1][0] - out[-2][0]):
            out.pop()
        out.append(p)
    return out


def at(h, x):
    """The hull's value at x (clamped to its ends)."""
    if x <= h[0][0]:
        return h[0][1]
    for (x0, y0), (x1, y1) in zip(h, h[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return h[-1][1]


def main():
    args = sys.argv[1:]
    split = args.index("--") if "--" in args else len(args)
    if split < 5:
        sys.exit(__doc__)
    cli, trace, events, budget, keda_lag = args[:5]
    events, budget, keda_lag = int(events), float(budget), float(keda_lag)
    options, rest = [], args[split + 1:]
    while rest:  # the counts are the script's to set
        if rest[0] in ("--min-replicas", "--max-replicas"):
            rest = rest[2:]
        else:
            options, rest = options + rest[:1], rest[1:]
    partitions = int(options[options.index("--partitions") + 1]) if "--partitions" in options else 12

    base = simulate(cli, trace, 1, options)
    rates = [r for r, _ in base]
    median = statistics.median(rates)
    onsets = [t for t in range(1, len(rates)) if rates[t] > 2 * median >= rates[t - 1]]
    periods = list(zip(onsets, onsets[1:]))  # the last burst's, cut short by the trace's end, not counted
    shortest = min(b - a for a, b in periods)
    # Counts at partition breakpoints: any other count has the capacity of the
    # breakpoint below it and costs more.
    counts = sorted({-(-partitions // -(-partitions // r)) for r in range(1, partitions + 1)})
    # From the most replicas down: a count whose run carries a backlog into a
    # period is bounded by the next larger count's L (fewer replicas from the
    # same start never leave less lag).
    points = []
    for r in reversed(counts):
        steps = simulate(cli, trace, r, options)
        if all(steps[a - 1][1] <= 1 for a, _ in periods):
            points.insert(0, (r, min(sum(lag for _, lag in steps[a:b]) for a, b in periods), ""))
        else:
            points.insert(0, (r, points[0][1], " (a backlog carries over: the bound of %d)" % points[0][0]))
    print("replicas  L(r): least lag-seconds of one period at a constant count")
    for r, least, note in points:
        print("%8d  %12.0f%s" % (r, least, note))
    h = hull([(r, least) for r, least, _ in points])
    spare = (budget - len(rates)) / shortest
    lag, n = min((n * at(h, 1 + spare / n), n) for n in range(max(1, len(periods) - events), len(periods) + 1))
    print("%d periods between bursts, of at least %d s; at most %d scale events, at most %.0f replica-seconds" %
          (len(periods), shortest, events, budget))
    print("any such plan: lag-seconds >= %.0f = %.2fx KEDA's (fewest constant periods: %d)" %
          (lag, lag / keda_lag, n))


if __name__ == "__main__":
    main()

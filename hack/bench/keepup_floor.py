#!/usr/bin/env python3
"""Replica-seconds of an oracle that always runs exactly enough replicas.

Usage: keepup_floor.py TRACE PARTITIONS PER_REPLICA_RATE

Each second t of the trace (its rate at t + 0.5, linear between rows, as the
simulator reads it) the oracle runs the fewest replicas r whose busiest
member's share keeps up: PER_REPLICA_RATE * P / ceil(P / r) >= rate (at most
P). No pod start, no rebalance, no lag. A policy that keeps up with the trace
pays at least this many replica-seconds; when an autoscaler pays fewer, it
has run below the production rate (its lag grew) for part of the trace.
"""
import math
import sys


def main():
    path, partitions, per_replica = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rows = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        t, rate = line.split(",")
        try:
            rows.append((float(t), float(rate)))
        except ValueError:
            continue  # the header
    capacities = [per_replica * partitions / math.ceil(partitions / r) for r in range(1, partitions + 1)]
    total, i = 0, 0
    for second in range(int(rows[-1][0])):
        t = second + 0.5
        while i + 1 < len(rows) and rows[i + 1][0] < t:
            i += 1
        if t <= rows[0][0] or i + 1 >= len(rows):
            rate = rows[0][1] if t <= rows[0][0] else rows[-1][1]
        else:
            (t0, r0), (t1, r1) = rows[i], rows[i + 1]
            rate = r0 + (r1 - r0) * (t - t0) / (t1 - t0)
        total += next((r for r, c in enumerate(capacities, 1) if c >= rate), partitions)
    print(total)


if __name__ == "__main__":
    main()

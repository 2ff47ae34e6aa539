#!/usr/bin/env python3
"""Text plot of one trace (issue 18): lag and replicas over time of both
policies, from the CSVs `eventworker simulate --csv` writes, as four rows of
WIDTH columns (each column: the maximum over its time slice). Lag rows share
one scale (the larger maximum), replica rows another, so rows compare.
Usage: plot_text.py NAME EVENTWORKER.csv KEDA.csv [WIDTH]"""
import csv
import sys

BARS = " ▁▂▃▄▅▆▇█"


def series(path, column):
    with open(path, newline="") as f:
        return [float(row[column]) for row in csv.DictReader(f)]


def columns(values, width):
    n = len(values)
    return [max(values[i * n // width:max((i + 1) * n // width, i * n // width + 1)]) for i in range(width)]


def row(values, top):
    return "".join(BARS[min(8, round(8 * v / top))] if top > 0 else " " for v in values)


def main():
    name, ew_csv, keda_csv = sys.argv[1:4]
    width = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    data = {p: {c: columns(series(f, c), width) for c in ("lag", "replicas")}
            for p, f in (("eventworker", ew_csv), ("keda", keda_csv))}
    seconds = len(series(ew_csv, "t"))
    lag_top = max(max(d["lag"]) for d in data.values())
    rep_top = max(max(d["replicas"]) for d in data.values())
    print(f"{name}: {seconds} s, {width} columns of {seconds / width:.0f} s (max per column)")
    for what, top, unit in (("lag", lag_top, "messages"), ("replicas", rep_top, "replicas")):
        for policy in ("eventworker", "keda"):
            print(f"  {policy:11s} {what:8s} |{row(data[policy][what], top)}| peak {max(data[policy][what]):.0f}")
        print(f"  {'':20s} (full bar = {top:.0f} {unit})")


if __name__ == "__main__":
    main()

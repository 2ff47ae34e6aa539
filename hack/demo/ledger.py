#!/usr/bin/env python3
"""Counts a ledger of the demo (the autoscaling worker's demo.orders.ledger,
or the migration's demo.payments.ledger across both apps): the records the
ledger handler (tests/support/ledger_handler) wrote, one per event it
acknowledged, as kcat printed them ("<timestamp ms>\\t<JSON>" a line).
Prints one line: DISTINCT ENTRIES DUPLICATES LOST PODS FIRST_NEW_POD_S LONGEST_GAP_S
  DISTINCT  events of seq 0..PRODUCED-1 handled at least once
  LOST      PRODUCED - DISTINCT;  DUPLICATES  entries - distinct event ids
  PODS      pods that handled events
  FIRST_NEW_POD_S  seconds from SINCE_MS to the first event handled by a pod
            other than the one that handled the earliest event (-1: none)
  LONGEST_GAP_S  the longest time between two consecutive records
Usage: ledger.py FILE PRODUCED SINCE_MS"""
import json
import sys

path, produced, since = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ids, seqs, entries = set(), set(), 0
first = {}  # pod -> timestamp (ms) of its first record
times = []
with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
        ts, _, value = line.rstrip("\n").partition("\t")
        try:
            e = json.loads(value)
            at = int(ts)
        except ValueError:
            continue
        entries += 1
        times.append(at)
        ids.add(e.get("id"))
        if isinstance(e.get("seq"), int) and 0 <= e["seq"] < produced:
            seqs.add(e["seq"])
        pod = e.get("pod", "")
        first[pod] = min(first.get(pod, at), at)
pods = sorted(first, key=first.get)
new = round((first[pods[1]] - since) / 1000.0, 1) if len(pods) > 1 else -1
times.sort()
gap = max((b - a for a, b in zip(times, times[1:])), default=0) / 1000.0
print(len(seqs), entries, entries - len(ids), produced - len(seqs), len(pods), new, gap)

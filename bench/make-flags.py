#!/usr/bin/env python3
"""Writes a synthetic credit-bureau flag file with valid ID numbers (for benchmarks).

usage: make-flags.py ROWS FILE [SEED] [ROSTER]

ID numbers are drawn at random (regions, birth dates from 1960 on and serials), so next to
none is a registered worker's. With ROSTER (a file from make-roster.py whose workers were
imported with `registry import-workers`), 1 % of the lines are about those workers instead, so
that an import also attaches flags to files and queues their regrades and texts.
"""
import datetime
import random
import sys

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
REGIONS = ["110101", "110105", "310104", "320102", "330106", "350102", "440106", "510104", "420102", "610103"]
CATEGORIES = ["loan_fraud", "debt_default", "fare_evasion"]
STATUSES = ["alleged", "charged", "adjudicated"]
MATCHING_SHARE = 0.01


def main():
    rows, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    known = []
    if len(sys.argv) > 4:
        with open(sys.argv[4], encoding="utf-8") as roster:
            next(roster)
            known = [line.split(",", 1)[0] for line in roster if line.strip()]
    start = datetime.date(1960, 1, 1)
    with open(path, "w", encoding="utf-8") as out:
        out.write("id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n")
        for n in range(rows):
            body = f"{rng.choice(REGIONS)}{start + datetime.timedelta(days=rng.randrange(0, 365 * 45)):%Y%m%d}{rng.randrange(1000):03d}"
            number = body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]
            if known and rng.random() < MATCHING_SHARE:
                number = rng.choice(known)
            occurred = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(0, 600))
            out.write(f"{number},CB-{n:08d},{rng.choice(CATEGORIES)},{rng.randint(1, 5)},{rng.choice(STATUSES)},{occurred},,\n")


if __name__ == "__main__":
    main()

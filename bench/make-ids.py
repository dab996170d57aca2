#!/usr/bin/env python3
"""Writes N random, well-formed ID numbers (GB 11643: a real province's county code, a birth date
between 1960 and 2004, a serial and the ISO 7064 MOD 11-2 check character), one per line: what the
public ban-lookup benchmark asks about. Almost none belong to a worker of the generated data set,
like most real look-ups; the service answers each from the blind-index index either way.

usage: make-ids.py N OUT_FILE
"""
import datetime
import random
import sys

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
COUNTIES = ["110101", "310115", "320102", "320506", "330106", "440103", "510104", "610113", "420102", "370102"]


def id_number(rng):
    birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=rng.randrange(45 * 365))
    body = rng.choice(COUNTIES) + birth.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(20261202)
    with open(out, "w") as f:
        for _ in range(n):
            f.write(id_number(rng) + "\n")


if __name__ == "__main__":
    main()

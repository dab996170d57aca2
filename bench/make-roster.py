#!/usr/bin/env python3
"""Writes a synthetic roster CSV with valid, distinct GB 11643 ID numbers (for benchmarks).

usage: make-roster.py ROWS FILE [SEED]
"""
import datetime
import random
import sys

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
REGIONS = ["110101", "110105", "310104", "320102", "330106", "350102", "440106", "510104"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["秀英", "桂兰", "春梅", "美华", "玉珍", "小红", "丽娟", "海燕", "淑芬", "建华", "慧敏", "秀兰"]
CATEGORIES = ["nanny", "maternity", "elder_care", "patient_care", "housekeeping", "cooking"]


def id_number(region, day, serial):
    body = f"{region}{day:%Y%m%d}{serial:03d}"
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]


def main():
    rows, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    start = datetime.date(1966, 1, 1)
    seen = set()
    with open(path, "w", encoding="utf-8") as out:
        out.write("id_number,full_name,sex,phone,home_region,service_categories\n")
        while len(seen) < rows:
            region = rng.choice(REGIONS)
            day = start + datetime.timedelta(days=rng.randrange(0, 365 * 38))
            serial = rng.randrange(0, 500) * 2  # even: women
            number = id_number(region, day, serial)
            if number in seen:
                continue
            seen.add(number)
            cats = ";".join(rng.sample(CATEGORIES, rng.randint(1, 2)))
            phone = f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}"
            out.write(f"{number},{rng.choice(SURNAMES)}{rng.choice(GIVEN)},F,{phone},{region},{cats}\n")


if __name__ == "__main__":
    main()

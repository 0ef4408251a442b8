"""Lays MovieLens 100k ratings out as a data lake: one gzip CSV (with a header)
per day under Hive-style folders, ratings/year=YYYY/month=MM/day=DD/, and the
items as JSON lines under plain folders, items/<first letter>/.

    python3 make_lake.py DATASETS_DIR LAKE_DIR
"""
import csv
import datetime
import gzip
import json
import os
import sys

datasets, lake = sys.argv[1], sys.argv[2]

by_day = {}
with open(os.path.join(datasets, "ml-100k", "ratings.tsv")) as f:
    rows = csv.reader(f, delimiter="\t")
    next(rows)
    for user, item, rating, ts in rows:
        when = datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc)
        by_day.setdefault(when.date(), []).append(
            (user, item, rating, when.strftime("%Y-%m-%d %H:%M:%S"))
        )
for day, rows in sorted(by_day.items()):
    folder = os.path.join(
        lake, "ratings", f"year={day.year}", f"month={day.month:02d}", f"day={day.day:02d}"
    )
    os.makedirs(folder, exist_ok=True)
    with gzip.open(os.path.join(folder, "ratings.csv.gz"), "wt", newline="") as out:
        w = csv.writer(out)
        w.writerow(["user_id", "item_id", "rating", "rated_at"])
        w.writerows(rows)

with open(os.path.join(datasets, "ml-100k", "items.tsv"), encoding="latin-1") as f:
    rows = csv.DictReader(f, delimiter="\t")
    by_letter = {}
    for row in rows:
        letter = (row.get("movie_title") or "_")[:1].lower()
        letter = letter if letter.isalpha() else "other"
        by_letter.setdefault(letter, []).append(row)
for letter, rows in by_letter.items():
    folder = os.path.join(lake, "items", letter)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "items.json"), "w") as out:
        for row in rows:
            row["item_id"] = int(row["item_id"])
            year = row.get("release_year") or ""
            row["release_year"] = int(year) if year.isdigit() else None
            out.write(json.dumps(row) + "\n")
print(f"{sum(len(r) for r in by_day.values())} ratings in {len(by_day)} daily files, "
      f"{sum(len(r) for r in by_letter.values())} items in {len(by_letter)} folders")

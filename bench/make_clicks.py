"""Writes FILES small CSV files (with a header) of ROWS clicks each under
Hive-style day folders, clicks/year=2024/month=MM/day=DD/part-N.csv, spread
evenly over consecutive days from 2024-01-01.

    python3 make_clicks.py OUT_DIR FILES ROWS
"""
import datetime
import os
import random
import sys

out, files, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
days = max(1, min(300, files // 30))
random.seed(42)
start = datetime.date(2024, 1, 1)
for n in range(files):
    day = start + datetime.timedelta(days=n % days)
    folder = os.path.join(out, f"year={day.year}", f"month={day.month:02d}", f"day={day.day:02d}")
    os.makedirs(folder, exist_ok=True)
    lines = ["id,user_id,url,amount,clicked_at"]
    base = n * rows
    for i in range(rows):
        lines.append(
            f"{base + i},u{random.randrange(100000)},/p/{random.randrange(5000)},"
            f"{random.randrange(100000) / 100:.2f},{day} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
        )
    with open(os.path.join(folder, f"part-{n:05d}.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")

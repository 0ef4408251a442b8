"""The statements of movies_queries.hql in DuckDB, for a side-by-side timing.

usage: duckdb_movies.py csv|parquet PATH
"""
import resource
import sys
import time

import duckdb

kind, path = sys.argv[1], sys.argv[2]
con = duckdb.connect()
if kind == "csv":
    source = (
        f"read_csv('{path}/*', delim='\\t', header=false, "
        "columns={'user_id': 'INTEGER', 'item_id': 'INTEGER', 'rating': 'INTEGER', 'ts': 'BIGINT'})"
    )
else:
    source = f"read_parquet('{path}/*.parquet')"
con.execute(f"CREATE VIEW ratings AS SELECT * FROM {source}")
started = time.time()
for sql in [
    "SELECT COUNT(DISTINCT item_id) FROM ratings",
    "SELECT COUNT(*) FROM (SELECT user_id FROM ratings GROUP BY user_id HAVING COUNT(item_id) > 5 AND AVG(rating) > 4) picky",
    "CREATE OR REPLACE TABLE vote AS SELECT item_id, AVG(rating) AS vote_average, COUNT(*) AS vote_count FROM ratings GROUP BY item_id",
    "SELECT quantile_cont(vote_average, 0.5), quantile_cont(vote_count, 0.9) FROM vote",
    "SELECT item_id, vote_count, vote_average FROM vote WHERE vote_count >= 100 ORDER BY vote_average DESC, item_id LIMIT 5",
]:
    rows = con.execute(sql).fetchall()
    if not sql.startswith("CREATE"):  # DuckDB reports a CTAS's row count; Hive prints nothing
        for row in rows:
            print("\t".join(str(v) for v in row))
print(f"duckdb {duckdb.__version__}: {time.time() - started:.3f} s of queries, "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", file=sys.stderr)

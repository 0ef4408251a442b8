"""pyarrow and DuckDB against `nuage serve`'s S3 API (argv[1] = endpoint).

Run by s3_api.rs with the Python of ~/.cache/nuage-py (duckdb 1.5.5, its
httpfs extension from PyPI, pyarrow; .ci/run prepares it). pyarrow's
S3FileSystem writes a partitioned Parquet dataset (the test then crawls it
with nuage); DuckDB's httpfs reads it back and writes a Parquet file with a
multipart upload. Expected values are computed here from the rows written.
"""

import os
import sys

import duckdb
import duckdb_extension_httpfs
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

endpoint = sys.argv[1]
host = endpoint.split("://", 1)[1]
fs = pafs.S3FileSystem(
    endpoint_override=host,
    scheme="http",
    access_key="test",
    secret_key="test",
    region="us-east-1",
    allow_bucket_creation=True,
)
fs.create_dir("tools")

rows = 3000
table = pa.table(
    {
        "user_id": pa.array([i % 97 for i in range(rows)], pa.int64()),
        "rating": pa.array([float(i % 5 + 1) for i in range(rows)], pa.float64()),
        "year": pa.array([2023 + i % 2 for i in range(rows)], pa.int64()),
    }
)
pq.write_to_dataset(table, "tools/ratings", partition_cols=["year"], filesystem=fs)
files = [i.path for i in fs.get_file_info(pafs.FileSelector("tools/ratings", recursive=True)) if i.is_file]
assert len(files) >= 2 and all(f.endswith(".parquet") for f in files), files
back = pq.read_table("tools/ratings", filesystem=fs)
assert back.num_rows == rows, back.num_rows

expected_sum = sum(i % 5 + 1 for i in range(rows))
extension = os.path.join(
    os.path.dirname(duckdb_extension_httpfs.__file__), "extensions", "v" + duckdb.__version__, "httpfs.duckdb_extension"
)
con = duckdb.connect()
con.execute(f"LOAD '{extension}'")
for setting in [
    f"SET s3_endpoint='{host}'",
    "SET s3_url_style='path'",
    "SET s3_use_ssl=false",
    "SET s3_region='us-east-1'",
    "SET s3_access_key_id='test'",
    "SET s3_secret_access_key='test'",
]:
    con.execute(setting)
count, total, years = con.execute(
    "SELECT count(*), sum(rating), count(DISTINCT year) "
    "FROM read_parquet('s3://tools/ratings/*/*.parquet', hive_partitioning=true)"
).fetchone()
assert (count, total, years) == (rows, expected_sum, 2), (count, total, years)
# DuckDB writes through a multipart upload.
con.execute(
    "COPY (SELECT range AS n, range * 2 AS twice FROM range(200000)) "
    "TO 's3://tools/written/numbers.parquet' (FORMAT parquet)"
)
n, twice = con.execute("SELECT count(*), sum(twice) FROM 's3://tools/written/numbers.parquet'").fetchone()
assert (n, twice) == (200000, 2 * sum(range(200000))), (n, twice)
print("ok")

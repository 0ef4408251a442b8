-- The ratings-heavy part of examples/movies/init_rs.hql, over an external table
-- `ratings` (user_id, item_id, rating, ts) that bench/movies.sh points at CSV or
-- Parquet. The same statements run in DuckDB (bench/duckdb_movies.py).
SELECT COUNT(DISTINCT item_id) FROM ratings;
SELECT COUNT(*) FROM (
  SELECT user_id FROM ratings GROUP BY user_id HAVING COUNT(item_id) > 5 AND AVG(rating) > 4
) picky;
DROP TABLE IF EXISTS vote;
CREATE TABLE vote STORED AS PARQUET AS
SELECT item_id, AVG(rating) AS vote_average, COUNT(*) AS vote_count FROM ratings GROUP BY item_id;
SELECT percentile(vote_average, 0.5), percentile(vote_count, 0.9) FROM vote;
SELECT item_id, vote_count, vote_average FROM vote WHERE vote_count >= 100 ORDER BY vote_average DESC, item_id LIMIT 5;

-- Athena-style SQL over the crawled lake (run by run.sh after `nuage crawl`).
-- Every statement reports on stderr the bytes and files it read and the
-- partitions it kept.

-- The whole table: every daily file is read.
SELECT count(*) AS ratings, round(avg(rating), 3) AS mean FROM movielens.ratings;

-- One month: partition pruning reads one month's files only.
SELECT count(*) AS ratings, round(avg(rating), 3) AS mean FROM movielens.ratings
WHERE year = '1998' AND month = '03';

-- Ratings per month, from folder names alone.
SELECT year, month, count(*) AS ratings FROM movielens.ratings GROUP BY year, month ORDER BY year, month;

-- A join with the JSON items the crawler found under items/<letter>/.
SELECT i.movie_title, count(*) AS ratings
FROM movielens.ratings r JOIN movielens.items i ON r.item_id = i.item_id
WHERE r.year = '1998' AND r.month = '03'
GROUP BY i.movie_title ORDER BY ratings DESC, i.movie_title LIMIT 5;

-- Athena's CTAS: the same rows as Parquet, partitioned by month (columns last).
DROP TABLE IF EXISTS movielens.ratings_parquet;
CREATE TABLE movielens.ratings_parquet
WITH (format = 'PARQUET', write_compression = 'SNAPPY',
      external_location = 's3://lake/ratings_parquet/', partitioned_by = ARRAY['year', 'month'])
AS SELECT user_id, item_id, rating, rated_at, year, month FROM movielens.ratings;

-- The same two queries on Parquet: only the rating column's chunks are read.
SELECT count(*) AS ratings, round(avg(rating), 3) AS mean FROM movielens.ratings_parquet;
SELECT count(*) AS ratings, round(avg(rating), 3) AS mean FROM movielens.ratings_parquet
WHERE year = '1998' AND month = '03';

-- Who spent what: the last statements of this script, from the query history.
SELECT substr(statement, 1, 60) AS statement, bytes_scanned, files_scanned, state
FROM system.queries ORDER BY start_time DESC LIMIT 4;

-- The seed's movie analysis (Hive on EMR), on MovieLens 100k.
--
--   nuage sql -f examples/movies/init_rs.hql --hiveconf data=$HOME/.cache/nuage-datasets/ml-100k
--
-- `data` is the folder that scripts/fetch-datasets.sh fills: ratings.tsv,
-- items.tsv and users.tsv, tab-separated, with one header line each.

CREATE DATABASE IF NOT EXISTS movielens;
USE movielens;

DROP TABLE IF EXISTS ratings;
DROP TABLE IF EXISTS movies;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS vote;
DROP TABLE IF EXISTS vote_stats;

-- Managed text tables, loaded the way the seed did with LOAD DATA.
CREATE TABLE ratings (userId INT, movieId INT, rating INT, ts BIGINT)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
STORED AS TEXTFILE
TBLPROPERTIES ('skip.header.line.count'='1');

CREATE TABLE movies (movieId INT, title STRING, release_year INT, genres STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
TBLPROPERTIES ('skip.header.line.count'='1');

CREATE TABLE users (userId INT, age INT, gender STRING, occupation STRING, zip STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
TBLPROPERTIES ('skip.header.line.count'='1');

LOAD DATA LOCAL INPATH '${hiveconf:data}/ratings.tsv' INTO TABLE ratings;
LOAD DATA LOCAL INPATH '${hiveconf:data}/items.tsv' INTO TABLE movies;
LOAD DATA LOCAL INPATH '${hiveconf:data}/users.tsv' INTO TABLE users;

-- Sanity checks.
SELECT COUNT(DISTINCT(movieId)) FROM ratings;
SELECT COUNT(*) FROM movies WHERE genres LIKE '%Animation%';
SELECT COUNT(*) FROM (
  SELECT userId FROM ratings GROUP BY userId HAVING COUNT(movieId) > 5 AND AVG(rating) > 4
) picky;

-- Votes per movie: the seed's vote_average and vote_count.
CREATE TABLE vote AS
SELECT movieId, AVG(rating) AS vote_average, COUNT(*) AS vote_count
FROM ratings GROUP BY movieId;

-- Top 5 by vote average among movies with at least 100 votes.
SELECT m.title, v.vote_average, v.vote_count
FROM vote v JOIN movies m ON v.movieId = m.movieId
WHERE v.vote_count >= 100
ORDER BY v.vote_average DESC, m.title
LIMIT 5;

-- IMDB weighted rating v/(v+m)*R + m/(m+v)*C, with C the median vote average
-- and m the 90th percentile of vote counts, written back into the table.
CREATE TABLE vote_stats AS
SELECT percentile(vote_average, 0.5) AS c, percentile(vote_count, 0.9) AS m FROM vote;
SELECT c, m FROM vote_stats;

ALTER TABLE vote ADD COLUMNS (wr FLOAT);
UPDATE vote SET wr =
    vote_count / (vote_count + (SELECT m FROM vote_stats)) * vote_average
  + (SELECT m FROM vote_stats) / ((SELECT m FROM vote_stats) + vote_count) * (SELECT c FROM vote_stats);

-- Top 10 by weighted rating.
SELECT m.title, v.vote_count, round(v.vote_average, 3), round(v.wr, 3)
FROM vote v JOIN movies m ON v.movieId = m.movieId
ORDER BY v.wr DESC, m.title
LIMIT 10;

-- Genres are one text column ("Animation Children's Comedy"): LATERAL VIEW
-- explode(split(...)) turns them into rows instead of LIKE '%...%' guesses.
SELECT genre, COUNT(*) AS movies
FROM movies LATERAL VIEW explode(split(genres, ' ')) g AS genre
GROUP BY genre
ORDER BY movies DESC, genre
LIMIT 5;

-- Top 5 animations by weighted rating.
SELECT a.title, round(v.wr, 3)
FROM (
  SELECT m.movieId, m.title
  FROM movies m LATERAL VIEW explode(split(m.genres, ' ')) g AS genre
  WHERE g.genre = 'Animation'
) a
JOIN vote v ON v.movieId = a.movieId
ORDER BY v.wr DESC, a.title
LIMIT 5;

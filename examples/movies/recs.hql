-- The seed report's two Python recommenders, as SQL over lake tables:
-- content similarity (TF-IDF over film plots, cosine) and item-item KNN
-- (cosine distance between movies' rating vectors), plus the IMDB weighted
-- rating with m and C computed by percentile.
--
--   nuage sql -f examples/movies/recs.hql --hiveconf data=$HOME/.cache/nuage-datasets
--
-- The answers equal scikit-learn's (examples/movies/recs_reference.py;
-- crates/nuage/tests/it/recs.rs compares them).

CREATE TABLE plots (id STRING, title STRING, category STRING, plot STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
TBLPROPERTIES ('skip.header.line.count'='1');
LOAD DATA LOCAL INPATH '${hiveconf:data}/plots/movies.csv' INTO TABLE plots;

CREATE TABLE ratings (user_id INT, item_id INT, rating INT, ts BIGINT)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
TBLPROPERTIES ('skip.header.line.count'='1');
LOAD DATA LOCAL INPATH '${hiveconf:data}/ml-100k/ratings.tsv' INTO TABLE ratings;

CREATE TABLE items (item_id INT, title STRING, release_year INT, genres STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
TBLPROPERTIES ('skip.header.line.count'='1');
LOAD DATA LOCAL INPATH '${hiveconf:data}/ml-100k/items.tsv' INTO TABLE items;

-- Films whose plots read like Batman Beyond: Return of the Joker's (id 1648).
SELECT '== plots like 1648';
SELECT s.key, s.score, p.title
FROM similar_by_text('plots', 'id', 'plot', '1648', 10) s JOIN plots p ON p.id = s.key
ORDER BY s.score DESC, s.key;

SELECT '== plots like 0';
SELECT key, score FROM similar_by_text('plots', 'id', 'plot', '0', 10);

SELECT '== plots like 2500';
SELECT key, score FROM similar_by_text('plots', 'id', 'plot', '2500', 10);

-- Title and plot together, through a view.
CREATE VIEW plot_docs AS SELECT id, concat(title, ' ', plot) AS doc FROM plots;
SELECT '== title+plot like 1648';
SELECT key, score FROM similar_by_text('plot_docs', 'id', 'doc', '1648', 10);

-- The knobs the seed tried: single words, in at least two plots, no stop words.
SELECT '== unigrams like 1648';
SELECT key, score
FROM similar_by_text('plots', 'id', 'plot', '1648', 10, 'ngram_range=(1,1), min_df=2, stop_words=none');

-- The 10 movies rated most like Star Wars (item 50), among movies with at least 20 ratings.
SELECT '== rated like 50';
SELECT s.item, s.distance, i.title
FROM similar_by_ratings('ratings', 'user_id', 'item_id', 'rating', 50, 10, 20) s
JOIN items i ON i.item_id = s.item
ORDER BY s.distance, s.item;

SELECT '== rated like 1';
SELECT item, distance FROM similar_by_ratings('ratings', 'user_id', 'item_id', 'rating', 1, 10, 20);

SELECT '== rated like 181';
SELECT item, distance FROM similar_by_ratings('ratings', 'user_id', 'item_id', 'rating', 181, 10, 20);

-- IMDB's weighted rating: m = the 90th percentile of vote counts, C = the mean rating.
SELECT '== weighted rating';
WITH votes AS (
  SELECT item_id, count(*) AS v, avg(rating) AS r FROM ratings GROUP BY item_id
), stats AS (
  SELECT percentile(v, 0.9) AS m, avg(r) AS c FROM votes
)
SELECT i.title, votes.v, round(weighted_rating(votes.v, votes.r, stats.m, stats.c), 4) AS wr
FROM votes CROSS JOIN stats JOIN items i ON i.item_id = votes.item_id
WHERE votes.v >= stats.m
ORDER BY wr DESC, i.title
LIMIT 10;

#!/usr/bin/env python3
"""scikit-learn's answers for the recommendation queries of examples/movies,
as the seed report computed them: TfidfVectorizer(analyzer='word',
ngram_range=(1, 2), stop_words='english') + linear_kernel over film plots, and
NearestNeighbors(metric='cosine', algorithm='brute') over a movie x user
rating matrix of the movies with at least MIN ratings (missing ratings 0).

    recs_reference.py DATASETS OUT.json [--time]

OUT.json holds, per query, every key's score (or distance) and the top k
ordered as nuage orders them (score desc / distance asc, then key). With
--time it also prints the seconds each model took to build (cold) and to
answer again (warm), for docs/benchmarks.md.
"""
import csv
import json
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel
from sklearn.neighbors import NearestNeighbors

datasets, out = sys.argv[1], sys.argv[2]
timing = "--time" in sys.argv
K = 10
MIN = 20
TEXT_QUERIES = ["1648", "0", "2500"]
RATING_QUERIES = [50, 1, 181]
times = {}

csv.field_size_limit(1 << 30)
read_start = time.perf_counter()
with open(f"{datasets}/plots/movies.csv", newline="") as f:
    plots = list(csv.DictReader(f))
keys = [p["ID"] for p in plots]
read_seconds = time.perf_counter() - read_start


def text_answers(name, texts, **options):
    # Cold includes reading the CSV, as nuage's cold call reads the table.
    start = time.perf_counter() - read_seconds
    matrix = TfidfVectorizer(analyzer="word", stop_words=options.pop("stop_words", "english"),
                             ngram_range=options.pop("ngram_range", (1, 2)), **options).fit_transform(texts)
    answers = {}
    for q in TEXT_QUERIES:
        row = keys.index(q)
        scores = linear_kernel(matrix[row], matrix).flatten()
        if q == TEXT_QUERIES[0]:
            times[f"{name} cold"] = time.perf_counter() - start
        others = [(keys[i], float(s)) for i, s in enumerate(scores) if i != row]
        top = sorted(others, key=lambda ks: (-ks[1], ks[0]))[:K]
        answers[q] = {"all": dict(others), "top": top}
    start = time.perf_counter()
    linear_kernel(matrix[keys.index(TEXT_QUERIES[0])], matrix)
    times[f"{name} warm"] = time.perf_counter() - start
    return answers


result = {
    "plots": text_answers("similar_by_text plots", [p["Plot"] for p in plots]),
    "plots_title": text_answers("similar_by_text title+plot",
                                [p["Title"] + " " + p["Plot"] for p in plots]),
    "plots_unigrams": text_answers("similar_by_text unigrams", [p["Plot"] for p in plots],
                                   ngram_range=(1, 1), min_df=2, stop_words=None),
}

start = time.perf_counter()
ratings = []
with open(f"{datasets}/ml-100k/ratings.tsv") as f:
    next(f)
    for line in f:
        user, item, rating, _ = line.split("\t")
        ratings.append((int(user), int(item), float(rating)))
counts = {}
for _, item, _ in ratings:
    counts[item] = counts.get(item, 0) + 1
items = sorted(i for i, n in counts.items() if n >= MIN)
users = sorted({u for u, _, _ in ratings})
item_row = {i: n for n, i in enumerate(items)}
user_col = {u: n for n, u in enumerate(users)}
matrix = np.zeros((len(items), len(users)))
for user, item, rating in ratings:
    if item in item_row:
        matrix[item_row[item], user_col[user]] = rating
model = NearestNeighbors(metric="cosine", algorithm="brute").fit(matrix)
answers = {}
for q in RATING_QUERIES:
    distances, indices = model.kneighbors(matrix[[item_row[q]]], n_neighbors=len(items))
    if q == RATING_QUERIES[0]:
        times["similar_by_ratings cold"] = time.perf_counter() - start
    others = [(items[j], float(d)) for d, j in zip(distances[0], indices[0]) if items[j] != q]
    top = sorted(others, key=lambda kd: (kd[1], kd[0]))[:K]
    answers[str(q)] = {"all": {str(k): d for k, d in others}, "top": top}
start = time.perf_counter()
model.kneighbors(matrix[[item_row[RATING_QUERIES[0]]]], n_neighbors=K + 1)
times["similar_by_ratings warm"] = time.perf_counter() - start
result["ratings"] = answers

with open(out, "w") as f:
    json.dump(result, f)
if timing:
    for name, seconds in times.items():
        print(f"scikit-learn {name}: {seconds:.3f} s")

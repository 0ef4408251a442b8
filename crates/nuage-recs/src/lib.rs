//! The recommendation models behind nuage's SQL table functions, equal to
//! scikit-learn's to 1e-6 (nuage-sql reads the tables and caches the models;
//! this crate knows nothing of SQL):
//!
//! - [`tfidf::TextModel`]: `TfidfVectorizer` (word n-grams, English stop
//!   words, smooth idf, l2 norm) and cosine similarity (`linear_kernel`);
//! - [`knn::RatingsModel`]: item-item `NearestNeighbors(metric='cosine')`
//!   over the 0-filled item x user rating matrix.

pub mod knn;
mod stop_words;
pub mod tfidf;

pub use tfidf::TextOptions;

/// A row index and its score or distance.
pub type Scored = (usize, f64);

/// The best `k` of `items` under `order` (best first), without sorting all.
pub(crate) fn top_k(
    items: impl Iterator<Item = Scored>,
    k: usize,
    order: impl Fn(&Scored, &Scored) -> std::cmp::Ordering,
) -> Vec<Scored> {
    let mut all: Vec<Scored> = items.collect();
    if k == 0 {
        return Vec::new();
    }
    if all.len() > k {
        all.select_nth_unstable_by(k - 1, &order);
        all.truncate(k);
    }
    all.sort_by(order);
    all
}

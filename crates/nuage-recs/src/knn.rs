//! Item-item nearest neighbours over a ratings table, as scikit-learn's
//! `NearestNeighbors(metric='cosine', algorithm='brute')` finds them on an
//! item x user matrix with missing ratings as 0: distance = 1 - cosine
//! similarity, clipped to [0, 2].

use crate::Scored;

/// Sparse item vectors over users, for the items with enough ratings.
#[derive(Debug)]
pub struct RatingsModel {
    /// Per item (dense id): (user, rating) sorted by user; empty for items
    /// below the minimum.
    items: Vec<Vec<(u32, f64)>>,
    norms: Vec<f64>,
    /// Per user: (item, rating) of the eligible items.
    by_user: Vec<Vec<(u32, f64)>>,
    /// How many ratings each item has.
    pub counts: Vec<usize>,
    pub min_ratings: usize,
}

impl RatingsModel {
    /// `ratings` are (user, item, rating) with dense ids; a user who rated
    /// an item twice counts with the mean (pandas' `pivot_table` default).
    pub fn build(
        ratings: &[(u32, u32, f64)],
        users: usize,
        items: usize,
        min_ratings: usize,
    ) -> RatingsModel {
        let mut counts = vec![0usize; items];
        for &(_, item, _) in ratings {
            counts[item as usize] += 1;
        }
        let mut vectors: Vec<Vec<(u32, f64)>> = vec![Vec::new(); items];
        for &(user, item, rating) in ratings {
            if counts[item as usize] >= min_ratings {
                vectors[item as usize].push((user, rating));
            }
        }
        let mut by_user: Vec<Vec<(u32, f64)>> = vec![Vec::new(); users];
        let mut norms = vec![0.0; items];
        for (item, vector) in vectors.iter_mut().enumerate() {
            vector.sort_by_key(|(user, _)| *user);
            // Repeated (user, item) pairs become their mean.
            let mut merged: Vec<(u32, f64, u32)> = Vec::with_capacity(vector.len());
            for &(user, rating) in vector.iter() {
                match merged.last_mut() {
                    Some((u, sum, n)) if *u == user => {
                        *sum += rating;
                        *n += 1;
                    }
                    _ => merged.push((user, rating, 1)),
                }
            }
            *vector = merged
                .into_iter()
                .map(|(u, sum, n)| (u, sum / n as f64))
                .collect();
            norms[item] = vector.iter().map(|(_, r)| r * r).sum::<f64>().sqrt();
            for &(user, rating) in vector.iter() {
                by_user[user as usize].push((item as u32, rating));
            }
        }
        RatingsModel {
            items: vectors,
            norms,
            by_user,
            counts,
            min_ratings,
        }
    }

    pub fn eligible(&self, item: usize) -> bool {
        self.counts[item] >= self.min_ratings
    }

    /// The `k` eligible items other than `item` nearest to it, ties broken
    /// by `order` (the keys' order).
    pub fn nearest(
        &self,
        item: usize,
        k: usize,
        order: impl Fn(usize, usize) -> std::cmp::Ordering,
    ) -> Vec<Scored> {
        let mut dots = vec![0.0; self.items.len()];
        for &(user, rating) in &self.items[item] {
            for &(other, r) in &self.by_user[user as usize] {
                dots[other as usize] += rating * r;
            }
        }
        let norm = self.norms[item];
        let candidates = dots
            .into_iter()
            .enumerate()
            .filter(|&(other, _)| other != item && self.eligible(other))
            .map(|(other, dot)| {
                let denominator = norm * self.norms[other];
                let similarity = if denominator > 0.0 {
                    dot / denominator
                } else {
                    0.0
                };
                (other, (1.0 - similarity).clamp(0.0, 2.0))
            });
        crate::top_k(candidates, k, |a, b| {
            a.1.total_cmp(&b.1).then_with(|| order(a.0, b.0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_distances_over_users_with_missing_as_zero() {
        // items 0..3; item 3 has one rating only.
        let ratings = [
            (0, 0, 5.0),
            (1, 0, 3.0),
            (0, 1, 5.0),
            (1, 1, 3.0),
            (0, 2, 1.0),
            (2, 2, 4.0),
            (2, 3, 4.0),
        ];
        let model = RatingsModel::build(&ratings, 3, 4, 2);
        assert!(!model.eligible(3));
        let near = model.nearest(0, 5, |a, b| a.cmp(&b));
        assert_eq!(near.len(), 2);
        assert_eq!(near[0].0, 1);
        assert!(near[0].1.abs() < 1e-12);
        let expected = 1.0 - 5.0 / (34f64.sqrt() * 17f64.sqrt());
        assert!((near[1].1 - expected).abs() < 1e-12);
    }
}

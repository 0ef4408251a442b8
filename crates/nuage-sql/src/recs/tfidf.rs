//! TF-IDF document vectors as scikit-learn's `TfidfVectorizer` makes them
//! (analyzer 'word', lowercase, tokens `(?u)\b\w\w+\b`, stop words dropped
//! before n-grams are formed, raw counts, smooth idf `ln((1+n)/(1+df)) + 1`,
//! l2-normalised rows), and cosine similarity between them.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::Scored;

/// The longest n-gram `ngram_range` allows.
const MAX_N: usize = 5;

static TOKEN: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\b\w\w+\b").expect("token pattern"));

/// The vectoriser's knobs, with scikit-learn's names.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOptions {
    pub ngram_range: (usize, usize),
    pub min_df: DocLimit,
    pub max_df: DocLimit,
    pub stop_words: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            ngram_range: (1, 2),
            min_df: DocLimit::Count(1),
            max_df: DocLimit::Share(1.0),
            stop_words: true,
        }
    }
}

/// A number of documents (`min_df=2`) or a share of them (`max_df=0.9`),
/// told apart by the decimal point as scikit-learn tells int from float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DocLimit {
    Count(usize),
    Share(f64),
}

impl DocLimit {
    fn parse(name: &str, value: &str) -> Result<DocLimit, String> {
        let limit = if value.contains(['.', 'e', 'E']) {
            value
                .parse()
                .ok()
                .filter(|n| (0.0..=1.0).contains(n))
                .map(DocLimit::Share)
        } else {
            value.parse().ok().map(DocLimit::Count)
        };
        limit.ok_or_else(|| {
            format!("{name}={value} must be a document count (2) or a share between 0.0 and 1.0")
        })
    }

    fn documents(self, n: usize) -> f64 {
        match self {
            DocLimit::Count(c) => c as f64,
            DocLimit::Share(s) => s * n as f64,
        }
    }
}

impl std::fmt::Display for DocLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocLimit::Count(c) => write!(f, "{c}"),
            DocLimit::Share(s) => write!(f, "{s:?}"),
        }
    }
}

impl TextOptions {
    /// `ngram_range=(1,1), min_df=2, max_df=0.9, stop_words=none`.
    pub fn parse(text: &str) -> Result<TextOptions, String> {
        let mut options = TextOptions::default();
        let mut depth = 0;
        let mut parts = vec![String::new()];
        for c in text.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' | ';' if depth == 0 => {
                    parts.push(String::new());
                    continue;
                }
                _ => {}
            }
            parts.last_mut().expect("one part").push(c);
        }
        for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("option {part:?} is not name=value"));
            };
            let value = value.trim().trim_matches(['\'', '"']);
            match name.trim().to_ascii_lowercase().as_str() {
                "ngram_range" => {
                    let inner = value.trim_start_matches('(').trim_end_matches(')');
                    let bounds: Vec<Option<usize>> = inner
                        .split([',', '-'])
                        .map(|n| n.trim().parse().ok())
                        .collect();
                    match bounds.as_slice() {
                        [Some(lo), Some(hi)] if *lo >= 1 && lo <= hi && *hi <= 5 => {
                            options.ngram_range = (*lo, *hi)
                        }
                        _ => {
                            return Err(format!(
                                "ngram_range={value} must be (min,max) with 1 <= min <= max <= 5"
                            ));
                        }
                    }
                }
                "min_df" => options.min_df = DocLimit::parse("min_df", value)?,
                "max_df" => options.max_df = DocLimit::parse("max_df", value)?,
                "stop_words" => {
                    options.stop_words = match value.to_ascii_lowercase().as_str() {
                        "english" => true,
                        "none" | "" => false,
                        other => {
                            return Err(format!("stop_words={other}: use english or none"));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown option {other}; use ngram_range, min_df, max_df, stop_words"
                    ));
                }
            }
        }
        Ok(options)
    }
}

/// The l2-normalised TF-IDF rows of a set of documents.
#[derive(Debug)]
pub struct TextModel {
    rows: Vec<Vec<(u32, f64)>>,
    /// For each term, the documents that have it and their weight.
    postings: Vec<Vec<(u32, f64)>>,
}

/// A gram: the ids of its words, padded with `u32::MAX`, so that no
/// n-gram is ever joined into a string.
type Gram = [u32; MAX_N];

/// The analyzer: lowercased tokens, stop words dropped, then n-grams.
struct Analyzer<'o> {
    options: &'o TextOptions,
    stop: HashSet<&'static str>,
    words: hashbrown::HashMap<String, u32>,
    tokens: Vec<u32>,
}

impl<'o> Analyzer<'o> {
    fn new(options: &'o TextOptions) -> Self {
        Analyzer {
            options,
            stop: super::stop_words::ENGLISH.into_iter().collect(),
            words: hashbrown::HashMap::new(),
            tokens: Vec::new(),
        }
    }

    /// The grams of `text`, into `out`.
    fn grams(&mut self, text: &str, out: &mut Vec<Gram>) {
        out.clear();
        self.tokens.clear();
        let lower = text.to_lowercase();
        for token in TOKEN.find_iter(&lower).map(|m| m.as_str()) {
            if self.options.stop_words && self.stop.contains(token) {
                continue;
            }
            let id = match self.words.get(token) {
                Some(id) => *id,
                None => {
                    let id = self.words.len() as u32;
                    self.words.insert(token.to_string(), id);
                    id
                }
            };
            self.tokens.push(id);
        }
        let (lo, hi) = self.options.ngram_range;
        for n in lo..=hi {
            out.extend(self.tokens.windows(n).map(|window| {
                let mut gram = [u32::MAX; MAX_N];
                gram[..n].copy_from_slice(window);
                gram
            }));
        }
    }
}

impl TextModel {
    pub fn build<'a>(
        texts: impl Iterator<Item = Option<&'a str>>,
        options: &TextOptions,
    ) -> Result<TextModel, String> {
        let mut analyzer = Analyzer::new(options);
        let mut vocabulary: hashbrown::HashMap<Gram, u32> = hashbrown::HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let mut counts: Vec<Vec<(u32, u32)>> = Vec::new();
        let mut grams = Vec::new();
        let mut ids = Vec::new();
        for text in texts {
            analyzer.grams(text.unwrap_or(""), &mut grams);
            ids.clear();
            for gram in &grams {
                let next = vocabulary.len() as u32;
                let id = *vocabulary.entry(*gram).or_insert(next);
                if id == next {
                    df.push(0);
                }
                ids.push(id);
            }
            ids.sort_unstable();
            let mut row: Vec<(u32, u32)> = Vec::new();
            for &id in &ids {
                match row.last_mut() {
                    Some((last, n)) if *last == id => *n += 1,
                    _ => {
                        row.push((id, 1));
                        df[id as usize] += 1;
                    }
                }
            }
            counts.push(row);
        }
        let n = counts.len();
        if vocabulary.is_empty() {
            return Err(
                "empty vocabulary: the documents hold no words (or only stop words)".to_string(),
            );
        }
        let (min, max) = (options.min_df.documents(n), options.max_df.documents(n));
        // Terms kept after min_df / max_df, renumbered.
        let mut keep: Vec<Option<u32>> = vec![None; df.len()];
        let mut terms = 0u32;
        for (id, &d) in df.iter().enumerate() {
            if d as f64 >= min && d as f64 <= max {
                keep[id] = Some(terms);
                terms += 1;
            }
        }
        if terms == 0 {
            return Err(format!(
                "no terms remain after min_df={} and max_df={}; lower min_df or raise max_df",
                options.min_df, options.max_df
            ));
        }
        let mut idf = vec![0.0; terms as usize];
        for (id, &d) in df.iter().enumerate() {
            if let Some(t) = keep[id] {
                idf[t as usize] = ((1.0 + n as f64) / (1.0 + d as f64)).ln() + 1.0;
            }
        }
        let mut postings: Vec<Vec<(u32, f64)>> = vec![Vec::new(); terms as usize];
        let rows: Vec<Vec<(u32, f64)>> = counts
            .into_iter()
            .enumerate()
            .map(|(doc, row)| {
                let mut row: Vec<(u32, f64)> = row
                    .into_iter()
                    .filter_map(|(id, count)| {
                        keep[id as usize].map(|t| (t, count as f64 * idf[t as usize]))
                    })
                    .collect();
                let norm = row.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
                if norm > 0.0 {
                    for (t, w) in &mut row {
                        *w /= norm;
                        postings[*t as usize].push((doc as u32, *w));
                    }
                }
                row
            })
            .collect();
        Ok(TextModel { rows, postings })
    }

    /// Cosine similarity of every document with document `doc`.
    pub fn scores(&self, doc: usize) -> Vec<f64> {
        let mut scores = vec![0.0; self.rows.len()];
        for &(term, weight) in &self.rows[doc] {
            for &(other, w) in &self.postings[term as usize] {
                scores[other as usize] += weight * w;
            }
        }
        scores
    }

    /// The `k` documents other than `doc` with the highest scores, ties
    /// broken by `order` (the keys' order).
    pub fn similar(
        &self,
        doc: usize,
        k: usize,
        order: impl Fn(usize, usize) -> std::cmp::Ordering,
    ) -> Vec<Scored> {
        let scores = self.scores(doc);
        super::top_k(
            scores.into_iter().enumerate().filter(|(i, _)| *i != doc),
            k,
            |a, b| b.1.total_cmp(&a.1).then_with(|| order(a.0, b.0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_like_scikit_learn() {
        let o = TextOptions::parse("ngram_range=(1,1), min_df=2; stop_words='none'").unwrap();
        assert_eq!(o.ngram_range, (1, 1));
        assert_eq!(o.min_df, DocLimit::Count(2));
        assert!(!o.stop_words);
        let o = TextOptions::parse("max_df=0.5").unwrap();
        assert_eq!(o.max_df, DocLimit::Share(0.5));
        assert!(TextOptions::parse("ngram_range=(2,1)").is_err());
        let err = TextOptions::parse("max_features=10").unwrap_err();
        assert!(err.contains("ngram_range, min_df"), "{err}");
    }

    #[test]
    fn bigrams_skip_stop_words_and_weights_are_normalised() {
        let options = TextOptions::default();
        let mut analyzer = Analyzer::new(&options);
        let mut grams = Vec::new();
        analyzer.grams("The Dark Knight of Gotham, a x", &mut grams);
        let word = |id: &u32| {
            let (word, _) = analyzer.words.iter().find(|(_, i)| *i == id).unwrap();
            word.clone()
        };
        let grams: Vec<String> = grams
            .iter()
            .map(|g| {
                let ids = g.iter().take_while(|&&i| i != u32::MAX);
                ids.map(word).collect::<Vec<_>>().join(" ")
            })
            .collect();
        assert_eq!(
            grams,
            ["dark", "knight", "gotham", "dark knight", "knight gotham"]
        );
        let docs = ["batman gotham", "gotham city", "", "joker batman gotham"];
        let model = TextModel::build(docs.iter().map(|d| Some(*d)), &options).unwrap();
        let scores = model.scores(0);
        assert!((scores[0] - 1.0).abs() < 1e-12);
        assert_eq!(scores[2], 0.0);
        assert!(scores[3] > scores[1] && scores[1] > 0.0);
        let top = model.similar(0, 2, |a, b| a.cmp(&b));
        assert_eq!(top.iter().map(|s| s.0).collect::<Vec<_>>(), [3, 1]);
    }
}

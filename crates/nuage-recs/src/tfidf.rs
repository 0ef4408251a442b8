//! TF-IDF document vectors as scikit-learn's `TfidfVectorizer` makes them
//! (analyzer 'word', lowercase, tokens `(?u)\b\w\w+\b`, stop words dropped
//! before n-grams are formed, raw counts, smooth idf `ln((1+n)/(1+df)) + 1`,
//! l2-normalised rows), and cosine similarity between them.

use std::sync::LazyLock;

use crate::Scored;

/// The longest n-gram `ngram_range` allows.
const MAX_N: usize = 5;

/// The non-ASCII characters of Python's `\w` (`str.isalnum()` or `_`):
/// the Unicode letters and numbers, as sorted ranges.
static WORD: LazyLock<Vec<(char, char)>> = LazyLock::new(|| {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::parse(r"[\p{L}\p{N}_]").expect("word class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        other => unreachable!("a class of characters, not {other:?}"),
    }
});

/// A word character of Python's `\w`. Not Rust's `char::is_alphanumeric`
/// nor the regex crate's `\w`: those also take combining marks.
fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let i = WORD.partition_point(|&(start, _)| start <= c);
    i > 0 && c <= WORD[i - 1].1
}

/// The tokens of scikit-learn's `(?u)\b\w\w+\b`: every maximal run of
/// two or more word characters.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text.char_indices();
    std::iter::from_fn(move || {
        loop {
            let (start, _) = rest.by_ref().find(|&(_, c)| is_word(c))?;
            let mut end = text.len();
            let mut chars = 1;
            for (i, c) in rest.by_ref() {
                if !is_word(c) {
                    end = i;
                    break;
                }
                chars += 1;
            }
            if chars >= 2 {
                return Some(&text[start..end]);
            }
        }
    })
}

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

/// The l2-normalised TF-IDF matrix of a set of documents, kept once, by
/// term: each term's documents and weights, in document order. Each
/// document keeps only its terms; its own weights are found in them.
#[derive(Debug)]
pub struct TextModel {
    /// Document `d`'s terms are `doc_terms[doc_starts[d]..doc_starts[d + 1]]`.
    doc_starts: Vec<usize>,
    doc_terms: Vec<u32>,
    /// Term `t`'s postings are `posting_docs[term_starts[t]..term_starts[t + 1]]`
    /// with their weights at the same places in `posting_weights`.
    term_starts: Vec<usize>,
    posting_docs: Vec<u32>,
    posting_weights: Vec<f64>,
}

/// The first half of the analyzer: lowercased tokens as word ids, stop
/// words dropped.
struct Words {
    ids: hashbrown::HashMap<String, u32>,
    /// Per word id: whether it is a stop word to drop.
    dropped: Vec<bool>,
    stop: hashbrown::HashSet<&'static str>,
}

impl Words {
    fn new(stop_words: bool) -> Self {
        Words {
            ids: hashbrown::HashMap::new(),
            dropped: Vec::new(),
            stop: match stop_words {
                true => crate::stop_words::ENGLISH.into_iter().collect(),
                false => hashbrown::HashSet::new(),
            },
        }
    }

    /// Appends the word ids of `text` to `out`.
    fn add(&mut self, text: &str, out: &mut Vec<u32>) {
        let lower = text.to_lowercase();
        for token in tokens(&lower) {
            let id = match self.ids.get(token) {
                Some(id) => *id,
                None => {
                    let id = self.ids.len() as u32;
                    self.ids.insert(token.to_string(), id);
                    self.dropped.push(self.stop.contains(token));
                    id
                }
            };
            if !self.dropped[id as usize] {
                out.push(id);
            }
        }
    }
}

/// The second half: the n-grams of a document's words, numbered as terms
/// in order of first appearance.
struct Grams {
    range: (usize, usize),
    /// Term ids of single words by word id (`u32::MAX`: none yet), of word
    /// pairs by the pair, of longer n-grams by their word ids.
    unigrams: Vec<u32>,
    bigrams: hashbrown::HashMap<u64, u32>,
    longer: hashbrown::HashMap<[u32; MAX_N], u32>,
    terms: u32,
}

impl Grams {
    fn new(range: (usize, usize)) -> Self {
        Grams {
            range,
            unigrams: Vec::new(),
            bigrams: hashbrown::HashMap::new(),
            longer: hashbrown::HashMap::new(),
            terms: 0,
        }
    }

    /// Calls `term` with the term id of each n-gram of `words`.
    fn add(&mut self, words: &[u32], mut term: impl FnMut(u32)) {
        for n in self.range.0..=self.range.1 {
            for window in words.windows(n) {
                let next = self.terms;
                let id = match *window {
                    [word] => {
                        let word = word as usize;
                        if word >= self.unigrams.len() {
                            self.unigrams.resize(word + 1, u32::MAX);
                        }
                        if self.unigrams[word] == u32::MAX {
                            self.unigrams[word] = next;
                        }
                        self.unigrams[word]
                    }
                    [a, b] => *self
                        .bigrams
                        .entry((a as u64) << 32 | b as u64)
                        .or_insert(next),
                    _ => {
                        let mut gram = [u32::MAX; MAX_N];
                        gram[..n].copy_from_slice(window);
                        *self.longer.entry(gram).or_insert(next)
                    }
                };
                if id == next {
                    self.terms += 1;
                }
                term(id);
            }
        }
    }
}

/// Raw term counts, a row per document (`terms[starts[d]..starts[d + 1]]`
/// with `counts` beside them), and each term's document frequency.
struct Counts {
    starts: Vec<usize>,
    terms: Vec<u32>,
    counts: Vec<u32>,
    df: Vec<u32>,
    /// Per term: where in `terms` it was last counted; at or past the
    /// current document's start means the current document has it.
    at: Vec<usize>,
}

impl Counts {
    fn new() -> Self {
        Counts {
            starts: vec![0],
            terms: Vec::new(),
            counts: Vec::new(),
            df: Vec::new(),
            at: Vec::new(),
        }
    }

    /// Counts one more document's terms.
    fn add(&mut self, grams: &mut Grams, words: &[u32]) {
        let start = self.terms.len();
        grams.add(words, |term| {
            let t = term as usize;
            if t == self.df.len() {
                self.df.push(0);
                self.at.push(usize::MAX);
            }
            if self.at[t] != usize::MAX && self.at[t] >= start {
                self.counts[self.at[t]] += 1;
            } else {
                self.at[t] = self.terms.len();
                self.terms.push(term);
                self.counts.push(1);
                self.df[t] += 1;
            }
        });
        self.starts.push(self.terms.len());
    }
}

/// Documents as word ids, handed from the tokenizing thread to the
/// counting one: document `i` is `words[ends[i - 1]..ends[i]]`.
#[derive(Default)]
struct Batch {
    words: Vec<u32>,
    ends: Vec<usize>,
}

/// Documents per batch.
const BATCH: usize = 256;

impl TextModel {
    pub fn build<'a>(
        texts: impl Iterator<Item = Option<&'a str>> + Send,
        options: &TextOptions,
    ) -> Result<TextModel, String> {
        // Two threads: one lowercases and tokenizes, one forms and counts
        // the n-grams.
        let Counts {
            starts,
            mut terms,
            mut counts,
            df,
            ..
        } = std::thread::scope(|scope| {
            let (send, batches) = std::sync::mpsc::sync_channel::<Batch>(8);
            scope.spawn(move || {
                let mut words = Words::new(options.stop_words);
                let mut batch = Batch::default();
                for text in texts {
                    words.add(text.unwrap_or(""), &mut batch.words);
                    batch.ends.push(batch.words.len());
                    if batch.ends.len() == BATCH && send.send(std::mem::take(&mut batch)).is_err() {
                        return;
                    }
                }
                let _ = send.send(batch);
            });
            let mut grams = Grams::new(options.ngram_range);
            let mut counts = Counts::new();
            for batch in batches {
                let mut start = 0;
                for end in batch.ends {
                    counts.add(&mut grams, &batch.words[start..end]);
                    start = end;
                }
            }
            counts
        });
        let n = starts.len() - 1;
        if df.is_empty() {
            return Err(
                "empty vocabulary: the documents hold no words (or only stop words)".to_string(),
            );
        }
        let (min, max) = (options.min_df.documents(n), options.max_df.documents(n));
        // Terms kept after min_df / max_df, renumbered, with their idf.
        let mut keep: Vec<u32> = vec![u32::MAX; df.len()];
        let mut idf = Vec::new();
        let mut term_starts = vec![0usize];
        for (id, &d) in df.iter().enumerate() {
            if d as f64 >= min && d as f64 <= max {
                keep[id] = idf.len() as u32;
                idf.push(((1.0 + n as f64) / (1.0 + d as f64)).ln() + 1.0);
                term_starts.push(term_starts[term_starts.len() - 1] + d as usize);
            }
        }
        if idf.is_empty() {
            return Err(format!(
                "no terms remain after min_df={} and max_df={}; lower min_df or raise max_df",
                options.min_df, options.max_df
            ));
        }
        // Rows of kept terms (in place), l2-normalised into the postings;
        // documents are visited in order, so each term's postings are too.
        let nnz = term_starts[idf.len()];
        let mut posting_docs = vec![0u32; nnz];
        let mut posting_weights = vec![0.0f64; nnz];
        let mut next = term_starts.clone();
        let mut doc_starts = vec![0usize];
        let mut kept = 0;
        for doc in 0..n {
            let from = kept;
            for i in starts[doc]..starts[doc + 1] {
                let t = keep[terms[i] as usize];
                if t != u32::MAX {
                    terms[kept] = t;
                    counts[kept] = counts[i];
                    kept += 1;
                }
            }
            let row = terms[from..kept].iter().zip(&counts[from..kept]);
            let weights = row.map(|(&t, &count)| (t as usize, count as f64 * idf[t as usize]));
            let norm = weights.clone().map(|(_, w)| w * w).sum::<f64>().sqrt();
            for (t, w) in weights {
                posting_docs[next[t]] = doc as u32;
                posting_weights[next[t]] = w / norm;
                next[t] += 1;
            }
            doc_starts.push(kept);
        }
        terms.truncate(kept);
        terms.shrink_to_fit();
        Ok(TextModel {
            doc_starts,
            doc_terms: terms,
            term_starts,
            posting_docs,
            posting_weights,
        })
    }

    /// The postings of `term`: its documents and their weights.
    fn postings(&self, term: u32) -> (&[u32], &[f64]) {
        let range = self.term_starts[term as usize]..self.term_starts[term as usize + 1];
        (
            &self.posting_docs[range.clone()],
            &self.posting_weights[range],
        )
    }

    /// Cosine similarity of every document with document `doc`.
    pub fn scores(&self, doc: usize) -> Vec<f64> {
        let mut scores = vec![0.0; self.doc_starts.len() - 1];
        for &term in &self.doc_terms[self.doc_starts[doc]..self.doc_starts[doc + 1]] {
            let (docs, weights) = self.postings(term);
            let Ok(own) = docs.binary_search(&(doc as u32)) else {
                continue;
            };
            let weight = weights[own];
            for (&other, &w) in docs.iter().zip(weights) {
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
        crate::top_k(
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
    fn tokens_are_runs_of_two_or_more_word_characters() {
        let text = str::to_lowercase("L'Été d'un AI_robot: 42 x ÉLAN-2049 ok ⅫⅫ नमस्ते");
        let found: Vec<&str> = tokens(&text).collect();
        // Python's \w takes letters and numbers (Ⅻ is one) but not the
        // combining vowel signs of Devanagari.
        assert_eq!(
            found,
            [
                "été",
                "un",
                "ai_robot",
                "42",
                "élan",
                "2049",
                "ok",
                "ⅻⅻ",
                "नमस"
            ]
        );
    }

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
        let mut words = Words::new(true);
        let mut ids = Vec::new();
        words.add("The Dark Knight of Gotham, a x", &mut ids);
        let mut grams = Grams::new(options.ngram_range);
        let mut terms = Vec::new();
        grams.add(&ids, |t| terms.push(t));
        let word = |id: u32| {
            let (word, _) = words.ids.iter().find(|(_, i)| **i == id).unwrap();
            word.clone()
        };
        let mut grams: Vec<(u32, String)> = grams
            .unigrams
            .iter()
            .enumerate()
            .filter(|(_, t)| **t != u32::MAX)
            .map(|(w, t)| (*t, word(w as u32)))
            .chain(grams.bigrams.iter().map(|(pair, t)| {
                let pair = (word((pair >> 32) as u32), word(*pair as u32));
                (*t, format!("{} {}", pair.0, pair.1))
            }))
            .collect();
        grams.sort();
        let grams: Vec<String> = terms.iter().map(|t| grams[*t as usize].1.clone()).collect();
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

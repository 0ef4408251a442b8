//! Hive's `percentile_approx(x, p [, B])`: the streaming histogram of Hive's
//! `NumericHistogram` (Ben-Haim and Tom-Tov) with B bins (default 10,000),
//! read at quantile p the way Hive reads it. With at most B distinct values
//! every value keeps its own bin, and the answer interpolates between the
//! two bins around p — for 1, 2, 3, 4 at 0.5 Hive answers 2.0 where an
//! exact median is 2.5.
//!
//! One difference: when two pairs of bins are equally close, Hive merges a
//! randomly chosen pair (a seeded `java.util.Random`); nuage merges the
//! first. Answers differ only past B distinct values with exact ties.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, Signature, Volatility,
};

const DEFAULT_BINS: usize = 10_000;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PercentileApprox {
    signature: Signature,
}

impl PercentileApprox {
    pub fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for PercentileApprox {
    fn name(&self) -> &str {
        "hive_percentile_approx"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if !(2..=3).contains(&args.len()) {
            return plan_err!("percentile_approx takes (column, percentile [, bins])");
        }
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let constant = |i: usize, what: &str| -> Result<f64> {
            // A constant evaluates without any row (a column would not).
            let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
            let value = match args.exprs.get(i).map(|e| e.evaluate(&empty)) {
                Some(Ok(ColumnarValue::Scalar(value))) => value,
                _ => return plan_err!("percentile_approx: the {what} must be a constant"),
            };
            match value.cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(v)) => Ok(v),
                _ => plan_err!("percentile_approx: the {what} must be a number, not NULL"),
            }
        };
        let p = constant(1, "percentile")?;
        if !(0.0..=1.0).contains(&p) {
            return plan_err!("percentile_approx: the percentile must be between 0 and 1, not {p}");
        }
        let bins = match args.exprs.len() {
            3 => constant(2, "number of bins")?,
            _ => DEFAULT_BINS as f64,
        };
        // NaN is refused too: it would become 0 bins.
        if bins.is_nan() || bins < 2.0 {
            return plan_err!(
                "percentile_approx: the number of bins must be at least 2, not {bins}"
            );
        }
        Ok(Box::new(HistogramAccumulator {
            p,
            histogram: Histogram::new(bins as usize),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Arc::new(Field::new("item", DataType::Float64, true));
        Ok(vec![Arc::new(Field::new(
            format!("{}[bins]", args.name),
            DataType::List(item),
            true,
        ))])
    }
}

/// Bins `(x, count)` sorted by x, at most `limit` of them.
#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    limit: usize,
    bins: Vec<(f64, f64)>,
}

impl Histogram {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            bins: Vec::new(),
        }
    }

    fn add(&mut self, v: f64) {
        match self.bins.binary_search_by(|(x, _)| x.total_cmp(&v)) {
            Ok(i) => self.bins[i].1 += 1.0,
            Err(i) => {
                self.bins.insert(i, (v, 1.0));
                self.trim();
            }
        }
    }

    /// Merges the closest neighbours (first pair on ties) into their
    /// count-weighted mean until at most `limit` bins remain.
    fn trim(&mut self) {
        while self.bins.len() > self.limit {
            let mut at = 0;
            let mut smallest = self.bins[1].0 - self.bins[0].0;
            for i in 1..self.bins.len() - 1 {
                let gap = self.bins[i + 1].0 - self.bins[i].0;
                if gap < smallest {
                    smallest = gap;
                    at = i;
                }
            }
            let (x1, y1) = self.bins[at];
            let (x2, y2) = self.bins.remove(at + 1);
            let y = y1 + y2;
            self.bins[at] = (x1 * (y1 / y) + x2 / y * y2, y);
        }
    }

    /// Another histogram's bins (Hive's `merge`: concatenate, sort, trim).
    fn merge(&mut self, other: &[(f64, f64)]) {
        self.bins.extend_from_slice(other);
        self.bins.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.trim();
    }

    /// Hive's `NumericHistogram.quantile`.
    fn quantile(&self, q: f64) -> Option<f64> {
        let sum: f64 = self.bins.iter().map(|b| b.1).sum();
        let mut cumulative = 0.0;
        for (i, &(x, y)) in self.bins.iter().enumerate() {
            cumulative += y;
            if cumulative / sum >= q {
                if i == 0 {
                    return Some(x);
                }
                let before = cumulative - y;
                let previous = self.bins[i - 1].0;
                return Some(previous + (q * sum - before) * (x - previous) / y);
            }
        }
        self.bins.last().map(|b| b.0)
    }
}

#[derive(Debug)]
struct HistogramAccumulator {
    p: f64,
    histogram: Histogram,
}

impl Accumulator for HistogramAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = cast(&values[0], &DataType::Float64)?;
        for v in values.as_primitive::<Float64Type>().iter().flatten() {
            if !v.is_nan() {
                self.histogram.add(v);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for row in 0..lists.len() {
            if lists.is_null(row) {
                continue;
            }
            let flat = lists.value(row);
            let flat = flat.as_primitive::<Float64Type>();
            if flat.len() % 2 != 0 {
                return exec_err!("percentile_approx: a partial histogram has an odd length");
            }
            let pairs: Vec<(f64, f64)> = (0..flat.len() / 2)
                .map(|i| (flat.value(2 * i), flat.value(2 * i + 1)))
                .collect();
            self.histogram.merge(&pairs);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let flat = self
            .histogram
            .bins
            .iter()
            .flat_map(|&(x, y)| [Some(x), Some(y)]);
        let list = ListArray::from_iter_primitive::<Float64Type, _, _>([Some(flat)]);
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.histogram.quantile(self.p)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.histogram.bins.capacity() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[f64], limit: usize) -> Histogram {
        let mut h = Histogram::new(limit);
        for &v in values {
            h.add(v);
        }
        h
    }

    /// Values worked by hand through Hive's NumericHistogram.quantile.
    #[test]
    fn exact_bins_interpolate_like_hive() {
        let h = histogram(&[1.0, 2.0, 3.0, 4.0], 10_000);
        assert_eq!(h.quantile(0.5), Some(2.0));
        assert_eq!(h.quantile(0.25), Some(1.0));
        assert_eq!(h.quantile(0.75), Some(3.0));
        assert_eq!(h.quantile(1.0), Some(4.0));
        assert!((h.quantile(0.6).unwrap() - 2.4).abs() < 1e-12);
        let h = histogram(&[10.0, 10.0], 10_000);
        assert_eq!(h.quantile(0.5), Some(10.0));
        assert_eq!(Histogram::new(3).quantile(0.5), None);
    }

    #[test]
    fn too_many_values_merge_the_closest_bins() {
        // 1, 2, 10 with two bins: 1 and 2 merge into (1.5, 2).
        let h = histogram(&[1.0, 2.0, 10.0], 2);
        assert_eq!(h.bins, vec![(1.5, 2.0), (10.0, 1.0)]);
        let mut a = histogram(&[1.0, 2.0], 2);
        a.merge(&histogram(&[10.0], 2).bins);
        assert_eq!(a.bins, h.bins);
    }
}

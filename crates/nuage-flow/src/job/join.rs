//! An interval join's rounds. Each round reads both streams, then joins
//! what is new: with `A`, `B` the rows kept from earlier rounds and `ΔA`,
//! `ΔB` the new ones, the new results are `ΔA ⋈ (B ∪ ΔB)` and `A ⋈ ΔB`
//! (the user's SELECT run twice, each stream's name bound to those rows).
//! Then each side drops the rows no row still to come on the other side
//! can match: rows come at or after their side's watermark, so a source
//! row at `t` is kept while `t - lower >= watermark(other)`, and an other
//! row at `t` while `t + upper >= watermark(source)`.
//!
//! Outer joins: when a preserved side's row passes that point, the SELECT
//! runs once more on it and the other side's kept rows, keeping only the
//! rows padded with NULLs: it met nothing. For that the other side keeps
//! its rows until every preserved row they could meet has passed (no flag
//! per row, so nothing more to checkpoint).
//!
//! As for windows, the kept rows are not saved: the checkpoint keeps per
//! shard the oldest record a kept row comes from, and a restart reads both
//! streams again from there (to what had been read) before it joins
//! anything new.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;

use super::{Fresh, Runner, collect, note_oldest, time_array, time_mask};
use super::{with_origin, without_hidden};
use crate::error::Result;

/// Both sides' rows: kept from earlier rounds, and new in this one (with
/// the shard and record they come from).
#[derive(Default)]
pub(super) struct State {
    kept: [Vec<RecordBatch>; 2],
    fresh: [Vec<RecordBatch>; 2],
}

impl Runner {
    /// Files one read of a side: replayed rows are kept (they were joined
    /// before the restart), new ones wait for the round's join, and new
    /// ones behind their side's watermark are late.
    pub(super) async fn ingest_join(
        &mut self,
        side: usize,
        rows: RecordBatch,
        fresh: Fresh<'_>,
        records: &[nuage_streams::Record],
    ) -> Result<()> {
        let join = self.job.plan.join.as_ref().expect("an interval join");
        let time = time_array(&rows, &join.times[side])?;
        let watermark = self.checkpoint.join_watermarks[side];
        let (mut old, mut new) = (Vec::new(), Vec::new());
        let mut late_records = BTreeSet::new();
        for row in 0..rows.num_rows() {
            // A row without a time can match nothing.
            if time.is_null(row) {
                continue;
            }
            if fresh.numbers[row] < fresh.first_new {
                old.push(row as u32);
            } else if watermark.is_some_and(|wm| time.value(row) < wm) {
                late_records.insert(fresh.kept[row]);
            } else {
                new.push(row as u32);
            }
        }
        if !old.is_empty() {
            let part = with_origin(&rows, &old, fresh.shard, fresh.numbers)?;
            self.join.kept[side].push(part);
        }
        if !new.is_empty() {
            let part = with_origin(&rows, &new, fresh.shard, fresh.numbers)?;
            self.join.fresh[side].push(part);
        }
        if !late_records.is_empty() {
            self.late(side, records, &late_records).await?;
        }
        Ok(())
    }

    /// Joins the round's new rows (read from `read_before`), pads the
    /// preserved rows that met nothing and never will, then drops the rows
    /// nothing can match any more, and saves.
    pub(super) async fn join_round(&mut self, read_before: [BTreeMap<u32, u64>; 2]) -> Result<()> {
        let join = self.job.plan.join.clone().expect("an interval join");
        let fresh = std::mem::take(&mut self.join.fresh);
        let joined = fresh.iter().any(|f| !f.is_empty());
        let watermarks = [self.side_watermark(0), self.side_watermark(1)];
        let passing = self.passing(&fresh, watermarks)?;
        let padding = passing.iter().any(|p| !p.is_empty());
        if joined || padding {
            let stem = self.begin_round("j", read_before)?;
            let mut rows = Vec::new();
            if !fresh[0].is_empty() {
                let other: Vec<RecordBatch> =
                    self.join.kept[1].iter().chain(&fresh[1]).cloned().collect();
                if !other.is_empty() {
                    let new = fresh[0].clone();
                    rows.extend(self.join_query(&join.inner_text, new, other).await?);
                }
            }
            if !fresh[1].is_empty() && !self.join.kept[0].is_empty() {
                let source = self.join.kept[0].clone();
                let new = fresh[1].clone();
                rows.extend(self.join_query(&join.inner_text, source, new).await?);
            }
            for (side, batches) in fresh.into_iter().enumerate() {
                self.join.kept[side].extend(batches);
            }
            for (side, rows_of) in passing.into_iter().enumerate() {
                if !rows_of.is_empty() {
                    let text = join.padded_text[side].clone().expect("a preserved side");
                    let other = self.join.kept[1 - side].clone();
                    let other = if other.is_empty() {
                        vec![self.no_rows(1 - side)?]
                    } else {
                        other
                    };
                    let (source, other) = if side == 0 {
                        (rows_of, other)
                    } else {
                        (other, rows_of)
                    };
                    rows.extend(self.join_query(&text, source, other).await?);
                }
            }
            self.write(rows, &stem).await?;
            self.redo = None;
            self.checkpoint.intent = None;
            self.checkpoint.fires += 1;
        }
        if let [Some(a), Some(b)] = watermarks {
            self.job
                .metrics
                .watermark
                .store(a.min(b), Ordering::Relaxed);
        }
        let advanced = watermarks != self.checkpoint.join_watermarks;
        if !joined && !advanced {
            return Ok(());
        }
        self.checkpoint.join_watermarks = watermarks;
        self.expire(watermarks)?;
        for side in 0..2 {
            let mut oldest: BTreeMap<u32, u64> = BTreeMap::new();
            for batch in &self.join.kept[side] {
                note_oldest(batch, &mut oldest);
            }
            for (shard, state) in self.shards(side).iter_mut() {
                state.replay_from = oldest.get(shard).copied().unwrap_or(state.read_to);
            }
        }
        self.save()
    }

    /// Rows of preserved sides that pass their last chance to meet a row
    /// of the other side in this round: kept rows the other side's
    /// watermark passes now (not before: they were padded then), and new
    /// rows it has passed already.
    fn passing(
        &self,
        fresh: &[Vec<RecordBatch>; 2],
        watermarks: [Option<i64>; 2],
    ) -> Result<[Vec<RecordBatch>; 2]> {
        let join = self.job.plan.join.as_ref().expect("an interval join");
        let reach = [-join.lower, join.upper];
        let mut passing = [Vec::new(), Vec::new()];
        for side in 0..2 {
            let Some(wm) = watermarks[1 - side].filter(|_| join.preserved[side]) else {
                continue;
            };
            let before = self.checkpoint.join_watermarks[1 - side].unwrap_or(i64::MIN);
            let batches = self.join.kept[side]
                .iter()
                .map(|b| (b, true))
                .chain(fresh[side].iter().map(|b| (b, false)));
            for (batch, kept) in batches {
                let time = time_array(batch, &join.times[side])?;
                let last = |t: i64| t.saturating_add(reach[side]);
                let mask = time_mask(&time, |t| last(t) < wm && (!kept || last(t) >= before));
                let rows = filter_record_batch(batch, &mask)?;
                if rows.num_rows() > 0 {
                    passing[side].push(rows);
                }
            }
        }
        Ok(passing)
    }

    /// No rows, as side `side`'s rows are (an outer join's other side when
    /// it has none).
    fn no_rows(&self, side: usize) -> Result<RecordBatch> {
        let decoded = self.sides[side].decoder.decode(&[])?;
        with_origin(&decoded.rows, &[], 0, &[])
    }

    /// Drops the rows the other side's watermark has passed the bound of
    /// (in an outer join, once no preserved row they could meet is left).
    fn expire(&mut self, watermarks: [Option<i64>; 2]) -> Result<()> {
        let join = self.job.plan.join.clone().expect("an interval join");
        // Source rows need other rows at or before t - lower; other rows
        // need source rows at or before t + upper.
        let reach = [-join.lower, join.upper];
        for side in 0..2 {
            let Some(wm) = watermarks[1 - side] else {
                continue;
            };
            // The other side's preserved rows this one could meet leave
            // once its own watermark passes t + reach of both sides.
            let own = watermarks[side].unwrap_or(i64::MIN);
            let wait_for_preserved = join.preserved[1 - side];
            let mut kept = Vec::new();
            for batch in std::mem::take(&mut self.join.kept[side]) {
                let time = time_array(&batch, &join.times[side])?;
                let keep = time_mask(&time, |t| {
                    t.saturating_add(reach[side]) >= wm
                        || (wait_for_preserved
                            && t.saturating_add(reach[0]).saturating_add(reach[1]) >= own)
                });
                let batch = filter_record_batch(&batch, &keep)?;
                if batch.num_rows() > 0 {
                    kept.push(batch);
                }
            }
            self.join.kept[side] = kept;
        }
        Ok(())
    }

    /// The SELECT `text` with the source's name bound to `source` and the
    /// other stream's to `other`.
    async fn join_query(
        &mut self,
        text: &str,
        source: Vec<RecordBatch>,
        other: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>> {
        let plan = &self.job.plan;
        let join = plan.join.as_ref().expect("an interval join");
        self.bind_all(&plan.source.database, &plan.source.name, source)?;
        self.bind_all(&join.other.database, &join.other.name, other)?;
        let output = self.session.execute_unrecorded(text).await?;
        collect(output).await?.iter().map(without_hidden).collect()
    }
}

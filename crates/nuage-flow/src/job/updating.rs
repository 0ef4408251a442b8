//! A GROUP BY (or DISTINCT) over a stream without a window: a result that
//! changes as rows come, written as a changelog as Flink writes one: `+I`
//! a new row, `-U`/`+U` a row before and after an update, `-D` a row gone.
//!
//! Every row read is kept (Flink keeps an accumulator per key; here the
//! rows, so the state grows with the stream: a preview's size, not a
//! month's). Each read that brought new rows runs the SELECT again over
//! all of them and emits the difference from the last result: rows that
//! left it and rows that entered it, paired as an update when they share
//! the GROUP BY key (the SELECT's key columns). After a restart the rows
//! are read again from the start position, and the last result is
//! computed again from them before anything new is emitted.
//!
//! Into a stream table the changes are records in its format: Flink's
//! `debezium-json` (`{"before", "after", "op": "c"|"d"}`; an update is a
//! "d" then a "c", as Flink writes it) or nuage's `changelog-json`
//! (`{"op": "+U", "row": {...}}`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::row::{RowConverter, SortField};

use super::{Fresh, Runner, collect, with_origin, without_hidden};
use crate::error::Result;

/// The hidden column with each change's kind.
const OP: &str = "__flow_op";

#[derive(Default)]
pub(super) struct State {
    /// The last result emitted.
    pub(super) result: Option<RecordBatch>,
    /// Whether new rows came since.
    changed: bool,
}

impl Runner {
    /// Keeps a read's rows; new ones call for a new result.
    pub(super) fn ingest_updating(&mut self, rows: RecordBatch, fresh: Fresh<'_>) -> Result<()> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let all: Vec<u32> = (0..rows.num_rows() as u32).collect();
        self.pending
            .push(with_origin(&rows, &all, fresh.shard, fresh.numbers)?);
        if fresh.numbers.iter().any(|n| *n >= fresh.first_new) {
            self.update.changed = true;
        }
        Ok(())
    }

    /// The SELECT over every row kept (none: no result yet).
    pub(super) async fn updated_result(&mut self) -> Result<Option<RecordBatch>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let source = &self.job.plan.source;
        self.bind_all(&source.database, &source.name, self.pending.clone())?;
        let output = self
            .session
            .execute_unrecorded(&self.job.plan.select_text)
            .await?;
        let batches: Vec<RecordBatch> = collect(output)
            .await?
            .iter()
            .map(without_hidden)
            .collect::<Result<_>>()?;
        let Some(first) = batches.first() else {
            return Ok(None);
        };
        Ok(Some(concat_batches(&first.schema(), &batches)?))
    }

    /// After a read with new rows: the new result's changes, into the sink
    /// (a round cut by a crash is redone from `read_before`).
    pub(super) async fn update_round(
        &mut self,
        read_before: [BTreeMap<u32, u64>; 2],
    ) -> Result<()> {
        if !self.update.changed {
            return Ok(());
        }
        self.update.changed = false;
        let stem = self.begin_round("u", read_before)?;
        let result = self.updated_result().await?;
        let key = self
            .job
            .plan
            .updating
            .as_ref()
            .and_then(|u| u.key.as_deref());
        let changes = changes(self.update.result.as_ref(), result.as_ref(), key)?;
        if let Some(changes) = changes {
            self.write(vec![changes], &stem).await?;
        }
        self.update.result = result;
        self.redo = None;
        self.checkpoint.intent = None;
        self.checkpoint.fires += 1;
        self.save()
    }
}

/// What changed from `before` to `after`, with an `__flow_op` column:
/// rows gone and rows come (as multisets), a pair sharing a key an
/// update (`-U` then `+U`), the others `-D` and `+I`.
fn changes(
    before: Option<&RecordBatch>,
    after: Option<&RecordBatch>,
    key: Option<&[usize]>,
) -> Result<Option<RecordBatch>> {
    let Some(schema) = after.or(before).map(|b| b.schema()) else {
        return Ok(None);
    };
    let empty = RecordBatch::new_empty(schema.clone());
    let (before, after) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    // One batch: the old rows, then the new ones.
    let both = concat_batches(&schema, [before, after])?;
    let n_before = before.num_rows();
    let fields: Vec<SortField> = schema
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let rows = RowConverter::new(fields)?.convert_columns(both.columns())?;
    // Per distinct row: its old indices and its new ones.
    let mut seen: HashMap<&[u8], (Vec<usize>, Vec<usize>)> = HashMap::new();
    for i in 0..both.num_rows() {
        let entry = seen.entry(rows.row(i).data()).or_default();
        if i < n_before {
            entry.0.push(i);
        } else {
            entry.1.push(i);
        }
    }
    let (mut gone, mut come) = (Vec::new(), Vec::new());
    for (old, new) in seen.values() {
        gone.extend(old.iter().skip(new.len()));
        come.extend(new.iter().skip(old.len()));
    }
    gone.sort_unstable();
    come.sort_unstable();
    if gone.is_empty() && come.is_empty() {
        return Ok(None);
    }
    // Pairs by key: an update.
    let keys = match key {
        Some(key) => {
            let fields: Vec<SortField> = key
                .iter()
                .map(|&k| SortField::new(schema.field(k).data_type().clone()))
                .collect();
            let columns: Vec<ArrayRef> = key.iter().map(|&k| both.column(k).clone()).collect();
            Some(RowConverter::new(fields)?.convert_columns(&columns)?)
        }
        None => None,
    };
    let mut gone_by_key: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    if let Some(keys) = &keys {
        for &i in &gone {
            gone_by_key
                .entry(keys.row(i).data().to_vec())
                .or_default()
                .push(i);
        }
    }
    let mut order: Vec<(usize, &'static str)> = Vec::new();
    let mut paired = std::collections::HashSet::new();
    let mut inserted = Vec::new();
    for &i in &come {
        let old = keys
            .as_ref()
            .and_then(|k| gone_by_key.get_mut(k.row(i).data()))
            .and_then(|v| v.pop());
        match old {
            Some(old) => {
                paired.insert(old);
                order.push((old, "-U"));
                order.push((i, "+U"));
            }
            None => inserted.push(i),
        }
    }
    let mut changes: Vec<(usize, &'static str)> = gone
        .iter()
        .filter(|i| !paired.contains(*i))
        .map(|&i| (i, "-D"))
        .collect();
    changes.extend(order);
    changes.extend(inserted.into_iter().map(|i| (i, "+I")));
    let indices = UInt32Array::from_iter_values(changes.iter().map(|(i, _)| *i as u32));
    let taken = take_record_batch(&both, &indices)?;
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(OP, DataType::Utf8, false));
    let mut columns = taken.columns().to_vec();
    columns.push(Arc::new(StringArray::from_iter_values(
        changes.iter().map(|(_, op)| *op),
    )));
    Ok(Some(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?))
}

/// The kinds of a batch's changes (nothing when it is not a changelog).
pub(super) fn ops_of(batch: &RecordBatch) -> Vec<String> {
    batch
        .column_by_name(OP)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .map(|ops| ops.iter().map(|o| o.unwrap_or("+I").to_string()).collect())
        .unwrap_or_default()
}

/// A batch's rows as a changelog format's records (each row's kind from
/// `ops`; `+I` when there are none), with their partition keys.
pub(super) fn encode<'a>(
    table: &crate::table::StreamTable,
    batch: &RecordBatch,
    ops: &mut impl Iterator<Item = &'a String>,
) -> Result<Vec<(Bytes, Option<String>)>> {
    let text = super::encode_lines(table, batch)?;
    let keys = super::partition_keys(table, batch);
    let debezium = table.option("format") == Some("debezium-json");
    let mut records = Vec::new();
    for (i, line) in text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let row: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| crate::error::FlowError::Sink(format!("a changelog row: {e}")))?;
        let op = ops.next().map(String::as_str).unwrap_or("+I");
        let record = if debezium {
            let removed = op == "-U" || op == "-D";
            serde_json::json!({
                "before": if removed { row.clone() } else { serde_json::Value::Null },
                "after": if removed { serde_json::Value::Null } else { row },
                "op": if removed { "d" } else { "c" },
            })
        } else {
            serde_json::json!({ "op": op, "row": row })
        };
        records.push((
            Bytes::from(record.to_string()),
            keys.as_ref().map(|k| k[i].clone()),
        ));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn counts(rows: &[(&str, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("station", DataType::Utf8, false),
                Field::new("n", DataType::Int64, false),
            ])),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap()
    }

    fn shown(batch: Option<RecordBatch>) -> Vec<String> {
        let Some(batch) = batch else {
            return Vec::new();
        };
        let ops = ops_of(&batch);
        let station = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let n = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        (0..batch.num_rows())
            .map(|i| format!("{} {} {}", ops[i], station.value(i), n.value(i)))
            .collect()
    }

    #[test]
    fn a_keyed_result_changes_as_flink_s_changelog_does() {
        let first = counts(&[("A", 1)]);
        assert_eq!(
            shown(changes(None, Some(&first), Some(&[0])).unwrap()),
            ["+I A 1"]
        );
        let second = counts(&[("A", 2), ("B", 1)]);
        assert_eq!(
            shown(changes(Some(&first), Some(&second), Some(&[0])).unwrap()),
            ["-U A 1", "+U A 2", "+I B 1"]
        );
        // A HAVING that drops a key: a delete; nothing new: nothing.
        let third = counts(&[("B", 1)]);
        assert_eq!(
            shown(changes(Some(&second), Some(&third), Some(&[0])).unwrap()),
            ["-D A 2"]
        );
        assert!(
            changes(Some(&third), Some(&third), Some(&[0]))
                .unwrap()
                .is_none()
        );
        // Without a key in the SELECT, no pairs: deletes and inserts.
        assert_eq!(
            shown(changes(Some(&first), Some(&second), None).unwrap()),
            ["-D A 1", "+I A 2", "+I B 1"]
        );
    }
}

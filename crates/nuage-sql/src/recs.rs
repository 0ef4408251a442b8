//! Recommendations as table functions over lake tables:
//!
//! - `similar_by_text(table, key_column, text_column, item_key, k [, options])`:
//!   rows `(key, score)`, the k rows whose TF-IDF vectors are closest (cosine)
//!   to the row of `item_key` ([`tfidf`]);
//! - `similar_by_ratings(table, user_column, item_column, rating_column,
//!   item_key, k, min_ratings)`: rows `(item, distance)`, the k items with at
//!   least min_ratings ratings nearest to `item_key` by cosine distance
//!   ([`knn`]).
//!
//! The models themselves live in `nuage-recs`; this module reads the table,
//! caches models and answers as a table function.
//!
//! A model is built once per (table, columns, options) and kept while the
//! table's files stay the same: each call lists the files behind the table
//! (through views too) and rebuilds when their names, sizes or times moved.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DataFusionError, Result, ScalarValue, TableReference};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source_as_provider;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::provider::HiveTable;
pub use nuage_recs::TextOptions;
use nuage_recs::{knn, tfidf};

pub fn register(ctx: &SessionContext) {
    ctx.register_udtf("similar_by_text", Arc::new(SimilarByText));
    ctx.register_udtf("similar_by_ratings", Arc::new(SimilarByRatings));
}

fn plan_err(function: &str, message: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Plan(format!("{function}: {message}"))
}

/// The literal at `i`, or an error naming the argument.
fn literal<'a>(function: &str, exprs: &'a [Expr], i: usize, name: &str) -> Result<&'a ScalarValue> {
    match exprs.get(i) {
        Some(Expr::Literal(value, _)) if !value.is_null() => Ok(value),
        Some(other) => Err(plan_err(
            function,
            format!(
                "argument {} ({name}) must be a constant, not {other}",
                i + 1
            ),
        )),
        None => Err(plan_err(
            function,
            format!("argument {} ({name}) is missing", i + 1),
        )),
    }
}

fn text_arg(function: &str, exprs: &[Expr], i: usize, name: &str) -> Result<String> {
    match literal(function, exprs, i, name)? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Ok(s.clone()),
        other => Err(plan_err(
            function,
            format!("argument {} ({name}) must be a string, not {other}", i + 1),
        )),
    }
}

fn count_arg(function: &str, exprs: &[Expr], i: usize, name: &str) -> Result<usize> {
    let value = literal(function, exprs, i, name)?;
    value
        .cast_to(&DataType::Int64)
        .ok()
        .and_then(|v| match v {
            ScalarValue::Int64(Some(n)) if n >= 0 => Some(n as usize),
            _ => None,
        })
        .ok_or_else(|| {
            plan_err(
                function,
                format!(
                    "argument {} ({name}) must be a whole number >= 0, not {value}",
                    i + 1
                ),
            )
        })
}

/// The table a call reads, resolved in the calling session (no I/O: the
/// catalog answers from the metastore).
fn resolve(function: &str, session: &dyn Session, name: &str) -> Result<Arc<dyn TableProvider>> {
    let state = session
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(|| plan_err(function, "needs a nuage SQL session"))?;
    let reference = TableReference::from(name);
    let schema = state.schema_for_ref(reference.clone())?;
    futures::executor::block_on(schema.table(reference.table()))?
        .ok_or_else(|| plan_err(function, format!("table {name} does not exist")))
}

/// The column of `schema` named `name` (in any case), or an error listing
/// the columns there are.
fn column<'a>(function: &str, table: &str, schema: &'a Schema, name: &str) -> Result<&'a Field> {
    schema
        .fields()
        .iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
        .map(|f| f.as_ref())
        .ok_or_else(|| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            plan_err(
                function,
                format!(
                    "table {table} has no column {name} (it has {})",
                    names.join(", ")
                ),
            )
        })
}

#[derive(Debug, Clone)]
enum Request {
    Text {
        table: String,
        key: String,
        text: String,
        item: ScalarValue,
        k: usize,
        options: TextOptions,
    },
    Ratings {
        table: String,
        user: String,
        item_column: String,
        rating: String,
        item: ScalarValue,
        k: usize,
        min_ratings: usize,
    },
}

impl Request {
    fn function(&self) -> &'static str {
        match self {
            Request::Text { .. } => "similar_by_text",
            Request::Ratings { .. } => "similar_by_ratings",
        }
    }

    fn table(&self) -> &str {
        match self {
            Request::Text { table, .. } | Request::Ratings { table, .. } => table,
        }
    }

    /// The columns read, in order.
    fn columns(&self) -> Vec<&str> {
        match self {
            Request::Text { key, text, .. } => vec![key, text],
            Request::Ratings {
                user,
                item_column,
                rating,
                ..
            } => vec![user, item_column, rating],
        }
    }

    /// What identifies the model (not the item asked about, nor k).
    fn model_key(&self, database: &str) -> String {
        let options = match self {
            Request::Text { options, .. } => format!("{options:?}"),
            Request::Ratings { min_ratings, .. } => min_ratings.to_string(),
        };
        format!(
            "{}|{database}|{}|{}|{options}",
            self.function(),
            self.table().to_lowercase(),
            self.columns().join(",").to_lowercase()
        )
    }
}

#[derive(Debug)]
struct SimilarByText;

impl TableFunctionImpl for SimilarByText {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let f = "similar_by_text";
        let exprs = args.exprs();
        if !(5..=6).contains(&exprs.len()) {
            return Err(plan_err(
                f,
                "takes (table, key_column, text_column, item_key, k [, 'ngram_range=(1,2), min_df=1, max_df=1.0, stop_words=english'])",
            ));
        }
        let options = match exprs.len() {
            6 => TextOptions::parse(&text_arg(f, exprs, 5, "options")?)
                .map_err(|e| plan_err(f, e))?,
            _ => TextOptions::default(),
        };
        let request = Request::Text {
            table: text_arg(f, exprs, 0, "table")?,
            key: text_arg(f, exprs, 1, "key_column")?,
            text: text_arg(f, exprs, 2, "text_column")?,
            item: literal(f, exprs, 3, "item_key")?.clone(),
            k: count_arg(f, exprs, 4, "k")?,
            options,
        };
        Recommendation::provider(request, args.session(), "key", "score")
    }
}

#[derive(Debug)]
struct SimilarByRatings;

impl TableFunctionImpl for SimilarByRatings {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let f = "similar_by_ratings";
        let exprs = args.exprs();
        if exprs.len() != 7 {
            return Err(plan_err(
                f,
                "takes (table, user_column, item_column, rating_column, item_key, k, min_ratings)",
            ));
        }
        let request = Request::Ratings {
            table: text_arg(f, exprs, 0, "table")?,
            user: text_arg(f, exprs, 1, "user_column")?,
            item_column: text_arg(f, exprs, 2, "item_column")?,
            rating: text_arg(f, exprs, 3, "rating_column")?,
            item: literal(f, exprs, 4, "item_key")?.clone(),
            k: count_arg(f, exprs, 5, "k")?,
            min_ratings: count_arg(f, exprs, 6, "min_ratings")?,
        };
        Recommendation::provider(request, args.session(), "item", "distance")
    }
}

/// One call's answer, computed when it is scanned.
#[derive(Debug)]
struct Recommendation {
    request: Request,
    /// The table's own spelling of the columns read.
    columns: Vec<String>,
    schema: SchemaRef,
}

impl Recommendation {
    fn provider(
        request: Request,
        session: &dyn Session,
        key_name: &str,
        value_name: &str,
    ) -> Result<Arc<dyn TableProvider>> {
        let f = request.function();
        let provider = resolve(f, session, request.table())?;
        let schema = provider.schema();
        let fields = request
            .columns()
            .iter()
            .map(|c| column(f, request.table(), &schema, c).cloned())
            .collect::<Result<Vec<Field>>>()?;
        // The key is the text's key column, or the ratings' item column.
        let key = match &request {
            Request::Text { .. } => &fields[0],
            Request::Ratings { .. } => {
                let rating = &fields[2];
                if !rating.data_type().is_numeric() {
                    return Err(plan_err(
                        f,
                        format!(
                            "rating column {} of {} is {}, not a number; cast it in a view (CAST({} AS DOUBLE))",
                            rating.name(),
                            request.table(),
                            rating.data_type(),
                            rating.name()
                        ),
                    ));
                }
                &fields[1]
            }
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new(key_name, key.data_type().clone(), true),
            Field::new(value_name, DataType::Float64, false),
        ]));
        Ok(Arc::new(Recommendation {
            columns: fields.iter().map(|f| f.name().clone()).collect(),
            request,
            schema,
        }))
    }
}

#[async_trait]
impl TableProvider for Recommendation {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let f = self.request.function();
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| plan_err(f, "needs a nuage SQL session"))?;
        let database = state.config().options().catalog.default_schema.clone();
        let ctx = SessionContext::new_with_state(state.clone());
        let model = cached_model(self, &ctx, &database).await?;
        let table = self.request.table();
        let found = match (&self.request, &model.kind) {
            (Request::Text { item, k, .. }, Kind::Text(text)) => {
                let doc = model.keys.find(f, item, table, &self.columns[0])?;
                text.similar(doc, *k, |a, b| model.keys.cmp(a, b))
            }
            (Request::Ratings { item, k, .. }, Kind::Ratings(ratings)) => {
                let id = model.keys.find(f, item, table, &self.columns[1])?;
                if !ratings.eligible(id) {
                    return Err(plan_err(
                        f,
                        format!(
                            "item {item} has {} rating(s), fewer than min_ratings = {}",
                            ratings.counts[id], ratings.min_ratings
                        ),
                    ));
                }
                ratings.nearest(id, *k, |a, b| model.keys.cmp(a, b))
            }
            _ => return Err(plan_err(f, "internal: model of the wrong kind")),
        };
        let (indices, values): (Vec<u32>, Vec<f64>) =
            found.into_iter().map(|(i, v)| (i as u32, v)).unzip();
        let keys = take(&model.keys.array, &UInt32Array::from(indices), None)?;
        let batch = RecordBatch::try_new(
            self.schema.clone(),
            vec![keys, Arc::new(Float64Array::from(values))],
        )?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

/// Key values with their order: row `i` of `array` is the key of model row
/// `i`.
#[derive(Debug)]
struct Keys {
    array: ArrayRef,
    rows: Rows,
    converter: RowConverter,
}

impl Keys {
    fn new(array: ArrayRef) -> Result<Keys> {
        let converter = RowConverter::new(vec![SortField::new(array.data_type().clone())])?;
        let rows = converter.convert_columns(std::slice::from_ref(&array))?;
        Ok(Keys {
            array,
            rows,
            converter,
        })
    }

    fn cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        self.rows.row(a).cmp(&self.rows.row(b))
    }

    /// The first model row whose key equals `item`.
    fn find(&self, f: &str, item: &ScalarValue, table: &str, column: &str) -> Result<usize> {
        let wanted = item.cast_to(self.array.data_type()).map_err(|_| {
            plan_err(
                f,
                format!(
                    "item_key {item} cannot be compared with {column} ({})",
                    self.array.data_type()
                ),
            )
        })?;
        let wanted = self
            .converter
            .convert_columns(&[wanted.to_array_of_size(1)?])?;
        (0..self.rows.num_rows())
            .find(|&i| self.rows.row(i) == wanted.row(0))
            .ok_or_else(|| plan_err(f, format!("no row of {table} has {column} = {item}")))
    }
}

/// A built model and the keys of its rows.
#[derive(Debug)]
struct Model {
    keys: Keys,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Text(tfidf::TextModel),
    Ratings(knn::RatingsModel),
}

impl Model {
    fn build(request: &Request, arrays: &[ArrayRef]) -> Result<Model> {
        let f = request.function();
        match request {
            Request::Text { options, .. } => {
                let text = cast(&arrays[1], &DataType::Utf8)?;
                let text = text.as_string::<i32>();
                let model =
                    tfidf::TextModel::build(text.iter(), options).map_err(|e| plan_err(f, e))?;
                Ok(Model {
                    keys: Keys::new(arrays[0].clone())?,
                    kind: Kind::Text(model),
                })
            }
            Request::Ratings { min_ratings, .. } => {
                let (users, user_rows) = dense_ids(&arrays[0])?;
                let (items, item_rows) = dense_ids(&arrays[1])?;
                let rating = cast(&arrays[2], &DataType::Float64)?;
                let rating = rating.as_primitive::<Float64Type>();
                let triples: Vec<(u32, u32, f64)> = (0..rating.len())
                    .filter_map(|i| {
                        let r = (!rating.is_null(i)).then(|| rating.value(i))?;
                        Some((users[i]?, items[i]?, r))
                    })
                    .collect();
                let model = knn::RatingsModel::build(
                    &triples,
                    user_rows.len(),
                    item_rows.len(),
                    *min_ratings,
                );
                let keys = take(&arrays[1], &UInt32Array::from(item_rows), None)?;
                Ok(Model {
                    keys: Keys::new(keys)?,
                    kind: Kind::Ratings(model),
                })
            }
        }
    }
}

/// Dense ids (0, 1, ... in order of first appearance) for the values of a
/// column, None for NULL; and for each id, the row it first appears in.
fn dense_ids(array: &ArrayRef) -> Result<(Vec<Option<u32>>, Vec<u32>)> {
    let converter = RowConverter::new(vec![SortField::new(array.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(array))?;
    let mut ids: HashMap<&[u8], u32> = HashMap::new();
    let mut first_rows = Vec::new();
    let dense = (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                return None;
            }
            let next = ids.len() as u32;
            let id = *ids.entry(rows.row(i).data()).or_insert(next);
            if id == next {
                first_rows.push(i as u32);
            }
            Some(id)
        })
        .collect();
    Ok((dense, first_rows))
}

/// The files behind a plan's tables (through views), hashed; None when a
/// table is not made of files (a temporary table), which is then read
/// every time.
async fn fingerprint(plan: &LogicalPlan) -> Result<Option<u64>> {
    let mut sources = Vec::new();
    plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            sources.push(scan.source.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for source in sources {
        let provider = source_as_provider(&source)?;
        if let Some(table) = (provider.as_ref() as &dyn std::any::Any).downcast_ref::<HiveTable>() {
            table.fingerprint(&mut hasher).await?;
        } else if let Some(view) = provider.get_logical_plan() {
            match Box::pin(fingerprint(&view)).await? {
                Some(f) => f.hash(&mut hasher),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        }
    }
    Ok(Some(hasher.finish()))
}

/// Models of this process by what they were built from, with the
/// fingerprint of the files they were built on and when.
type Cache = Mutex<BTreeMap<String, (u64, Instant, Arc<Model>)>>;

static MODELS: LazyLock<Cache> = LazyLock::new(Default::default);

/// Models kept at most; the oldest is dropped first.
const KEPT: usize = 16;

/// The model a call needs: the cached one while the table's files are
/// the same, else one built from the columns read now.
async fn cached_model(
    call: &Recommendation,
    ctx: &SessionContext,
    database: &str,
) -> Result<Arc<Model>> {
    let key = call.request.model_key(database);
    let frame = ctx
        .table(TableReference::from(call.request.table()))
        .await?
        .select(
            call.columns
                .iter()
                .map(|c| Expr::Column(Column::new_unqualified(c)))
                .collect::<Vec<_>>(),
        )?;
    // Taken before reading: files that change meanwhile make the next
    // call build again.
    let files = fingerprint(frame.logical_plan()).await?;
    if let Some(files) = files
        && let Some((built_on, _, model)) = MODELS.lock().expect("models poisoned").get(&key)
        && *built_on == files
    {
        return Ok(model.clone());
    }
    let schema = frame.schema().inner().clone();
    let columns = concat_batches(&schema, &frame.collect().await?)?;
    // Building takes seconds on large tables: off the async workers.
    let request = call.request.clone();
    let model = tokio::task::spawn_blocking(move || Model::build(&request, columns.columns()))
        .await
        .map_err(|e| plan_err(call.request.function(), format!("building the model: {e}")))??;
    let model = Arc::new(model);
    if let Some(files) = files {
        let mut models = MODELS.lock().expect("models poisoned");
        if models.len() >= KEPT && !models.contains_key(&key) {
            let oldest = models
                .iter()
                .min_by_key(|(_, (_, built, _))| *built)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                models.remove(&oldest);
            }
        }
        models.insert(key, (files, Instant::now(), model.clone()));
    }
    Ok(model)
}

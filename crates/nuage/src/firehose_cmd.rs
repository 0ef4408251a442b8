//! `nuage firehose`: delivery streams for people, through a running `nuage
//! serve` (like `nuage stream`, these commands are one more API client).

use std::io::BufRead;
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::client::Connection;

#[derive(Args)]
pub struct FirehoseArgs {
    /// The nuage server (or any Firehose endpoint).
    #[arg(
        long,
        global = true,
        env = "NUAGE_ENDPOINT",
        default_value = "http://127.0.0.1:4566"
    )]
    endpoint: String,
    #[command(subcommand)]
    command: FirehoseCommand,
}

#[derive(Subcommand)]
enum FirehoseCommand {
    /// Create a DirectPut delivery stream into a lake bucket.
    Create(CreateArgs),
    /// Delivery streams with their destination.
    List,
    /// A delivery stream's settings, as DescribeDeliveryStream reports them.
    Describe { name: String },
    /// Put records: the DATA arguments, or each line of stdin; each record
    /// ends with a newline unless --no-newline.
    Put {
        name: String,
        #[arg(long)]
        no_newline: bool,
        data: Vec<String>,
    },
    /// Deliver what the stream holds, then delete it (delivered objects stay).
    Delete { name: String },
}

#[derive(Args)]
struct CreateArgs {
    name: String,
    /// Lake bucket the objects go to (created if missing).
    #[arg(long)]
    bucket: String,
    /// Key prefix; may hold !{timestamp:...}, !{firehose:random-string}.
    #[arg(long)]
    prefix: Option<String>,
    /// Key prefix of records that failed (needed when --prefix has expressions).
    #[arg(long)]
    error_prefix: Option<String>,
    /// BufferingHints.SizeInMBs (1-128).
    #[arg(long, default_value_t = 5)]
    size_mb: u32,
    /// BufferingHints.IntervalInSeconds (0-900).
    #[arg(long, default_value_t = 300)]
    interval: u32,
    #[arg(long, value_enum, default_value = "none")]
    compression: CompressionArg,
    /// Convert JSON records to Parquet with the columns of this catalog
    /// table (`db.table` or `table` in default); needs --size-mb >= 64.
    #[arg(long, value_name = "TABLE")]
    parquet: Option<String>,
    /// Any further ExtendedS3DestinationConfiguration members, as JSON
    /// (merged over the options above), e.g. '{"DynamicPartitioningConfiguration": ...}'.
    #[arg(long, value_name = "JSON")]
    destination_json: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompressionArg {
    None,
    Gzip,
    Snappy,
}

pub async fn run(args: FirehoseArgs) -> anyhow::Result<ExitCode> {
    let mut conn = Connection::open(&args.endpoint).await?.firehose();
    match args.command {
        FirehoseCommand::Create(c) => {
            let destination = destination(&c)?;
            let reply = conn
                .json(
                    "CreateDeliveryStream",
                    json!({
                        "DeliveryStreamName": c.name,
                        "DeliveryStreamType": "DirectPut",
                        "ExtendedS3DestinationConfiguration": destination,
                    }),
                )
                .await?;
            eprintln!(
                "created delivery stream {}",
                reply["DeliveryStreamARN"].as_str().unwrap_or(&c.name)
            );
        }
        FirehoseCommand::List => {
            let mut start: Option<String> = None;
            loop {
                let mut body = json!({"Limit": 100});
                if let Some(s) = &start {
                    body["ExclusiveStartDeliveryStreamName"] = json!(s);
                }
                let page = conn.json("ListDeliveryStreams", body).await?;
                let names: Vec<String> = page["DeliveryStreamNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect();
                for name in &names {
                    let d = describe(&mut conn, name).await?;
                    let s3 = &d["Destinations"][0]["ExtendedS3DestinationDescription"];
                    println!(
                        "{name}\t{}\ts3://{}/{}\tversion {}",
                        d["DeliveryStreamStatus"].as_str().unwrap_or_default(),
                        s3["BucketARN"]
                            .as_str()
                            .unwrap_or_default()
                            .trim_start_matches("arn:aws:s3:::"),
                        s3["Prefix"].as_str().unwrap_or_default(),
                        d["VersionId"].as_str().unwrap_or_default()
                    );
                }
                match (page["HasMoreDeliveryStreams"].as_bool(), names.last()) {
                    (Some(true), Some(last)) => start = Some(last.clone()),
                    _ => break,
                }
            }
        }
        FirehoseCommand::Describe { name } => {
            let d = describe(&mut conn, &name).await?;
            println!("{}", serde_json::to_string_pretty(&d)?);
        }
        FirehoseCommand::Put {
            name,
            no_newline,
            data,
        } => {
            let lines: Vec<String> = if data.is_empty() {
                std::io::stdin().lock().lines().collect::<Result<_, _>>()?
            } else {
                data
            };
            let mut total = 0;
            for chunk in lines.chunks(500) {
                let records: Vec<Value> = chunk
                    .iter()
                    .map(|line| {
                        let mut bytes = line.clone().into_bytes();
                        if !no_newline {
                            bytes.push(b'\n');
                        }
                        json!({"Data": STANDARD.encode(bytes)})
                    })
                    .collect();
                let reply = conn
                    .json(
                        "PutRecordBatch",
                        json!({"DeliveryStreamName": name, "Records": records}),
                    )
                    .await?;
                anyhow::ensure!(
                    reply["FailedPutCount"] == 0,
                    "{} records were refused: {}",
                    reply["FailedPutCount"],
                    reply["RequestResponses"]
                );
                total += chunk.len();
            }
            eprintln!("put {total} records into {name}");
        }
        FirehoseCommand::Delete { name } => {
            conn.json("DeleteDeliveryStream", json!({"DeliveryStreamName": name}))
                .await?;
            eprintln!("deleted delivery stream {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn describe(conn: &mut Connection, name: &str) -> anyhow::Result<Value> {
    let reply = conn
        .json(
            "DescribeDeliveryStream",
            json!({"DeliveryStreamName": name}),
        )
        .await?;
    Ok(reply["DeliveryStreamDescription"].clone())
}

/// The ExtendedS3DestinationConfiguration the options describe.
fn destination(c: &CreateArgs) -> anyhow::Result<Value> {
    let mut d = json!({
        "BucketARN": format!("arn:aws:s3:::{}", c.bucket),
        "RoleARN": "arn:aws:iam::000000000000:role/nuage",
        "BufferingHints": {"SizeInMBs": c.size_mb, "IntervalInSeconds": c.interval},
        "CompressionFormat": match c.compression {
            CompressionArg::None => "UNCOMPRESSED",
            CompressionArg::Gzip => "GZIP",
            CompressionArg::Snappy => "Snappy",
        },
    });
    if let Some(prefix) = &c.prefix {
        d["Prefix"] = json!(prefix);
    }
    if let Some(prefix) = &c.error_prefix {
        d["ErrorOutputPrefix"] = json!(prefix);
    }
    if let Some(table) = &c.parquet {
        let (database, table) = table.split_once('.').unwrap_or(("default", table));
        d["DataFormatConversionConfiguration"] = json!({
            "SchemaConfiguration": {"DatabaseName": database, "TableName": table},
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
        });
    }
    if let Some(extra) = &c.destination_json {
        let extra: Value = serde_json::from_str(extra)
            .map_err(|e| anyhow::anyhow!("--destination-json is not JSON: {e}"))?;
        let Value::Object(extra) = extra else {
            anyhow::bail!("--destination-json must be a JSON object of destination members");
        };
        for (key, value) in extra {
            d[key] = value;
        }
    }
    Ok(d)
}

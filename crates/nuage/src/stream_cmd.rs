//! `nuage stream`: Kinesis streams for people, through a running `nuage serve`
//! (the server owns the logs, so these commands go through its API like any
//! client).

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::client::Connection;

#[derive(Args)]
pub struct StreamArgs {
    /// The nuage server (or any Kinesis endpoint).
    #[arg(
        long,
        global = true,
        env = "NUAGE_ENDPOINT",
        default_value = "http://127.0.0.1:4566"
    )]
    endpoint: String,
    #[command(subcommand)]
    command: StreamCommand,
}

#[derive(Subcommand)]
enum StreamCommand {
    /// Create a stream (provisioned with --shards, or --on-demand).
    Create {
        name: String,
        #[arg(long, default_value_t = 1, conflicts_with = "on_demand")]
        shards: u32,
        #[arg(long)]
        on_demand: bool,
    },
    /// Streams with their status and open shards.
    List,
    /// A stream's shards, hash ranges and settings.
    Describe { name: String },
    /// Put records: the DATA arguments, or each line of stdin.
    Put {
        name: String,
        /// Partition key (default: a counter, spreading records over shards).
        #[arg(long)]
        key: Option<String>,
        data: Vec<String>,
    },
    /// Print the records stored so far, then stop.
    Get {
        name: String,
        #[arg(long, value_enum, default_value = "trim-horizon")]
        from: From,
        /// Stop after this many records.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Follow a stream like `tail -f` (new records from now, by default).
    Tail {
        name: String,
        #[arg(long, value_enum, default_value = "latest")]
        from: From,
    },
    /// Delete a stream and its records.
    Delete { name: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum From {
    TrimHorizon,
    Latest,
}

impl From {
    fn kind(self) -> &'static str {
        match self {
            From::TrimHorizon => "TRIM_HORIZON",
            From::Latest => "LATEST",
        }
    }
}

pub async fn run(args: StreamArgs) -> anyhow::Result<ExitCode> {
    let mut conn = Connection::open(&args.endpoint).await?;
    match args.command {
        StreamCommand::Create {
            name,
            shards,
            on_demand,
        } => {
            let body = if on_demand {
                json!({"StreamName": name, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}})
            } else {
                json!({"StreamName": name, "ShardCount": shards})
            };
            conn.json("CreateStream", body).await?;
            eprintln!("created stream {name}");
        }
        StreamCommand::List => {
            let mut token: Option<String> = None;
            loop {
                let body = match &token {
                    Some(t) => json!({"NextToken": t}),
                    None => json!({}),
                };
                let page = conn.json("ListStreams", body).await?;
                for s in page["StreamSummaries"].as_array().into_iter().flatten() {
                    let name = s["StreamName"].as_str().unwrap_or_default();
                    let summary = conn
                        .json("DescribeStreamSummary", json!({"StreamName": name}))
                        .await?;
                    let d = &summary["StreamDescriptionSummary"];
                    println!(
                        "{name}\t{}\t{}\t{} open shards",
                        d["StreamStatus"].as_str().unwrap_or_default(),
                        d["StreamModeDetails"]["StreamMode"]
                            .as_str()
                            .unwrap_or_default(),
                        d["OpenShardCount"]
                    );
                }
                match page["NextToken"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
        }
        StreamCommand::Describe { name } => {
            let d = conn
                .json("DescribeStreamSummary", json!({"StreamName": name}))
                .await?;
            let d = &d["StreamDescriptionSummary"];
            println!("stream\t{}", d["StreamName"].as_str().unwrap_or_default());
            println!("arn\t{}", d["StreamARN"].as_str().unwrap_or_default());
            println!("status\t{}", d["StreamStatus"].as_str().unwrap_or_default());
            println!(
                "mode\t{}",
                d["StreamModeDetails"]["StreamMode"]
                    .as_str()
                    .unwrap_or_default()
            );
            println!("retention\t{} hours", d["RetentionPeriodHours"]);
            let shards = conn.json("ListShards", json!({"StreamName": name})).await?;
            for s in shards["Shards"].as_array().into_iter().flatten() {
                let closed = s["SequenceNumberRange"]["EndingSequenceNumber"].is_string();
                let parents: Vec<&str> = [&s["ParentShardId"], &s["AdjacentParentShardId"]]
                    .into_iter()
                    .filter_map(|p| p.as_str())
                    .collect();
                println!(
                    "{}\t{}\t{}..{}{}",
                    s["ShardId"].as_str().unwrap_or_default(),
                    if closed { "closed" } else { "open" },
                    s["HashKeyRange"]["StartingHashKey"]
                        .as_str()
                        .unwrap_or_default(),
                    s["HashKeyRange"]["EndingHashKey"]
                        .as_str()
                        .unwrap_or_default(),
                    if parents.is_empty() {
                        String::new()
                    } else {
                        format!("\tparents {}", parents.join(","))
                    }
                );
            }
        }
        StreamCommand::Put { name, key, data } => {
            let records: Box<dyn Iterator<Item = String>> = if data.is_empty() {
                Box::new(
                    std::io::stdin()
                        .lock()
                        .lines()
                        .map_while(Result::ok)
                        .collect::<Vec<_>>()
                        .into_iter(),
                )
            } else {
                Box::new(data.into_iter())
            };
            let mut batch = Vec::new();
            let mut total = 0usize;
            for (i, line) in records.enumerate() {
                let key = key.clone().unwrap_or_else(|| i.to_string());
                batch.push(json!({"PartitionKey": key, "Data": STANDARD.encode(line.as_bytes())}));
                if batch.len() == 500 {
                    total += put(&mut conn, &name, std::mem::take(&mut batch)).await?;
                }
            }
            if !batch.is_empty() {
                total += put(&mut conn, &name, batch).await?;
            }
            eprintln!("put {total} records into {name}");
        }
        StreamCommand::Get { name, from, limit } => {
            follow(&mut conn, &name, from, false, limit).await?;
        }
        StreamCommand::Tail { name, from } => {
            follow(&mut conn, &name, from, true, None).await?;
        }
        StreamCommand::Delete { name } => {
            conn.json("DeleteStream", json!({"StreamName": name}))
                .await?;
            eprintln!("deleted stream {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn put(conn: &mut Connection, name: &str, records: Vec<Value>) -> anyhow::Result<usize> {
    let n = records.len();
    let out = conn
        .json(
            "PutRecords",
            json!({"StreamName": name, "Records": records}),
        )
        .await?;
    let failed = out["FailedRecordCount"].as_u64().unwrap_or(0);
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {n} records were not stored: {}",
            out["Records"]
        );
    }
    Ok(n)
}

/// A payload as text when it is UTF-8 (JSON stays as it is), else base64.
fn readable(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.trim_end_matches('\n').to_string(),
        Err(_) => format!("base64:{}", STANDARD.encode(data)),
    }
}

/// Reads every shard (following closed shards into their children), printing
/// `shard  sequence  key  data`. With `tail` it waits for more at the end.
async fn follow(
    conn: &mut Connection,
    name: &str,
    from: From,
    tail: bool,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let filter = match from {
        From::TrimHorizon => "AT_TRIM_HORIZON",
        From::Latest => "AT_LATEST",
    };
    let shards = conn
        .json(
            "ListShards",
            json!({"StreamName": name, "ShardFilter": {"Type": filter}}),
        )
        .await?;
    let mut readers: VecDeque<(String, String)> = VecDeque::new();
    for s in shards["Shards"].as_array().into_iter().flatten() {
        let shard = s["ShardId"].as_str().unwrap_or_default().to_string();
        let it = conn
            .json(
                "GetShardIterator",
                json!({"StreamName": name, "ShardId": shard, "ShardIteratorType": from.kind()}),
            )
            .await?;
        readers.push_back((
            shard,
            it["ShardIterator"].as_str().unwrap_or_default().to_string(),
        ));
    }
    let mut printed = 0usize;
    let mut out = std::io::stdout().lock();
    let mut idle_rounds = 0;
    while let Some((shard, iterator)) = readers.pop_front() {
        let page = conn
            .json(
                "GetRecords",
                json!({"ShardIterator": iterator, "Limit": 1000}),
            )
            .await?;
        let records = page["Records"].as_array().cloned().unwrap_or_default();
        for r in &records {
            let data = STANDARD
                .decode(r["Data"].as_str().unwrap_or_default())
                .unwrap_or_default();
            writeln!(
                out,
                "{shard}\t{}\t{}\t{}",
                r["SequenceNumber"].as_str().unwrap_or_default(),
                r["PartitionKey"].as_str().unwrap_or_default(),
                readable(&data)
            )?;
            printed += 1;
            if limit.is_some_and(|l| printed >= l) {
                return Ok(());
            }
        }
        out.flush()?;
        match page["NextShardIterator"].as_str() {
            Some(next) if !records.is_empty() || tail => {
                readers.push_back((shard, next.to_string()));
            }
            Some(_) => {}
            None => {
                // A closed shard: continue in its children.
                for child in page["ChildShards"].as_array().into_iter().flatten() {
                    let child_id = child["ShardId"].as_str().unwrap_or_default().to_string();
                    if readers.iter().any(|(s, _)| *s == child_id) {
                        continue;
                    }
                    let it = conn
                        .json(
                            "GetShardIterator",
                            json!({"StreamName": name, "ShardId": child_id, "ShardIteratorType": "TRIM_HORIZON"}),
                        )
                        .await?;
                    readers.push_back((
                        child_id,
                        it["ShardIterator"].as_str().unwrap_or_default().to_string(),
                    ));
                }
            }
        }
        if records.is_empty() {
            idle_rounds += 1;
            if tail && idle_rounds >= readers.len().max(1) {
                idle_rounds = 0;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        } else {
            idle_rounds = 0;
        }
    }
    Ok(())
}

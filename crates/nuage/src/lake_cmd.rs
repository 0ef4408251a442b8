//! `nuage lake`: what `hadoop dfs -ls/-copyFromLocal/-copyToLocal` and
//! `aws s3 mb/ls/cp/rm` do, on the lake.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use nuage_common::Config;
use nuage_lake::{Lake, Location};

#[derive(Args)]
pub struct LakeArgs {
    #[command(subcommand)]
    command: LakeCommand,
}

#[derive(Subcommand)]
enum LakeCommand {
    /// Make a bucket: nuage lake mb s3://movies
    Mb { bucket: String },
    /// List buckets, or objects under a location (folders first, like aws s3 ls)
    Ls {
        location: Option<String>,
        /// Every object below, not just one level
        #[arg(short, long)]
        recursive: bool,
    },
    /// Copy a local file or folder into the lake: nuage lake put ratings.csv s3://movies/raw/
    Put { local: PathBuf, location: String },
    /// Copy an object, or everything under a prefix, out of the lake
    Get { location: String, local: PathBuf },
    /// Delete an object, or with -r everything under a prefix
    Rm {
        location: String,
        #[arg(short, long)]
        recursive: bool,
    },
}

fn bucket_of(text: &str) -> String {
    let text = text.trim();
    for scheme in ["s3://", "s3a://", "s3n://"] {
        if let Some(rest) = text.strip_prefix(scheme) {
            return rest.trim_end_matches('/').to_string();
        }
    }
    text.trim_end_matches('/').to_string()
}

pub async fn run(config: &Config, args: LakeArgs) -> Result<ExitCode> {
    let lake = Lake::new(config)?;
    match args.command {
        LakeCommand::Mb { bucket } => {
            let bucket = bucket_of(&bucket);
            lake.make_bucket(&bucket).await?;
            println!("make_bucket: {bucket}");
        }
        LakeCommand::Ls { location: None, .. } => {
            for bucket in lake.list_buckets()? {
                println!("{bucket}");
            }
        }
        LakeCommand::Ls {
            location: Some(location),
            recursive,
        } => {
            let location = Location::parse(&location)?;
            for object in lake.list(&location, recursive).await? {
                if object.is_prefix {
                    println!(
                        "{:>30} {}/",
                        "PRE",
                        object.location.name().unwrap_or_default()
                    );
                } else {
                    let when = object
                        .last_modified
                        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_default();
                    println!("{when} {:>10} {}", object.size, object.location);
                }
            }
        }
        LakeCommand::Put { local, location } => {
            let location = Location::parse(&location)?;
            for written in lake.put_local(&local, &location).await? {
                println!("upload: {written}");
            }
        }
        LakeCommand::Get { location, local } => {
            let location = Location::parse(&location)?;
            for written in lake.get_local(&location, &local).await? {
                println!("download: {}", written.display());
            }
        }
        LakeCommand::Rm {
            location,
            recursive,
        } => {
            let location = Location::parse(&location)?;
            for removed in lake.remove(&location, recursive).await? {
                println!("delete: {removed}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

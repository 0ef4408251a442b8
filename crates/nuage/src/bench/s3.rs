//! `nuage bench s3`: small objects (N connections PUT then GET objects of
//! a few KB for S seconds each: objects/s and latency percentiles) and large
//! objects (one PUT and one GET of M MB: MB/s), against any S3 endpoint
//! that accepts path-style requests without signatures (`nuage serve`
//! without access keys, moto's server, s3s-fs without keys). For reference
//! it also times writing the same large size to a file with one fsync: the
//! disk's sequential write speed. With `--versioned` the bucket keeps
//! versions and each connection writes over 64 keys again and again (so
//! nearly every PUT keeps an older version), and a ListObjectVersions page
//! is timed. With `--sse-c` every object is written and read with a
//! customer key (SSE-C headers), so the server encrypts and decrypts it.
//! With `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` set, every request
//! is SigV4-signed (payload `UNSIGNED-PAYLOAD`, as the SDKs send over
//! https), for a server started with `--access-keys`: the figures then
//! include signature verification and the access check. With
//! `--access-log` the bucket's requests are logged into `<bucket>-logs`
//! (S3 server access logging), and `--lifecycle` times a rule that expires
//! the small objects. `--select-mb` times S3 Select (SelectObjectContent)
//! over a generated CSV object, beside a plain GET of the same object.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::latency::Latencies;

#[derive(Args, Clone)]
pub struct S3Bench {
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// Bucket to create (or reuse) for the objects.
    #[arg(long, default_value = "bench")]
    bucket: String,
    /// Concurrent connections for small objects.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds of PUTs, then of GETs, of small objects.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Size of a small object in bytes.
    #[arg(long, default_value_t = 4096)]
    small_bytes: usize,
    /// Size of the large object in MB (0: skip).
    #[arg(long, default_value_t = 256)]
    large_mb: usize,
    /// A folder on the lake's disk, where the disk's sequential write speed
    /// is measured with a file of the large object's size (none: skipped).
    #[arg(long)]
    disk_dir: Option<std::path::PathBuf>,
    /// Enable versioning on the bucket and overwrite 64 keys per connection.
    #[arg(long)]
    versioned: bool,
    /// Write and read every object with an SSE-C customer key.
    #[arg(long)]
    sse_c: bool,
    /// After the small objects, put a lifecycle rule that expires them
    /// (a past Date) and time until the bucket has none left: the server
    /// must run its passes often (`nuage serve --s3-lifecycle-every 1`).
    #[arg(long)]
    lifecycle: bool,
    /// Turn on server access logging for the bucket (into `<bucket>-logs`)
    /// before the small objects, so every request is also logged.
    #[arg(long)]
    access_log: bool,
    /// Size in MB of a CSV object (rating-like rows) queried with S3 Select
    /// after the large object: a count, a filter with a projection, and
    /// every record back (0: skip).
    #[arg(long, default_value_t = 0)]
    select_mb: usize,
}

/// Headers sent with every object request.
type Extra = std::sync::Arc<Vec<(&'static str, String)>>;

/// The SSE-C headers of a fixed benchmark key.
fn sse_c_headers() -> Vec<(&'static str, String)> {
    use base64::Engine;
    use md5::Digest;
    let key = [0x42u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        (
            "x-amz-server-side-encryption-customer-algorithm",
            "AES256".into(),
        ),
        ("x-amz-server-side-encryption-customer-key", b64.encode(key)),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            b64.encode(md5::Md5::digest(key)),
        ),
    ]
}

/// Keys per connection in a versioned run.
const VERSIONED_KEYS: usize = 64;

type Http = Client<HttpConnector, Full<Bytes>>;

/// SigV4 credentials and region from the environment, if both keys are set.
struct Signing {
    identity: aws_smithy_runtime_api::client::identity::Identity,
    region: String,
}

fn signing() -> Option<&'static Signing> {
    static SIGNING: std::sync::OnceLock<Option<Signing>> = std::sync::OnceLock::new();
    SIGNING
        .get_or_init(|| {
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            let (id, secret) = (var("AWS_ACCESS_KEY_ID")?, var("AWS_SECRET_ACCESS_KEY")?);
            let credentials =
                aws_credential_types::Credentials::new(id, secret, None, None, "environment");
            Some(Signing {
                identity: credentials.into(),
                region: var("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            })
        })
        .as_ref()
}

/// The SigV4 headers for a request with these headers (S3's rules: no
/// double encoding or normalisation of the path).
fn signed_headers(
    signing: &Signing,
    method: &hyper::Method,
    url: &str,
    headers: &[(&str, String)],
) -> anyhow::Result<Vec<(String, String)>> {
    use aws_sigv4::http_request::{
        PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&signing.identity)
        .region(&signing.region)
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()?
        .into();
    let signable = SignableRequest::new(
        method.as_str(),
        url,
        headers.iter().map(|(n, v)| (*n, v.as_str())),
        SignableBody::UnsignedPayload,
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect())
}

/// Puts a lifecycle rule that expires `small/` (a date in the past) and
/// waits until a listing of `small/` is empty.
async fn expire_small_objects(http: &Http, bucket_url: &str, objects: usize) -> anyhow::Result<()> {
    use base64::Engine;
    use md5::Digest;
    let count_url = format!("{bucket_url}?list-type=2&prefix=small/&max-keys=1000");
    let config = "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>\
                  <ID>bench</ID><Filter><Prefix>small/</Prefix></Filter><Status>Enabled</Status>\
                  <Expiration><Date>2020-01-01T00:00:00Z</Date></Expiration></Rule>\
                  </LifecycleConfiguration>";
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(config));
    let url = format!("{bucket_url}?lifecycle");
    let started = Instant::now();
    let (status, text) = send_for_text(
        http,
        hyper::Method::PUT,
        &url,
        Bytes::from(config),
        &[("content-md5", md5)],
    )
    .await?;
    anyhow::ensure!(
        status == 200,
        "PutBucketLifecycleConfiguration answered {status}: {text}"
    );
    loop {
        let (status, text) =
            send_for_text(http, hyper::Method::GET, &count_url, Bytes::new(), &[]).await?;
        anyhow::ensure!(status == 200, "ListObjectsV2 answered {status}");
        if text.contains("<KeyCount>0</KeyCount>") {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "objects under small/ still listed after 10 minutes: is the server running \
             lifecycle passes (nuage serve --s3-lifecycle-every 1)?"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "lifecycle: a past-Date rule expired {objects} objects in {seconds:.2} s = {:.0} objects/s \
         (from the rule's PUT to an empty listing; passes every second)",
        objects as f64 / seconds
    );
    Ok(())
}

/// Sends one request; answers its status and how many body bytes came.
async fn send(
    http: &Http,
    method: hyper::Method,
    url: &str,
    body: Bytes,
    extra: &[(&'static str, String)],
) -> anyhow::Result<(u16, u64)> {
    let response = call(http, method, url, body, extra).await?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes += data.len() as u64;
        }
    }
    Ok((status, bytes))
}

/// Sends one request; answers its status and body as text.
async fn send_for_text(
    http: &Http,
    method: hyper::Method,
    url: &str,
    body: Bytes,
    extra: &[(&'static str, String)],
) -> anyhow::Result<(u16, String)> {
    let response = call(http, method, url, body, extra).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

async fn call(
    http: &Http,
    method: hyper::Method,
    url: &str,
    body: Bytes,
    extra: &[(&'static str, String)],
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
    let mut headers: Vec<(&str, String)> = extra.iter().map(|(n, v)| (*n, v.clone())).collect();
    // moto applies ACLs to unsigned requests: let them read back.
    headers.push(("x-amz-acl", "public-read".into()));
    let mut request = hyper::Request::builder()
        .method(method.clone())
        .uri(url)
        .header("content-length", body.len());
    if let Some(signing) = signing() {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        headers.push(("host", host.to_string()));
        headers.push(("x-amz-content-sha256", "UNSIGNED-PAYLOAD".into()));
        for (name, value) in signed_headers(signing, &method, url, &headers)? {
            request = request.header(name, value);
        }
        headers.retain(|(name, _)| *name != "host");
    }
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let request = request.body(Full::new(body))?;
    Ok(http.request(request).await?)
}

pub async fn run(b: S3Bench) -> anyhow::Result<ExitCode> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(b.connections.max(1))
        .build(connector);
    let bucket_url = format!("{}/{}", b.endpoint.trim_end_matches('/'), b.bucket);
    let extra: Extra = std::sync::Arc::new(if b.sse_c { sse_c_headers() } else { Vec::new() });
    let (status, _) = send(&http, hyper::Method::PUT, &bucket_url, Bytes::new(), &[]).await?;
    // 409: the bucket is already there (BucketAlreadyOwnedByYou).
    anyhow::ensure!(
        status == 200 || status == 409,
        "creating bucket {} answered {status}",
        b.bucket
    );

    if b.access_log {
        let logs_url = format!("{bucket_url}-logs");
        let (status, _) = send(&http, hyper::Method::PUT, &logs_url, Bytes::new(), &[]).await?;
        anyhow::ensure!(
            status == 200 || status == 409,
            "creating bucket {}-logs answered {status}",
            b.bucket
        );
        let config = format!(
            "<BucketLoggingStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LoggingEnabled>\
             <TargetBucket>{}-logs</TargetBucket><TargetPrefix>access/</TargetPrefix>\
             </LoggingEnabled></BucketLoggingStatus>",
            b.bucket
        );
        let url = format!("{bucket_url}?logging");
        let (status, _) = send(&http, hyper::Method::PUT, &url, Bytes::from(config), &[]).await?;
        anyhow::ensure!(status == 200, "PutBucketLogging answered {status}");
    }

    if b.versioned {
        let config = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                      <Status>Enabled</Status></VersioningConfiguration>";
        let url = format!("{bucket_url}?versioning");
        let (status, _) = send(&http, hyper::Method::PUT, &url, Bytes::from(config), &[]).await?;
        anyhow::ensure!(status == 200, "enabling versioning answered {status}");
    }
    let keys = if b.versioned {
        VERSIONED_KEYS
    } else {
        usize::MAX
    };

    let small = Bytes::from(vec![b'x'; b.small_bytes]);
    // PUTs first; then GETs cycle over the objects every connection wrote.
    let mut per_connection = keys;
    let mut written = 0usize;
    for phase in [hyper::Method::PUT, hyper::Method::GET] {
        let deadline = Instant::now() + Duration::from_secs(b.seconds);
        let started = Instant::now();
        let mut workers = Vec::new();
        for c in 0..b.connections {
            let (http, url, small, phase, extra) = (
                http.clone(),
                bucket_url.clone(),
                small.clone(),
                phase.clone(),
                extra.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut latencies = Latencies::new();
                let mut i = 0usize;
                while Instant::now() < deadline {
                    let n = if phase == hyper::Method::PUT {
                        i % keys
                    } else {
                        i % per_connection.max(1)
                    };
                    let key = format!("{url}/small/{c:02}/{n:08}");
                    let body = if phase == hyper::Method::PUT {
                        small.clone()
                    } else {
                        Bytes::new()
                    };
                    let t = Instant::now();
                    let (status, bytes) = send(&http, phase.clone(), &key, body, &extra).await?;
                    latencies.record(t.elapsed());
                    anyhow::ensure!(status == 200, "{phase} {key} answered {status}");
                    anyhow::ensure!(
                        phase == hyper::Method::PUT || bytes as usize == small.len(),
                        "GET {key}: {bytes} bytes"
                    );
                    i += 1;
                }
                Ok::<_, anyhow::Error>((latencies, i))
            }));
        }
        let mut latencies = Latencies::new();
        for w in workers {
            let (mine, count) = w.await??;
            latencies.add(&mine);
            if phase == hyper::Method::PUT {
                per_connection = per_connection.min(count);
                written += count;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "small {phase}: {} objects of {} B in {elapsed:.2} s = {:.0} objects/s; latency p50 {:.2} ms, p99 {:.2} ms ({} connections)",
            latencies.calls(),
            b.small_bytes,
            latencies.calls() as f64 / elapsed,
            latencies.ms(0.5),
            latencies.ms(0.99),
            b.connections
        );
    }

    if b.versioned {
        let url = format!("{bucket_url}?versions&max-keys=1000");
        let started = Instant::now();
        let (status, bytes) = send(&http, hyper::Method::GET, &url, Bytes::new(), &[]).await?;
        anyhow::ensure!(status == 200, "ListObjectVersions answered {status}");
        println!(
            "list versions: a page of up to 1000 versions ({bytes} B) in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }

    if b.lifecycle {
        anyhow::ensure!(!b.versioned, "--lifecycle times an unversioned bucket");
        expire_small_objects(&http, &bucket_url, written).await?;
    }

    if b.large_mb > 0 {
        let size = b.large_mb << 20;
        let large = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let url = format!("{bucket_url}/large/object-{}", b.large_mb);
        let started = Instant::now();
        let (status, _) = send(&http, hyper::Method::PUT, &url, large.clone(), &extra).await?;
        anyhow::ensure!(status == 200, "PUT {url} answered {status}");
        let put = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let (status, bytes) = send(&http, hyper::Method::GET, &url, Bytes::new(), &extra).await?;
        anyhow::ensure!(
            status == 200 && bytes as usize == size,
            "GET {url}: {status}, {bytes} bytes"
        );
        let get = started.elapsed().as_secs_f64();
        println!(
            "large: PUT {} MB in {put:.2} s = {:.0} MB/s; GET in {get:.2} s = {:.0} MB/s",
            b.large_mb,
            b.large_mb as f64 / put,
            b.large_mb as f64 / get
        );
        if let Some(dir) = &b.disk_dir {
            let path = dir.join(format!(".nuage-bench-disk-{}", std::process::id()));
            let data = large.clone();
            let seconds = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
                use std::io::Write;
                let started = Instant::now();
                let mut file = std::fs::File::create(&path)?;
                for block in data.chunks(4 << 20) {
                    file.write_all(block)?;
                }
                file.sync_all()?;
                let seconds = started.elapsed().as_secs_f64();
                std::fs::remove_file(&path)?;
                Ok(seconds)
            })
            .await??;
            println!(
                "disk: sequential write of {} MB with one fsync in {seconds:.2} s = {:.0} MB/s",
                b.large_mb,
                b.large_mb as f64 / seconds
            );
        }
    }
    if b.select_mb > 0 {
        select_queries(&http, &bucket_url, b.select_mb).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Puts a CSV object of about `mb` MB (`id,user,item,rating,ts` rows) and
/// times a GET of it, then three S3 Select queries over it.
async fn select_queries(http: &Http, bucket_url: &str, mb: usize) -> anyhow::Result<()> {
    use std::fmt::Write;
    let mut csv = String::from("id,user,item,rating,ts\n");
    let mut rows = 0u64;
    while csv.len() < mb << 20 {
        let i = rows;
        let _ = writeln!(
            csv,
            "{i},{},{},{},{}",
            i * 7 % 943,
            i * 13 % 1682,
            i % 5 + 1,
            874_724_710 + i
        );
        rows += 1;
    }
    let size = csv.len();
    let url = format!("{bucket_url}/select/ratings.csv");
    let (status, _) = send(http, hyper::Method::PUT, &url, Bytes::from(csv), &[]).await?;
    anyhow::ensure!(status == 200, "PUT {url} answered {status}");
    let started = Instant::now();
    let (status, bytes) = send(http, hyper::Method::GET, &url, Bytes::new(), &[]).await?;
    anyhow::ensure!(
        status == 200 && bytes as usize == size,
        "GET {url}: {status}"
    );
    let seconds = started.elapsed().as_secs_f64();
    let mb = size as f64 / (1 << 20) as f64;
    println!(
        "select: object of {mb:.0} MB, {rows} records; plain GET in {seconds:.2} s = {:.0} MB/s",
        mb / seconds
    );
    let queries = [
        ("count", "SELECT COUNT(*) FROM S3Object"),
        (
            "filter",
            "SELECT s.user, s.item FROM S3Object s WHERE CAST(s.rating AS INT) = 5",
        ),
        ("all", "SELECT * FROM S3Object"),
    ];
    for (name, expression) in queries {
        let request = format!(
            "<SelectObjectContentRequest xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Expression>{expression}</Expression><ExpressionType>SQL</ExpressionType>\
             <InputSerialization><CSV><FileHeaderInfo>USE</FileHeaderInfo></CSV>\
             <CompressionType>NONE</CompressionType></InputSerialization>\
             <OutputSerialization><CSV/></OutputSerialization></SelectObjectContentRequest>"
        );
        let select_url = format!("{url}?select&select-type=2");
        let started = Instant::now();
        let (status, bytes) = send(
            http,
            hyper::Method::POST,
            &select_url,
            Bytes::from(request),
            &[],
        )
        .await?;
        let seconds = started.elapsed().as_secs_f64();
        if status != 200 {
            println!("select {name}: answered {status}");
            continue;
        }
        println!(
            "select {name}: {seconds:.2} s = {:.0} MB/s scanned, {:.1} M records/s; {bytes} B answered ({expression})",
            mb / seconds,
            rows as f64 / seconds / 1e6
        );
    }
    Ok(())
}

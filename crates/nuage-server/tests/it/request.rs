//! How a request that is not a well-formed API call is answered, before any
//! operation sees it. The expected statuses, types and texts are AWS
//! Kinesis's recorded answers (kinesalite's recordings of AWS, the AWS
//! JSON protocol's documented error shape), not nuage's output.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::HeaderMap;

use super::*;

const TARGET: &str = "Kinesis_20131202.ListStreams";

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(server: &TestServer, request: Request<Full<Bytes>>) -> Answer {
    let mut sender = server.h2().await;
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A POST with these headers and body.
fn post(headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut request = Request::post("http://127.0.0.1/");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

const JSON: (&str, &str) = ("content-type", "application/x-amz-json-1.1");
const AUTH: (&str, &str) = ("authorization", UNSIGNED_AUTHORIZATION);
const DATE: (&str, &str) = ("x-amz-date", "20261122T000000Z");

const ACCESS_DENIED: &str = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";

#[tokio::test]
async fn methods_and_content_types_aws_does_not_read() {
    let server = TestServer::start().await;
    let get = Request::get("http://127.0.0.1/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = send(&server, get).await;
    assert_eq!((answer.status, answer.body.as_str()), (403, ACCESS_DENIED));

    let answer = send(&server, post(&[], "{}")).await;
    assert_eq!((answer.status, answer.body.as_str()), (403, ACCESS_DENIED));

    let text = post(
        &[("content-type", "text/plain"), ("x-amz-target", TARGET)],
        "{}",
    );
    let answer = send(&server, text).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (404, "<UnknownOperationException/>\n")
    );
    // Every answer carries a request id.
    assert!(answer.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn empty_and_malformed_bodies_are_serialization_errors_without_a_message() {
    let server = TestServer::start().await;
    let answer = send(&server, post(&[JSON, ("x-amz-target", TARGET)], "")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        serde_json::json!({"__type": "SerializationException"})
    );
    let unknown = post(&[JSON, ("x-amz-target", "Kinesis_20131202.Nope")], "");
    assert_eq!(
        send(&server, unknown).await.json(),
        serde_json::json!({"__type": "UnknownOperationException"})
    );
    // Not JSON, or not an object: refused before the signature is asked for.
    for body in ["hello", "[]", "1", "{\"StreamName\": "] {
        let answer = send(&server, post(&[JSON, ("x-amz-target", TARGET)], body)).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(
            answer.json(),
            serde_json::json!({"__type": "SerializationException"}),
            "{body}"
        );
        // Signed or not.
        let signed = post(&[JSON, AUTH, DATE, ("x-amz-target", TARGET)], body);
        assert_eq!(
            send(&server, signed).await.json(),
            serde_json::json!({"__type": "SerializationException"}),
            "{body}"
        );
    }
}

#[tokio::test]
async fn unknown_targets_and_plain_json() {
    let server = TestServer::start().await;
    for target in [
        "Kinesis_20131202.Nope",
        "DynamoDB_20120810.ListTables",
        "nonsense",
        "",
    ] {
        let answer = send(
            &server,
            post(&[JSON, AUTH, DATE, ("x-amz-target", target)], "{}"),
        )
        .await;
        assert_eq!(answer.status, 400, "{target}");
        assert_eq!(
            answer.json(),
            serde_json::json!({"__type": "UnknownOperationException"}),
            "{target}"
        );
    }
    let plain = post(
        &[
            ("content-type", "application/json"),
            ("x-amz-target", TARGET),
        ],
        "{}",
    );
    let answer = send(&server, plain).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "Output": {"__type": "com.amazon.coral.service#UnknownOperationException"},
            "Version": "1.0"
        })
    );
    let not_json = post(
        &[
            ("content-type", "  application/json  ;"),
            ("x-amz-target", TARGET),
        ],
        "hello",
    );
    let answer = send(&server, not_json).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "Output": {"__type": "com.amazon.coral.service#SerializationException"},
            "Version": "1.0"
        })
    );
}

#[tokio::test]
async fn a_request_without_a_complete_signature_is_refused() {
    let server = TestServer::start().await;
    let answer = send(&server, post(&[JSON, ("x-amz-target", TARGET)], "{}")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        serde_json::json!({"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"})
    );

    let bare = post(
        &[JSON, ("authorization", "AWS4-"), ("x-amz-target", TARGET)],
        "{}",
    );
    let answer = send(&server, bare).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "__type": "IncompleteSignatureException",
            "message": "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-"
        })
    );

    let mut both = post(&[JSON, AUTH, DATE, ("x-amz-target", TARGET)], "{}");
    *both.uri_mut() = "http://127.0.0.1/?X-Amz-Algorithm=a".parse().unwrap();
    assert_eq!(
        send(&server, both).await.json(),
        serde_json::json!({
            "__type": "InvalidSignatureException",
            "message": "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
        })
    );

    let mut query = post(&[JSON, ("x-amz-target", TARGET)], "{}");
    *query.uri_mut() = "http://127.0.0.1/?X-Amz-Algorithm".parse().unwrap();
    assert_eq!(
        send(&server, query).await.json(),
        serde_json::json!({
            "__type": "IncompleteSignatureException",
            "message": "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
        })
    );

    // Complete (unverified without access keys): the operation runs.
    let answer = send(
        &server,
        post(&[JSON, AUTH, DATE, ("x-amz-target", TARGET)], "{}"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["StreamNames"], serde_json::json!([]));
}

#[tokio::test]
async fn cors_preflights_and_responses_carry_the_access_control_headers() {
    let server = TestServer::start().await;
    let preflight = Request::options("http://127.0.0.1/")
        .header("origin", "http://console.local")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-amz-target,authorization",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = send(&server, preflight).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ""));
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(
        header("access-control-allow-methods").as_deref(),
        Some("POST")
    );
    assert_eq!(
        header("access-control-allow-headers").as_deref(),
        Some("content-type,x-amz-target,authorization")
    );
    assert_eq!(header("access-control-max-age").as_deref(), Some("172800"));
    // A preflight's answer has a request id but no extended one.
    assert!(header("x-amzn-requestid").is_some());
    assert_eq!(header("x-amz-id-2"), None);

    let call = post(
        &[
            JSON,
            AUTH,
            DATE,
            ("x-amz-target", TARGET),
            ("origin", "http://console.local"),
        ],
        "{}",
    );
    let answer = send(&server, call).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
    // Every other answer carries x-amz-id-2: 72 bytes in base64.
    let id = answer.headers["x-amz-id-2"].to_str().unwrap();
    assert_eq!(STANDARD.decode(id).unwrap().len(), 72);
    assert!(
        answer.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-amzn-RequestId")
    );
    // An error answer to a browser carries them too.
    let refused = post(
        &[
            JSON,
            ("x-amz-target", TARGET),
            ("origin", "http://console.local"),
        ],
        "{}",
    );
    assert_eq!(
        send(&server, refused).await.headers["access-control-allow-origin"],
        "*"
    );
}

#[tokio::test]
async fn a_member_of_the_wrong_type_is_named_in_aws_words() {
    let server = TestServer::start().await;
    let put = kinesis_text(
        "PutRecord",
        r#"{"StreamName": "s", "PartitionKey": "k", "Data": "abc"}"#,
    );
    let answer = send(&server, put).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.headers["x-amzn-errortype"], "SerializationException");
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "__type": "SerializationException",
            "Message": "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        })
    );
    let create = kinesis_text(
        "CreateStream",
        r#"{"StreamName": "s", "ShardCount": "two"}"#,
    );
    assert_eq!(
        send(&server, create).await.json(),
        serde_json::json!({
            "__type": "SerializationException",
            "Message": "class java.lang.String can not be converted to an Integer"
        })
    );
    // A list where a structure belongs, even one serde could read by
    // position, is refused as AWS refuses it.
    let create = kinesis_text(
        "CreateStream",
        r#"{"StreamName": "s", "ShardCount": 1, "StreamModeDetails": ["ON_DEMAND"]}"#,
    );
    assert_eq!(
        send(&server, create).await.json(),
        serde_json::json!({
            "__type": "SerializationException",
            "Message": "Start of list found where not expected"
        })
    );
}

/// Every member is checked; a string's pattern before its length, as AWS
/// orders them; at most 10 listed, all counted.
#[tokio::test]
async fn validation_errors_come_in_aws_order_and_count() {
    let server = TestServer::start().await;
    let create = kinesis_text("CreateStream", r#"{"StreamName": "", "ShardCount": 1}"#);
    let answer = send(&server, create).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "__type": "ValidationException",
            "message": "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        })
    );

    // 12 records without a partition key: AWS stops at 10 errors, and
    // counts 10 (its recorded answer to 501 such records).
    let records: Vec<serde_json::Value> = (0..12)
        .map(|_| serde_json::json!({"PartitionKey": "", "Data": "YQ=="}))
        .collect();
    let put = kinesis(
        "PutRecords",
        serde_json::json!({"StreamName": "s", "Records": records}),
    );
    let answer = send(&server, put).await;
    assert_eq!(answer.status, 400);
    let message = answer.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("10 validation errors detected: "),
        "{message}"
    );
    assert_eq!(
        message.matches("failed to satisfy constraint").count(),
        10,
        "{message}"
    );
    assert!(
        message.contains("Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        "{message}"
    );
}

/// AddTagsToStream's refusals, with AWS's types and texts.
#[tokio::test]
async fn tags_are_refused_as_aws_refuses_them() {
    let server = TestServer::start().await;
    let created = send(
        &server,
        kinesis(
            "CreateStream",
            serde_json::json!({"StreamName": "s", "ShardCount": 1}),
        ),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let add = |tags: serde_json::Value| {
        kinesis(
            "AddTagsToStream",
            serde_json::json!({"StreamName": "s", "Tags": tags}),
        )
    };

    let answer = send(&server, add(serde_json::json!({}))).await;
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "__type": "ValidationException",
            "message": "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"
        })
    );
    let answer = send(&server, add(serde_json::json!({"a\tb": "c"}))).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "__type": "InvalidArgumentException",
            "message": "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
        })
    );
    let answer = send(&server, add(serde_json::json!({"a": "50%"}))).await;
    assert_eq!(
        answer.json(),
        serde_json::json!({
            "__type": "InvalidArgumentException",
            "message": "Failed to add tags to stream s under account 000000000000 because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
        })
    );
    let answer = send(&server, add(serde_json::json!({"ok key": "é/=+-@:_."}))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// PutRecord's members in AWS's order, a too-large Data shown as AWS's
/// Java buffer.
#[tokio::test]
async fn put_record_members_are_checked_in_aws_order() {
    let server = TestServer::start().await;
    let big = STANDARD.encode(vec![b'x'; 1024 * 1024 + 1]);
    let put = kinesis(
        "PutRecord",
        serde_json::json!({
            "StreamName": "a;b",
            "PartitionKey": "",
            "ExplicitHashKey": "x",
            "SequenceNumberForOrdering": "y",
            "Data": big,
        }),
    );
    let answer = send(&server, put).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json()["message"],
        "5 validation errors detected: \
Value 'y' at 'sequenceNumberForOrdering' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128}); \
Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; \
Value 'x' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); \
Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576; \
Value 'a;b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
}

/// The stream is checked after the operation's own members, as AWS orders
/// them (GetShardIterator and ListShards here).
#[tokio::test]
async fn the_stream_comes_last_in_validation_errors() {
    let server = TestServer::start().await;
    let iterator = kinesis_text(
        "GetShardIterator",
        r#"{"StreamName": "", "ShardId": "a;b", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "x"}"#,
    );
    assert_eq!(
        send(&server, iterator).await.json()["message"],
        "4 validation errors detected: \
Value 'a;b' at 'shardId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
Value 'x' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128}); \
Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    let shards = kinesis_text(
        "ListShards",
        r#"{"StreamName": "s;", "ExclusiveStartShardId": "", "MaxResults": 0}"#,
    );
    assert_eq!(
        send(&server, shards).await.json()["message"],
        "4 validation errors detected: \
Value '' at 'exclusiveStartShardId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
Value '' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 1; \
Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1; \
Value 's;' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
}

/// SplitShard and MergeShards in AWS's member order (SplitShard names the
/// stream between its two members).
#[tokio::test]
async fn resharding_members_come_in_aws_order() {
    let server = TestServer::start().await;
    let split = kinesis_text(
        "SplitShard",
        r#"{"StreamName": "a;", "ShardToSplit": "b;", "NewStartingHashKey": "c"}"#,
    );
    assert_eq!(
        send(&server, split).await.json()["message"],
        "3 validation errors detected: \
Value 'c' at 'newStartingHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); \
Value 'a;' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
Value 'b;' at 'shardToSplit' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    let merge = kinesis_text(
        "MergeShards",
        r#"{"StreamName": "a;", "AdjacentShardToMerge": "c;"}"#,
    );
    assert_eq!(
        send(&server, merge).await.json()["message"],
        "3 validation errors detected: \
Value null at 'shardToMerge' failed to satisfy constraint: Member must not be null; \
Value 'c;' at 'adjacentShardToMerge' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
Value 'a;' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
}

/// A body nested 200,000 levels deep is answered, signed or not, and the
/// server goes on (a stack overflow would abort the process).
#[tokio::test]
async fn deeply_nested_bodies_are_answered_without_a_crash() {
    let server = TestServer::start().await;
    let deep = format!(
        "{{\"StreamName\": {}{}}}",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let unsigned = post(&[JSON, ("x-amz-target", TARGET)], &deep);
    assert_eq!(send(&server, unsigned).await.status, 400);
    // An operation that ignores the member reads past it...
    let ignored = post(&[JSON, AUTH, DATE, ("x-amz-target", TARGET)], &deep);
    assert_eq!(send(&server, ignored).await.status, 200);
    // ...one that reads it refuses its type.
    let put = kinesis_text("PutRecord", &deep);
    let answer = send(&server, put).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["__type"], "SerializationException");
    let after = post(&[JSON, AUTH, DATE, ("x-amz-target", TARGET)], "{}");
    assert_eq!(send(&server, after).await.status, 200);
}

/// Shard ids as AWS reads them, with its recorded answers: an id it cannot
/// read is not found before the stream is looked up; a readable one on an
/// unknown stream is named in AWS's form; an operation with nothing to
/// return answers with an empty body.
#[tokio::test]
async fn shard_ids_are_read_as_aws_reads_them() {
    let server = TestServer::start().await;
    let created = send(
        &server,
        kinesis(
            "CreateStream",
            serde_json::json!({"StreamName": "s", "ShardCount": 2}),
        ),
    )
    .await;
    assert_eq!((created.status, created.body.as_str()), (200, ""));
    let not_found = |answer: Answer| {
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.json()["__type"], "ResourceNotFoundException");
        answer.json()["message"].as_str().unwrap().to_string()
    };
    for shard in ["2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4"] {
        let merge = kinesis(
            "MergeShards",
            serde_json::json!({"StreamName": "nope", "ShardToMerge": shard, "AdjacentShardToMerge": "x-0"}),
        );
        assert_eq!(
            not_found(send(&server, merge).await),
            format!("Could not find shard {shard} in stream nope under account 000000000000.")
        );
    }
    let merge = kinesis(
        "MergeShards",
        serde_json::json!({"StreamName": "s", "ShardToMerge": "shardId-5", "AdjacentShardToMerge": "x-0"}),
    );
    assert_eq!(
        not_found(send(&server, merge).await),
        "Could not find shard shardId-000000000005 in stream s under account 000000000000."
    );
    let iterator = kinesis(
        "GetShardIterator",
        serde_json::json!({"StreamName": "nope", "ShardId": "5", "ShardIteratorType": "LATEST"}),
    );
    assert_eq!(
        not_found(send(&server, iterator).await),
        "Shard shardId-000000000005 in stream nope under account 000000000000 does not exist"
    );
    // A hash key past 2^128-1 is outside the shard, in SplitShard's words.
    let split = kinesis(
        "SplitShard",
        serde_json::json!({"StreamName": "s", "ShardToSplit": "shard-1", "NewStartingHashKey": "999999999999999999999999999999999999999"}),
    );
    let answer = send(&server, split).await;
    assert_eq!(answer.json()["__type"], "InvalidArgumentException");
    assert_eq!(
        answer.json()["message"],
        "NewStartingHashKey 999999999999999999999999999999999999999 used in SplitShard() on shard shardId-000000000001 in stream s under account 000000000000 is not both greater than one plus the shard's StartingHashKey 170141183460469231731687303715884105728 and less than the shard's EndingHashKey 340282366920938463463374607431768211455."
    );
    // 'anything-1' and '1' name shardId-000000000001.
    for shard in ["random-1", "1", "shardId-1"] {
        let iterator = kinesis(
            "GetShardIterator",
            serde_json::json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "LATEST"}),
        );
        assert_eq!(send(&server, iterator).await.status, 200, "{shard}");
    }
}

/// Sequence numbers are read in AWS's layout: the numbers AWS's own
/// documentation prints decode to the shard they name, an old layout gets
/// AWS's bare InternalFailure, and each refusal is worded as AWS words it
/// (texts as recorded against Kinesis).
#[tokio::test]
async fn sequence_numbers_are_refused_as_aws_refuses_them() {
    let server = TestServer::start().await;
    let created = kinesis(
        "CreateStream",
        serde_json::json!({"StreamName": "s", "ShardCount": 2}),
    );
    assert_eq!(send(&server, created).await.status, 200);
    let at = |seq: &str| {
        kinesis(
            "GetShardIterator",
            serde_json::json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": seq}),
        )
    };
    let refused = |answer: Answer| {
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.json()["__type"], "InvalidArgumentException");
        answer.json()["message"].as_str().unwrap().to_string()
    };
    // From AWS's CLI documentation: shard 6 of some stream.
    assert_eq!(
        refused(
            send(
                &server,
                at("49590338271490256608559692538361571095921575989136588898")
            )
            .await
        ),
        "Invalid StartingSequenceNumber. It encodes shardId-000000000006, while it was used in a call to a shard with shardId-000000000000"
    );
    // 0x20000000000000000000000000000000000000800000002: a negative index.
    assert_eq!(
        refused(
            send(
                &server,
                at("49039857307708443467467104868809893875799651944235008002")
            )
            .await
        ),
        "Invalid StartingSequenceNumber. It encodes shardId--02147483648, while it was used in a call to a shard with shardId-000000000000"
    );
    // From AWS's developer guide: shard 0 of a stream created in 2015.
    let other = "49546986683135544286507457936321625675700192471156785154";
    assert_eq!(
        refused(send(&server, at(other)).await),
        format!(
            "StartingSequenceNumber {other} used in GetShardIterator on shard shardId-000000000000 in stream s under account 000000000000 is invalid because it did not come from this stream."
        )
    );
    let garbage = "1".repeat(60);
    assert_eq!(
        refused(send(&server, at(&garbage)).await),
        format!(
            "StartingSequenceNumber {garbage} used in GetShardIterator on shard shardId-000000000000 in stream s under account 000000000000 is invalid."
        )
    );
    let old = send(&server, at("0")).await;
    assert_eq!(
        (old.status, old.json()),
        (500, serde_json::json!({"__type": "InternalFailure"}))
    );

    // 2^185 exactly has no version AWS knows.
    let unknown = "49039857307708443467467104868809893875799651909875269632";
    let put = kinesis(
        "PutRecord",
        serde_json::json!({"StreamName": "s", "PartitionKey": "a", "Data": "", "SequenceNumberForOrdering": unknown}),
    );
    assert_eq!(
        refused(send(&server, put).await),
        format!(
            "ExclusiveMinimumSequenceNumber {unknown} used in PutRecord on stream s under account 000000000000 is invalid."
        )
    );
    let put = kinesis(
        "PutRecord",
        serde_json::json!({"StreamName": "s", "PartitionKey": "a", "Data": "", "ExplicitHashKey": "0", "SequenceNumberForOrdering": other}),
    );
    let put = send(&server, put).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let seq = put.json()["SequenceNumber"].as_str().unwrap().to_string();
    assert_eq!(seq.len(), 56);
    let again = send(&server, at(&seq)).await;
    assert_eq!(again.status, 200, "{}", again.body);
}

/// An iterator into a stream deleted since names its shard, as AWS's
/// recorded answer does, not the stream.
#[tokio::test]
async fn an_iterator_into_a_deleted_stream_names_its_shard() {
    let server = TestServer::start().await;
    let create = kinesis(
        "CreateStream",
        serde_json::json!({"StreamName": "gone", "ShardCount": 1}),
    );
    assert_eq!(send(&server, create).await.status, 200);
    let iterator = kinesis(
        "GetShardIterator",
        serde_json::json!({"StreamName": "gone", "ShardId": "shardId-0", "ShardIteratorType": "LATEST"}),
    );
    let iterator = send(&server, iterator).await.json()["ShardIterator"].clone();
    let delete = kinesis("DeleteStream", serde_json::json!({"StreamName": "gone"}));
    assert_eq!(send(&server, delete).await.status, 200);
    let read = send(
        &server,
        kinesis("GetRecords", serde_json::json!({"ShardIterator": iterator})),
    )
    .await;
    assert_eq!(read.status, 400);
    assert_eq!(
        read.json(),
        serde_json::json!({"__type": "ResourceNotFoundException", "message": "Shard shardId-000000000000 in stream gone under account 000000000000 does not exist"})
    );
}

/// Firehose requests are checked by the same layer: members in the order
/// of AWS's Firehose model, nested paths such as
/// `extendedS3DestinationConfiguration.bufferingHints.sizeInMBs`, and the
/// constraints (lengths, ranges, enums, patterns) AWS's API reference
/// documents for each member, in Coral's words.
#[tokio::test]
async fn firehose_requests_are_checked_against_aws_model() {
    let server = TestServer::start().await;
    let create = firehose(
        "CreateDeliveryStream",
        serde_json::json!({
            "DeliveryStreamName": "a b",
            "DeliveryStreamType": "Foo",
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": "bucket",
                "BufferingHints": {"SizeInMBs": 0, "IntervalInSeconds": 60},
                "CompressionFormat": "LZ4",
            },
            "Tags": [{"Key": "aws:x", "Value": "v"}],
        }),
    );
    let answer = send(&server, create).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["__type"], "ValidationException");
    assert_eq!(
        answer.json()["message"],
        "7 validation errors detected: \
Value 'a b' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
Value 'Foo' at 'deliveryStreamType' failed to satisfy constraint: Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]; \
Value null at 'extendedS3DestinationConfiguration.roleARN' failed to satisfy constraint: Member must not be null; \
Value 'bucket' at 'extendedS3DestinationConfiguration.bucketARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{1,255}; \
Value '0' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value greater than or equal to 1; \
Value 'LZ4' at 'extendedS3DestinationConfiguration.compressionFormat' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]; \
Value 'aws:x' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.\\/=+\\-@%]*$"
    );

    let empty = send(
        &server,
        firehose("PutRecordBatch", serde_json::json!({"Records": []})),
    )
    .await;
    assert_eq!(
        empty.json()["message"],
        "2 validation errors detected: \
Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null; \
Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );

    let untag = send(
        &server,
        firehose(
            "UntagDeliveryStream",
            serde_json::json!({"DeliveryStreamName": "s", "TagKeys": ["", "ok"]}),
        ),
    )
    .await;
    assert_eq!(
        untag.json()["message"],
        "1 validation error detected: Value '' at 'tagKeys.1.member' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );

    let update = send(
        &server,
        firehose(
            "UpdateDestination",
            serde_json::json!({"DeliveryStreamName": "s", "CurrentDeliveryStreamVersionId": "v1", "DestinationId": "destinationId-000000000001"}),
        ),
    )
    .await;
    assert_eq!(
        update.json()["message"],
        "1 validation error detected: Value 'v1' at 'currentDeliveryStreamVersionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+"
    );
}

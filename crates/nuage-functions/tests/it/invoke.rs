//! Invocations as a handler's author sees them: results, errors in
//! Lambda's shape, timeouts, logs, warm reuse.

use bytes::Bytes;
use nuage_functions::InvokeRequest;
use serde_json::Value;

use crate::{new_function, open, zip, zip_bytes};

fn request(name: &str, payload: &str) -> InvokeRequest {
    InvokeRequest {
        name: name.into(),
        qualifier: None,
        payload: Bytes::from(payload.to_string()),
        client_context: None,
    }
}

fn json(bytes: &Bytes) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

const PY: &str = r#"
import os, time
calls = 0
def lambda_handler(event, context):
    global calls
    calls += 1
    print("got", event["n"])
    if event.get("fail"):
        raise ValueError("bad n: %d" % event["n"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"n": event["n"] * 2, "calls": calls, "pid": os.getpid(),
            "name": context.function_name, "left": context.get_remaining_time_in_millis() > 0,
            "region": os.environ["AWS_REGION"]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_handler_answers_fails_and_times_out_as_on_lambda() {
    let dir = tempfile::tempdir().unwrap();
    let functions = open(dir.path());
    functions
        .create(new_function(
            "double",
            "python3.12",
            "app.lambda_handler",
            zip(&[("app.py", PY, false)]),
        ))
        .await
        .unwrap();

    let first = functions
        .invoke(request("double", r#"{"n": 21}"#))
        .await
        .unwrap();
    assert!(!first.function_error, "{:?}", first.payload);
    let body = json(&first.payload);
    assert_eq!(body["n"], 42);
    assert_eq!(body["name"], "double");
    assert_eq!(body["left"], true);
    assert_eq!(body["region"], "us-east-1");
    assert!(
        first.log.starts_with(&format!(
            "START RequestId: {} Version: $LATEST\n",
            first.request_id
        )),
        "{}",
        first.log
    );
    assert!(first.log.contains("got 21\n"), "{}", first.log);
    assert!(
        first.log.contains(&format!(
            "END RequestId: {}\nREPORT RequestId: {}\tDuration: ",
            first.request_id, first.request_id
        )),
        "{}",
        first.log
    );
    assert!(first.log.contains("Init Duration: "), "{}", first.log);

    // Warm: the same process, the module's state kept.
    let second = functions
        .invoke(request("double", r#"{"n": 1}"#))
        .await
        .unwrap();
    let again = json(&second.payload);
    assert_eq!(again["calls"], 2);
    assert_eq!(again["pid"], body["pid"]);
    assert!(!second.log.contains("Init Duration"), "{}", second.log);
    assert!(
        second.log.contains("got 1\n") && !second.log.contains("got 21"),
        "{}",
        second.log
    );

    // A raised exception: Lambda's error document, the environment kept.
    let failed = functions
        .invoke(request("double", r#"{"n": 5, "fail": true}"#))
        .await
        .unwrap();
    assert!(failed.function_error);
    let error = json(&failed.payload);
    assert_eq!(error["errorType"], "ValueError");
    assert_eq!(error["errorMessage"], "bad n: 5");
    assert_eq!(error["requestId"], failed.request_id.as_str());
    assert!(
        error["stackTrace"][0].as_str().unwrap().contains("app.py"),
        "{error}"
    );
    assert!(
        failed.log.contains("[ERROR] ValueError: bad n: 5"),
        "{}",
        failed.log
    );

    // Past its timeout: killed, Sandbox.Timedout, and a fresh process next.
    let slow = functions
        .invoke(request("double", r#"{"n": 1, "sleep": 10}"#))
        .await
        .unwrap();
    assert!(slow.function_error);
    let error = json(&slow.payload);
    assert_eq!(error["errorType"], "Sandbox.Timedout");
    assert_eq!(
        error["errorMessage"],
        format!(
            "RequestId: {} Error: Task timed out after 3.00 seconds",
            slow.request_id
        )
    );
    assert!(slow.log.contains("Status: timeout"), "{}", slow.log);
    let after = functions
        .invoke(request("double", r#"{"n": 2}"#))
        .await
        .unwrap();
    assert_eq!(json(&after.payload)["calls"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_code_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let functions = open(dir.path());
    let cases = [
        (
            "nofile",
            "python3.12",
            "missing.handler",
            zip(&[("app.py", PY, false)]),
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
        ),
        (
            "raises",
            "python3.12",
            "app.handler",
            zip(&[("app.py", "raise RuntimeError('no config')", false)]),
            "RuntimeError",
            "no config",
        ),
        (
            "nohandler",
            "python3.12",
            "app.other",
            zip(&[("app.py", PY, false)]),
            "Runtime.HandlerNotFound",
            "Handler 'other' missing on module 'app'",
        ),
        (
            "nodenofile",
            "nodejs20.x",
            "index.handler",
            zip(&[("other.js", "", false)]),
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'index'",
        ),
    ];
    for (name, runtime, handler, code, kind, message) in cases {
        functions
            .create(new_function(name, runtime, handler, code))
            .await
            .unwrap();
        let out = functions.invoke(request(name, "{}")).await.unwrap();
        assert!(out.function_error, "{name}");
        let error = json(&out.payload);
        assert_eq!(error["errorType"], kind, "{name}: {error}");
        assert_eq!(error["errorMessage"], message, "{name}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_provided_runtimes_run_their_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let functions = open(dir.path());
    let js = "exports.handler = async (event, context) => { console.log('hi', event.n); return { n: event.n + 1, id: context.awsRequestId }; };";
    functions
        .create(new_function(
            "js",
            "nodejs20.x",
            "index.handler",
            zip(&[("index.js", js, false)]),
        ))
        .await
        .unwrap();
    let out = functions
        .invoke(request("js", r#"{"n": 1}"#))
        .await
        .unwrap();
    assert!(!out.function_error, "{:?}", out.payload);
    assert_eq!(json(&out.payload)["n"], 2);
    assert_eq!(json(&out.payload)["id"], out.request_id.as_str());
    assert!(out.log.contains("hi 1\n"), "{}", out.log);

    // A shell bootstrap speaking the Runtime API with curl.
    let bootstrap = r#"#!/bin/sh
set -eu
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  headers=$(mktemp)
  body=$(curl -sS -D "$headers" "$api/invocation/next")
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\r')
  echo "handling $id"
  curl -sS -X POST "$api/invocation/$id/response" -d "{\"echo\": $body}" >/dev/null
done
"#;
    functions
        .create(new_function(
            "sh",
            "provided.al2023",
            "unused",
            zip(&[("bootstrap", bootstrap, true)]),
        ))
        .await
        .unwrap();
    let out = functions
        .invoke(request("sh", r#"{"a": [1, 2]}"#))
        .await
        .unwrap();
    assert!(!out.function_error, "{:?}", out.payload);
    assert_eq!(json(&out.payload)["echo"]["a"][1], 2);
    assert!(
        out.log.contains(&format!("handling {}", out.request_id)),
        "{}",
        out.log
    );

    // No bootstrap in the zip.
    functions
        .create(new_function(
            "empty",
            "provided.al2",
            "x",
            zip(&[("README", "", false)]),
        ))
        .await
        .unwrap();
    let out = functions.invoke(request("empty", "{}")).await.unwrap();
    assert!(out.function_error);
    assert_eq!(json(&out.payload)["errorType"], "Runtime.InvalidEntrypoint");
}

const JS_CHECKS: &str = "exports.handler = async (event) => {
  console.log('checking', event.n);
  if (event.n < 0) throw new RangeError('n must not be negative');
  if (event.n === 0) throw 'zero';
  return { awslambda: typeof awslambda, twice: event.n * 2 };
};";

/// Invokes `name` with n = 2, 5, -1 and 0: two answers, then a thrown
/// Error and a thrown string in the Node.js runtime's shape (errorType,
/// errorMessage, the stack's lines as `trace`, as AWS's Node.js error
/// handling documentation shows them); each log holds its own output.
/// Returns the first answer.
async fn check_node_function(functions: &nuage_functions::Functions, name: &str) -> Value {
    let mut first = None;
    for n in [2, 5] {
        let out = functions
            .invoke(request(name, &format!("{{\"n\": {n}}}")))
            .await
            .unwrap();
        assert!(!out.function_error, "{:?}", out.payload);
        let body = json(&out.payload);
        assert_eq!(body["twice"], n * 2);
        let other = if n == 2 { 5 } else { 2 };
        assert!(out.log.contains(&format!("checking {n}")), "{}", out.log);
        assert!(
            !out.log.contains(&format!("checking {other}")),
            "{}",
            out.log
        );
        assert!(out.log.contains("REPORT RequestId:"), "{}", out.log);
        first.get_or_insert(body);
    }
    let out = functions
        .invoke(request(name, r#"{"n": -1}"#))
        .await
        .unwrap();
    assert!(out.function_error);
    let error = json(&out.payload);
    assert_eq!(error["errorType"], "RangeError", "{error}");
    assert_eq!(error["errorMessage"], "n must not be negative", "{error}");
    let trace = error["trace"].as_array().expect("a trace");
    assert_eq!(trace[0], "RangeError: n must not be negative", "{error}");
    assert!(trace.len() > 1, "{error}");
    let out = functions
        .invoke(request(name, r#"{"n": 0}"#))
        .await
        .unwrap();
    assert!(out.function_error);
    let error = json(&out.payload);
    assert_eq!(error["errorType"], "string", "{error}");
    assert_eq!(error["errorMessage"], "zero", "{error}");
    // The environment survives a handler error, as on AWS.
    let out = functions
        .invoke(request(name, r#"{"n": 3}"#))
        .await
        .unwrap();
    assert_eq!(json(&out.payload)["twice"], 6);
    first.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_handler_errors_take_the_nodejs_runtime_shape() {
    let dir = tempfile::tempdir().unwrap();
    let functions = open(dir.path());
    functions
        .create(new_function(
            "checks",
            "nodejs20.x",
            "index.handler",
            zip(&[("index.js", JS_CHECKS, false)]),
        ))
        .await
        .unwrap();
    let answer = check_node_function(&functions, "checks").await;
    // nuage's own runtime client defines no `awslambda` global.
    assert_eq!(answer["awslambda"], "undefined");
}

/// AWS's aws-lambda-ric, built by npm into ~/.cache/nuage-node-ric.
fn node_ric_files() -> Vec<(String, Vec<u8>, bool)> {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let dist =
        std::path::Path::new(&home).join(".cache/nuage-node-ric/node_modules/aws-lambda-ric/dist");
    assert!(
        dist.join("rapid-client.node").exists(),
        "this test needs aws-lambda-ric: (cd ~/.cache/nuage-node-ric && npm install \
         aws-lambda-ric@3.3.0), which needs cmake, autoconf, automake, libtool and g++ \
         (.ci/run prepares it)"
    );
    std::fs::read_dir(&dist)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let bytes = std::fs::read(&path).unwrap();
            (
                format!("node_modules/aws-lambda-ric/dist/{name}"),
                bytes,
                false,
            )
        })
        .collect()
}

/// Where AWS's runtime interface client is installed (here: in the
/// function's own node_modules), the handler runs under it - its
/// `awslambda` global is there - with the same answers, errors and logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_handler_runs_under_aws_lambda_ric_where_it_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let functions = open(dir.path());
    let mut files = node_ric_files();
    files.push(("index.js".into(), JS_CHECKS.as_bytes().to_vec(), false));
    functions
        .create(new_function(
            "ric",
            "nodejs20.x",
            "index.handler",
            zip_bytes(&files),
        ))
        .await
        .unwrap();
    let answer = check_node_function(&functions, "ric").await;
    assert_eq!(answer["awslambda"], "object");
}

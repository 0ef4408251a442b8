"""boto3 and the aws CLI against `nuage serve`'s Lambda API (argv[1] =
endpoint, argv[2] = a scratch folder).

Run by lambda.rs. What a user of the issue's scenario does: zip a handler,
`aws lambda create-function --zip-file fileb://fn.zip`, invoke it, map a
Kinesis stream to it, and put a function URL in front of a contact form.
Expected values come from the handlers' own logic and Lambda's documented
shapes, never from nuage's answers.
"""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, scratch = sys.argv[1], sys.argv[2]
session = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(retries={"max_attempts": 1}),
)
lam = boto3.client("lambda", **session)
kinesis = boto3.client("kinesis", **session)
env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")


def aws(*args):
    out = subprocess.run(
        ["aws", "--endpoint-url", endpoint, *args], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return json.loads(out.stdout) if out.stdout.strip() else None


def zip_of(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


# The handler, created with the aws CLI from a zip file.
records_out = os.path.join(scratch, "alerts.jsonl")
handler = f"""
import json, base64
def lambda_handler(event, context):
    with open({records_out!r}, "a") as f:
        for r in event["Records"]:
            f.write(json.dumps(json.loads(base64.b64decode(r["kinesis"]["data"]))) + "\\n")
    return {{"ok": True}}
"""
fn_zip = zip_of(os.path.join(scratch, "fn.zip"), {"handler.py": handler})
created = aws(
    "lambda", "create-function", "--function-name", "alerts", "--runtime", "python3.12",
    "--handler", "handler.lambda_handler", "--zip-file", f"fileb://{fn_zip}",
    "--role", "arn:aws:iam::000000000000:role/x",
)
assert created["FunctionName"] == "alerts" and created["Runtime"] == "python3.12", created
aws("kinesis", "create-stream", "--stream-name", "tolls", "--shard-count", "2")
time.sleep(0.3)
mapping = aws(
    "lambda", "create-event-source-mapping", "--function-name", "alerts",
    "--event-source-arn", "arn:aws:kinesis:us-east-1:000000000000:stream/tolls",
    "--starting-position", "TRIM_HORIZON",
)
assert mapping["State"] in ("Creating", "Enabled"), mapping
sent = [{"station": s, "vehicles": n} for s in ("A", "B", "C") for n in range(5)]
kinesis.put_records(
    StreamName="tolls",
    Records=[{"PartitionKey": r["station"], "Data": json.dumps(r).encode()} for r in sent],
)
for _ in range(200):
    if os.path.exists(records_out) and len(open(records_out).read().splitlines()) >= len(sent):
        break
    time.sleep(0.05)
got = [json.loads(l) for l in open(records_out).read().splitlines()]
key = lambda r: (r["station"], r["vehicles"])
assert sorted(got, key=key) == sorted(sent, key=key), got
listed = aws("lambda", "list-event-source-mappings", "--function-name", "alerts")
assert len(listed["EventSourceMappings"]) == 1, listed

# boto3: invoke with the log's tail; a handler error's payload.
lam.create_function(
    FunctionName="calc",
    Runtime="python3.12",
    Role="arn:aws:iam::000000000000:role/x",
    Handler="calc.handler",
    Code={"ZipFile": open(zip_of(os.path.join(scratch, "calc.zip"), {"calc.py": """
def handler(event, context):
    print("adding", event["a"], event["b"])
    return {"sum": event["a"] + event["b"]}
"""}), "rb").read()},
)
out = lam.invoke(FunctionName="calc", Payload=json.dumps({"a": 2, "b": 40}), LogType="Tail")
assert out["StatusCode"] == 200 and "FunctionError" not in out, out
assert json.loads(out["Payload"].read()) == {"sum": 42}
log = base64.b64decode(out["LogResult"]).decode()
assert "adding 2 40" in log and "REPORT RequestId" in log, log
out = lam.invoke(FunctionName="calc", Payload=json.dumps({"a": 2}))
assert out["FunctionError"] == "Unhandled", out
error = json.loads(out["Payload"].read())
assert error["errorType"] == "KeyError" and error["errorMessage"] == "'b'", error
try:
    lam.get_function(FunctionName="nope")
    raise AssertionError("found a function that does not exist")
except ClientError as e:
    assert e.response["Error"]["Code"] == "ResourceNotFoundException", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404

# boto3 inside a handler, unpackaged, reaches nuage's own Kinesis.
aws("kinesis", "create-stream", "--stream-name", "forwarded", "--shard-count", "1")
lam.create_function(
    FunctionName="forward",
    Runtime="python3.12",
    Role="arn:aws:iam::000000000000:role/x",
    Handler="fwd.handler",
    MemorySize=128,
    Code={"ZipFile": open(zip_of(os.path.join(scratch, "fwd.zip"), {"fwd.py": """
import boto3
kinesis = boto3.client("kinesis")
def handler(event, context):
    out = kinesis.put_record(StreamName="forwarded", PartitionKey="k", Data=event["text"].encode())
    return {"shard": out["ShardId"]}
"""}), "rb").read()},
)
out = lam.invoke(FunctionName="forward", Payload=json.dumps({"text": "via boto3"}))
assert "FunctionError" not in out, json.loads(out["Payload"].read())
assert json.loads(out["Payload"].read()) == {"shard": "shardId-000000000000"}
shard = kinesis.get_shard_iterator(
    StreamName="forwarded", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
)["ShardIterator"]
assert [r["Data"] for r in kinesis.get_records(ShardIterator=shard)["Records"]] == [b"via boto3"]

# A contact form behind a function URL: payload format 2.0 in, HTTP out.
lam.create_function(
    FunctionName="contact",
    Runtime="python3.12",
    Role="arn:aws:iam::000000000000:role/x",
    Handler="form.handler",
    Code={"ZipFile": open(zip_of(os.path.join(scratch, "form.zip"), {"form.py": """
import json, urllib.parse
def handler(event, context):
    assert event["version"] == "2.0" and event["requestContext"]["http"]["method"] == "POST"
    form = urllib.parse.parse_qs(event["body"])
    return {
        "statusCode": 201,
        "headers": {"content-type": "text/plain", "x-path": event["rawPath"]},
        "body": "thanks " + form["name"][0] + " (" + event["queryStringParameters"]["lang"] + ")",
    }
"""}), "rb").read()},
)
url = lam.create_function_url_config(FunctionName="contact", AuthType="NONE")["FunctionUrl"]
request = urllib.request.Request(
    url + "submit?lang=fr",
    data=b"name=Ada&message=hello",
    headers={"content-type": "application/x-www-form-urlencoded"},
    method="POST",
)
with urllib.request.urlopen(request) as response:
    assert response.status == 201, response.status
    assert response.headers["x-path"] == "/submit", dict(response.headers)
    assert response.read() == b"thanks Ada (fr)"
assert lam.get_function_url_config(FunctionName="contact")["AuthType"] == "NONE"
print("ok")

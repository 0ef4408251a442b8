"""KDA applications with functions, through boto3 (argv[1] = endpoint,
argv[2] = a scratch folder).

Run by kda.rs. First an output that is a function (LambdaOutput): the
handler, written as AWS's guide shows one for KDA outputs, decodes each
record's base64 data and answers each recordId "Ok" (the first time it sees
a batch, one record "DeliveryFailed", which must come again); the counts it
received add up to the events put. Then an input preprocessor
(AddApplicationInputProcessingConfiguration): it turns CSV records into
JSON, answers "Dropped" for some and "ProcessingFailed" for one, which
reaches error_stream.
"""

import io
import json
import os
import sys
import time
import zipfile

from kda_common import ROLE, client, read_all, stream_arn

endpoint, scratch = sys.argv[1], sys.argv[2]
kda = client("kinesisanalytics", endpoint)
kinesis = client("kinesis", endpoint)
lam = client("lambda", endpoint)
EVENTS = 600
received = os.path.join(scratch, "received.jsonl")
refused = os.path.join(scratch, "refused")

handler = f"""
import base64, json, os
def handler(event, context):
    assert event["applicationArn"].endswith(":application/counts"), event["applicationArn"]
    out = []
    for i, r in enumerate(event["records"]):
        if i == 0 and not os.path.exists({refused!r}):
            open({refused!r}, "w").close()
            out.append({{"recordId": r["recordId"], "result": "DeliveryFailed"}})
            continue
        with open({received!r}, "a") as f:
            f.write(base64.b64decode(r["data"]).decode() + "\\n")
        out.append({{"recordId": r["recordId"], "result": "Ok"}})
    return {{"records": out}}
"""
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("app.py", handler)
function_arn = lam.create_function(
    FunctionName="deliver",
    Runtime="python3.12",
    Role=ROLE,
    Handler="app.handler",
    Code={"ZipFile": code.getvalue()},
)["FunctionArn"]

kinesis.create_stream(StreamName="pages", ShardCount=1)
for i in range(0, EVENTS, 300):
    kinesis.put_records(
        StreamName="pages",
        Records=[{"Data": json.dumps({"page": f"p{n % 5}"}).encode(), "PartitionKey": str(n)} for n in range(i, i + 300)],
    )
pages_arn = stream_arn(kinesis, "pages")
kda.create_application(
    ApplicationName="counts",
    Inputs=[
        {
            "NamePrefix": "SOURCE_SQL_STREAM",
            "KinesisStreamsInput": {"ResourceARN": pages_arn, "RoleARN": ROLE},
            "InputSchema": {
                "RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
                "RecordColumns": [{"Name": "page", "Mapping": "$.page", "SqlType": "VARCHAR(8)"}],
            },
        }
    ],
    Outputs=[
        {
            "Name": "PAGE_COUNTS",
            "LambdaOutput": {"ResourceARN": function_arn, "RoleARN": ROLE},
            "DestinationSchema": {"RecordFormatType": "JSON"},
        }
    ],
    ApplicationCode="""
        CREATE OR REPLACE STREAM "PAGE_COUNTS" (page VARCHAR(8), n BIGINT);
        CREATE OR REPLACE PUMP "P" AS INSERT INTO "PAGE_COUNTS"
          SELECT STREAM page, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
          GROUP BY page, FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO SECOND);
    """,
)
detail = kda.describe_application(ApplicationName="counts")["ApplicationDetail"]
assert detail["OutputDescriptions"][0]["LambdaOutputDescription"]["ResourceARN"] == function_arn, detail
kda.start_application(
    ApplicationName="counts",
    InputConfigurations=[{"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}],
)
deadline = time.time() + 60
total = 0
while time.time() < deadline:
    if os.path.exists(received):
        rows = [json.loads(line) for line in open(received) if line.strip()]
        total = sum(r["N"] for r in rows)
        if total >= EVENTS:
            break
    time.sleep(0.5)
assert total == EVENTS, (total, EVENTS)
assert os.path.exists(refused)

# An input preprocessor: CSV "page,n" records become JSON.
preprocessor = """
import base64, json
def handler(event, context):
    assert event["streamArn"].endswith(":stream/raw-pages"), event["streamArn"]
    out = []
    for r in event["records"]:
        page, n = base64.b64decode(r["data"]).decode().split(",")
        assert r["kinesisStreamRecordMetadata"]["shardId"] == "shardId-000000000000"
        if page == "DROP":
            out.append({"recordId": r["recordId"], "result": "Dropped"})
        elif page == "FAIL":
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed"})
        else:
            data = json.dumps({"page": page, "n": int(n)}).encode()
            out.append({"recordId": r["recordId"], "result": "Ok", "data": base64.b64encode(data).decode()})
    return {"records": out}
"""
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("pre.py", preprocessor)
pre_arn = lam.create_function(
    FunctionName="csv-to-json", Runtime="python3.12", Role=ROLE, Handler="pre.handler",
    Code={"ZipFile": code.getvalue()},
)["FunctionArn"]
for name in ["raw-pages", "pre-out", "pre-errors"]:
    kinesis.create_stream(StreamName=name, ShardCount=1)
lines = [f"p{i},{i}" for i in range(20)] + ["DROP,1", "FAIL,2", "DROP,3"]
kinesis.put_records(StreamName="raw-pages", Records=[{"Data": l.encode(), "PartitionKey": "k"} for l in lines])
kda.create_application(
    ApplicationName="pre",
    Inputs=[
        {
            "NamePrefix": "SOURCE_SQL_STREAM",
            "KinesisStreamsInput": {"ResourceARN": stream_arn(kinesis, "raw-pages"), "RoleARN": ROLE},
            "InputSchema": {
                "RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
                "RecordColumns": [
                    {"Name": "page", "Mapping": "$.page", "SqlType": "VARCHAR(8)"},
                    {"Name": "n", "Mapping": "$.n", "SqlType": "INTEGER"},
                ],
            },
        }
    ],
    Outputs=[
        {"Name": "PAGES", "KinesisStreamsOutput": {"ResourceARN": stream_arn(kinesis, "pre-out"), "RoleARN": ROLE},
         "DestinationSchema": {"RecordFormatType": "JSON"}},
        {"Name": "error_stream", "KinesisStreamsOutput": {"ResourceARN": stream_arn(kinesis, "pre-errors"), "RoleARN": ROLE},
         "DestinationSchema": {"RecordFormatType": "JSON"}},
    ],
    ApplicationCode="""
        CREATE OR REPLACE STREAM "PAGES" (page VARCHAR(8), n INTEGER);
        CREATE OR REPLACE PUMP "P" AS INSERT INTO "PAGES" SELECT STREAM * FROM "SOURCE_SQL_STREAM_001";
    """,
)
kda.add_application_input_processing_configuration(
    ApplicationName="pre",
    CurrentApplicationVersionId=1,
    InputId="1.1",
    InputProcessingConfiguration={"InputLambdaProcessor": {"ResourceARN": pre_arn, "RoleARN": ROLE}},
)
described = kda.describe_application(ApplicationName="pre")["ApplicationDetail"]["InputDescriptions"][0]
assert described["InputProcessingConfigurationDescription"]["InputLambdaProcessorDescription"]["ResourceARN"] == pre_arn
kda.start_application(
    ApplicationName="pre",
    InputConfigurations=[{"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}],
)
deadline = time.time() + 60
while time.time() < deadline:
    pages, errors = read_all(kinesis, "pre-out"), read_all(kinesis, "pre-errors")
    if len(pages) >= 20 and errors:
        break
    time.sleep(0.5)
assert sorted((p["PAGE"], p["N"]) for p in pages) == sorted((f"p{i}", i) for i in range(20)), pages
assert [e["DATA_ROW"] for e in errors] == ["FAIL,2"], errors
print("ok")

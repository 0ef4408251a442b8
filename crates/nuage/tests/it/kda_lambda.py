"""A KDA application whose output is a function (LambdaOutput), through
boto3 (argv[1] = endpoint, argv[2] = a scratch folder).

Run by kda.rs. The handler is written as AWS's guide shows one for KDA
outputs: it decodes each record's base64 data and answers each recordId
with "Ok" (the first time it sees a batch, one record "DeliveryFailed",
which must come again). The counts it received add up to the events put.
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
stream_arn = kinesis.describe_stream_summary(StreamName="pages")["StreamDescriptionSummary"]["StreamARN"]
kda.create_application(
    ApplicationName="counts",
    Inputs=[
        {
            "NamePrefix": "SOURCE_SQL_STREAM",
            "KinesisStreamsInput": {"ResourceARN": stream_arn, "RoleARN": ROLE},
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
print("ok")

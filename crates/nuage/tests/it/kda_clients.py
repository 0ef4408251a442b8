"""boto3's kinesisanalytics client against `nuage serve` (argv[1] = endpoint,
argv[2] = toll events as JSON lines, argv[3] = a folder for the outputs).

Run by kda.rs. A user of Kinesis Data Analytics for SQL: put the toll events,
discover the input schema from the stream, create an application with the
toll questions in KDA's SQL, start it from TRIM_HORIZON, and read what its
outputs wrote. The error types asserted are the ones AWS documents per
operation; the outputs are compared with DuckDB by kda.rs.
"""

import json
import os
import sys
import time

from botocore.exceptions import ClientError
from kda_common import ROLE, client, read_all, stream_arn

endpoint, events_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
kda = client("kinesisanalytics", endpoint)
kinesis = client("kinesis", endpoint)


def error_of(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{call.__name__} {kwargs} did not fail")



for name, shards in [("tolls", 2), ("station-counts", 1), ("customer-spend", 1), ("bad-rows", 1)]:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
events = [line.strip() for line in open(events_path) if line.strip()]
for i in range(0, len(events), 500):
    chunk = events[i : i + 500]
    put = kinesis.put_records(
        StreamName="tolls",
        Records=[{"Data": e.encode(), "PartitionKey": json.loads(e)["customer"]} for e in chunk],
    )
    assert put["FailedRecordCount"] == 0, put
# Two records that are no tolls: they go to error_stream, not to the counts.
kinesis.put_records(
    StreamName="tolls",
    Records=[
        {"Data": b"not json at all", "PartitionKey": "x"},
        {"Data": b'{"ts": "yesterday", "station": "S1", "customer": "C1", "amount": 1}', "PartitionKey": "x"},
    ],
)

# The schema, discovered from the stream as the console does.
found = kda.discover_input_schema(
    ResourceARN=stream_arn(kinesis, "tolls"),
    RoleARN=ROLE,
    InputStartingPositionConfiguration={"InputStartingPosition": "TRIM_HORIZON"},
)
columns = {c["Name"]: c for c in found["InputSchema"]["RecordColumns"]}
assert found["InputSchema"]["RecordFormat"]["RecordFormatType"] == "JSON", found
assert columns["ts"]["SqlType"] == "TIMESTAMP", columns
assert columns["ts"]["Mapping"] == "$.ts", columns
assert columns["amount"]["SqlType"] == "REAL", columns
assert columns["station"]["SqlType"].startswith("VARCHAR("), columns
assert set(found["RawInputRecords"]) <= {e.strip() for e in events} | {"not json at all"}, set(found["RawInputRecords"]) - {e.strip() for e in events}
assert len(found["ParsedInputRecords"][0]) == len(columns)
# The same from a lake object (through S3), as for reference data.
s3 = client("s3", endpoint)
s3.create_bucket(Bucket="samples")
s3.put_object(Bucket="samples", Key="tolls.json", Body="\n".join(events[:50]).encode())
from_object = kda.discover_input_schema(
    S3Configuration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::samples", "FileKey": "tolls.json"}
)
assert from_object["InputSchema"]["RecordColumns"] == found["InputSchema"]["RecordColumns"], from_object
assert from_object["RawInputRecords"] == events[:50]
schema = found["InputSchema"]
# Our own column list (in the order the SQL expects), with the discovered mappings.
schema["RecordColumns"] = [
    {"Name": "ts", "Mapping": "$.ts", "SqlType": "TIMESTAMP"},
    {"Name": "station", "Mapping": "$.station", "SqlType": "VARCHAR(8)"},
    {"Name": "customer", "Mapping": "$.customer", "SqlType": "VARCHAR(8)"},
    {"Name": "amount", "Mapping": "$.amount", "SqlType": "DOUBLE"},
]

CODE = """
-- Requirement 3: vehicles per station per 30 minutes of event time.
CREATE OR REPLACE STREAM "STATION_COUNTS" (station VARCHAR(8), window_start TIMESTAMP, vehicles BIGINT);
CREATE OR REPLACE PUMP "COUNT_PUMP" AS INSERT INTO "STATION_COUNTS"
  SELECT STREAM station, STEP(ts BY INTERVAL '30' MINUTE), COUNT(*)
  FROM "SOURCE_SQL_STREAM_001"
  GROUP BY station, STEP(ts BY INTERVAL '30' MINUTE),
           STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' SECOND);
-- Requirement 2: spend per customer per 10 minutes.
CREATE OR REPLACE STREAM "CUSTOMER_SPEND" (customer VARCHAR(8), window_start TIMESTAMP, spend DOUBLE);
CREATE OR REPLACE PUMP "SPEND_PUMP" AS INSERT INTO "CUSTOMER_SPEND"
  SELECT STREAM s.customer, STEP(s.ts BY INTERVAL '10' MINUTE) AS window_start, SUM(s.amount) AS spend
  FROM "SOURCE_SQL_STREAM_001" AS s
  GROUP BY s.customer, STEP(s.ts BY INTERVAL '10' MINUTE), FLOOR(s.ROWTIME TO SECOND);
"""

# Code that is no KDA SQL is refused when the application is created.
assert error_of(kda.create_application, ApplicationName="broken", ApplicationCode="SELEC 1") == "CodeValidationException"
assert error_of(kda.describe_application, ApplicationName="missing") == "ResourceNotFoundException"

created = kda.create_application(
    ApplicationName="tolls",
    ApplicationDescription="the toll road questions",
    Inputs=[
        {
            "NamePrefix": "SOURCE_SQL_STREAM",
            "KinesisStreamsInput": {"ResourceARN": stream_arn(kinesis, "tolls"), "RoleARN": ROLE},
            "InputParallelism": {"Count": 1},
            "InputSchema": schema,
        }
    ],
    Outputs=[
        {
            "Name": "STATION_COUNTS",
            "KinesisStreamsOutput": {"ResourceARN": stream_arn(kinesis, "station-counts"), "RoleARN": ROLE},
            "DestinationSchema": {"RecordFormatType": "JSON"},
        }
    ],
    ApplicationCode=CODE,
    Tags=[{"Key": "team", "Value": "roads"}],
)["ApplicationSummary"]
assert created["ApplicationStatus"] == "READY", created
app_arn = created["ApplicationARN"]
assert app_arn == "arn:aws:kinesisanalytics:us-east-1:000000000000:application/tolls", app_arn
assert error_of(kda.create_application, ApplicationName="tolls") == "ResourceInUseException"

detail = kda.describe_application(ApplicationName="tolls")["ApplicationDetail"]
assert detail["ApplicationVersionId"] == 1, detail
assert detail["InputDescriptions"][0]["InAppStreamNames"] == ["SOURCE_SQL_STREAM_001"], detail
assert detail["InputDescriptions"][0]["InputId"] == "1.1", detail
assert detail["OutputDescriptions"][0]["KinesisStreamsOutputDescription"]["ResourceARN"] == stream_arn(kinesis, "station-counts")

# Every change names the version it changes.
assert (
    error_of(
        kda.add_application_output,
        ApplicationName="tolls",
        CurrentApplicationVersionId=7,
        Output={
            "Name": "CUSTOMER_SPEND",
            "KinesisStreamsOutput": {"ResourceARN": stream_arn(kinesis, "customer-spend"), "RoleARN": ROLE},
            "DestinationSchema": {"RecordFormatType": "JSON"},
        },
    )
    == "ConcurrentModificationException"
)
for version, (name, stream) in enumerate([("CUSTOMER_SPEND", "customer-spend"), ("error_stream", "bad-rows")], start=1):
    kda.add_application_output(
        ApplicationName="tolls",
        CurrentApplicationVersionId=version,
        Output={
            "Name": name,
            "KinesisStreamsOutput": {"ResourceARN": stream_arn(kinesis, stream), "RoleARN": ROLE},
            "DestinationSchema": {"RecordFormatType": "JSON"},
        },
    )
detail = kda.describe_application(ApplicationName="tolls")["ApplicationDetail"]
assert detail["ApplicationVersionId"] == 3, detail["ApplicationVersionId"]
assert [o["Name"] for o in detail["OutputDescriptions"]] == ["STATION_COUNTS", "CUSTOMER_SPEND", "error_stream"]

summaries = kda.list_applications()["ApplicationSummaries"]
assert [s["ApplicationName"] for s in summaries] == ["tolls"], summaries
kda.tag_resource(ResourceARN=app_arn, Tags=[{"Key": "stage", "Value": "test"}])
tags = {t["Key"]: t["Value"] for t in kda.list_tags_for_resource(ResourceARN=app_arn)["Tags"]}
assert tags == {"team": "roads", "stage": "test"}, tags

kda.start_application(
    ApplicationName="tolls",
    InputConfigurations=[{"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}],
)
assert kda.describe_application(ApplicationName="tolls")["ApplicationDetail"]["ApplicationStatus"] == "RUNNING"
assert (
    error_of(
        kda.start_application,
        ApplicationName="tolls",
        InputConfigurations=[{"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}],
    )
    == "ResourceInUseException"
)



# Every toll counted once: wait until the counts add up to the events and
# the spend to their amounts.
total = sum(json.loads(e)["amount"] for e in events)
deadline = time.time() + 60
while time.time() < deadline:
    counts = read_all(kinesis, "station-counts")
    spend = read_all(kinesis, "customer-spend")
    bad = read_all(kinesis, "bad-rows")
    if (
        sum(c["VEHICLES"] for c in counts) == len(events)
        and abs(sum(s["SPEND"] for s in spend) - total) < 1e-6
        and len(bad) == 2
    ):
        break
    time.sleep(0.5)
assert sum(c["VEHICLES"] for c in counts) == len(events), (sum(c["VEHICLES"] for c in counts), len(events))
assert abs(sum(s["SPEND"] for s in spend) - total) < 1e-6, (sum(s["SPEND"] for s in spend), total)
assert len(bad) == 2, bad
assert "not json at all" in {b["DATA_ROW"] for b in bad}, bad
with open(os.path.join(out, "station_counts.jsonl"), "w") as f:
    for c in counts:
        f.write(json.dumps(c) + "\n")
with open(os.path.join(out, "customer_spend.jsonl"), "w") as f:
    for s in spend:
        f.write(json.dumps(s) + "\n")

kda.stop_application(ApplicationName="tolls")
detail = kda.describe_application(ApplicationName="tolls")["ApplicationDetail"]
assert detail["ApplicationStatus"] == "READY", detail["ApplicationStatus"]
assert error_of(kda.delete_application, ApplicationName="tolls", CreateTimestamp=1) != ""
kda.delete_application(ApplicationName="tolls", CreateTimestamp=detail["CreateTimestamp"])
assert kda.list_applications()["ApplicationSummaries"] == []
print("ok")

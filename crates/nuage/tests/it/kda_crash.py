"""A KDA application whose server dies at the worst moment (argv[1] =
endpoint, argv[2] = phase).

Run by kda.rs. `setup`: streams, 3,000 events, an application counting
them per second of ROWTIME into a stream, started from TRIM_HORIZON (the
server runs with NUAGE_FLOW_FAILPOINT=after-sink-put, so it aborts right
after the first firing's records are in the output stream and before the
firing is recorded). `check` (a new server on the same data dir): the
counts in the output stream add up to the events exactly: none lost, none
twice.
"""

import json
import sys
import time

from kda_common import ROLE, client, read_all, stream_arn

endpoint, phase = sys.argv[1], sys.argv[2]
kda = client("kinesisanalytics", endpoint)
kinesis = client("kinesis", endpoint)
EVENTS = 3000




if phase == "setup":
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    kinesis.create_stream(StreamName="counts", ShardCount=1)
    for i in range(0, EVENTS, 500):
        kinesis.put_records(
            StreamName="clicks",
            Records=[{"Data": json.dumps({"page": f"p{n % 7}"}).encode(), "PartitionKey": str(n)} for n in range(i, i + 500)],
        )
    kda.create_application(
        ApplicationName="clicks",
        Inputs=[
            {
                "NamePrefix": "SOURCE_SQL_STREAM",
                "KinesisStreamsInput": {"ResourceARN": stream_arn(kinesis, "clicks"), "RoleARN": ROLE},
                "InputSchema": {
                    "RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
                    "RecordColumns": [{"Name": "page", "Mapping": "$.page", "SqlType": "VARCHAR(8)"}],
                },
            }
        ],
        Outputs=[
            {
                "Name": "PAGE_COUNTS",
                "KinesisStreamsOutput": {"ResourceARN": stream_arn(kinesis, "counts"), "RoleARN": ROLE},
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
    kda.start_application(
        ApplicationName="clicks",
        InputConfigurations=[{"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}],
    )
else:
    # The crash happened after the first firing's put: it is in the stream.
    deadline = time.time() + 60
    total = 0
    while time.time() < deadline:
        total = sum(r["N"] for r in read_all(kinesis, "counts"))
        if total >= EVENTS:
            break
        time.sleep(0.5)
    # Any doubled firing would show up on top of the events by now.
    time.sleep(3)
    total = sum(r["N"] for r in read_all(kinesis, "counts"))
    assert total == EVENTS, (total, EVENTS)
    assert kda.describe_application(ApplicationName="clicks")["ApplicationDetail"]["ApplicationStatus"] == "RUNNING"
    print("ok")

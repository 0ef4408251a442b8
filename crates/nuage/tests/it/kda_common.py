"""What the Kinesis Analytics test scripts share: boto3 clients for a
nuage endpoint, a stream's ARN, and every record of a stream."""

import json

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::000000000000:role/kda"


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def stream_arn(kinesis, stream):
    return kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]


def read_all(kinesis, stream):
    """Every record of every shard, JSON-decoded, from TRIM_HORIZON."""
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            got = kinesis.get_records(ShardIterator=it, Limit=10000)
            if not got["Records"]:
                break
            records.extend(json.loads(r["Data"]) for r in got["Records"])
            it = got["NextShardIterator"]
    return records

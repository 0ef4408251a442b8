"""boto3 and the aws CLI against `nuage serve`'s S3 API (argv[1] = endpoint).

Run by s3_api.rs. Expected values come from the data itself (hashlib's MD5 and
SHA-256, the bytes written) and from S3's documented behaviour; nothing is
read back from nuage to decide what is right.
"""

import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)


def error_code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


s3.create_bucket(Bucket="lake")

# A checksum asked for is verified and kept (botocore sends it as a trailer
# of an aws-chunked body or as a header, depending on its version).
s3.put_object(Bucket="lake", Key="a.txt", Body=b"hello", ChecksumAlgorithm="SHA256")
head = s3.head_object(Bucket="lake", Key="a.txt", ChecksumMode="ENABLED")
assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"hello").digest()).decode(), head
assert head["ETag"] == '"%s"' % hashlib.md5(b"hello").hexdigest(), head
bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
assert error_code(lambda: s3.put_object(Bucket="lake", Key="b.txt", Body=b"hello", ContentMD5=bad)) == "BadDigest"
assert error_code(lambda: s3.head_object(Bucket="lake", Key="b.txt")) == "404"

# The transfer manager: a multipart upload on 4 threads, then ranged GETs.
data = os.urandom(22 * 2**20)
config = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20, max_concurrency=4)
with tempfile.TemporaryDirectory() as tmp:
    source = os.path.join(tmp, "in.bin")
    with open(source, "wb") as f:
        f.write(data)
    s3.upload_file(source, "lake", "big/data.bin", Config=config)
    etag = s3.head_object(Bucket="lake", Key="big/data.bin")["ETag"]
    parts = [data[i : i + 5 * 2**20] for i in range(0, len(data), 5 * 2**20)]
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    assert etag == '"%s-%d"' % (hashlib.md5(joined).hexdigest(), len(parts)), etag
    target = os.path.join(tmp, "out.bin")
    s3.download_file("lake", "big/data.bin", target, Config=config)
    with open(target, "rb") as f:
        assert f.read() == data

# Pages of a listing, in key order, and keys that need URL encoding.
for i in range(25):
    s3.put_object(Bucket="lake", Key="many/%03d" % i, Body=b"")
pages = s3.get_paginator("list_objects_v2").paginate(
    Bucket="lake", Prefix="many/", PaginationConfig={"PageSize": 10}
)
keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
assert keys == ["many/%03d" % i for i in range(25)], keys
pages = s3.get_paginator("list_objects").paginate(
    Bucket="lake", Delimiter="/", PaginationConfig={"PageSize": 1}
)
names = []
for page in pages:
    names += [o["Key"] for o in page.get("Contents", [])]
    names += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
assert names == ["a.txt", "big/", "many/"], names
odd = "dir with space/été+plus&amp.csv"
s3.put_object(Bucket="lake", Key=odd, Body=b"x")
listed = s3.list_objects(Bucket="lake", Prefix="dir with space/")  # boto3 asks for encoding-type=url
assert [o["Key"] for o in listed["Contents"]] == [odd], listed
# Asked for explicitly, the names stay encoded as S3 writes them (space as
# %20, '+' as %2B, UTF-8 bytes escaped, '/' kept: ceph/s3-tests' encoding
# tests); ListObjects (v1) echoes its Prefix unencoded (botocore decodes
# every v1 name but that one), ListObjectsV2 encodes it.
raw = s3.list_objects(Bucket="lake", Prefix="dir with space/", EncodingType="url")
assert [o["Key"] for o in raw["Contents"]] == ["dir%20with%20space/%C3%A9t%C3%A9%2Bplus%26amp.csv"], raw
assert raw["Prefix"] == "dir with space/", raw
raw = s3.list_objects_v2(Bucket="lake", Prefix="dir with space/", EncodingType="url")
assert raw["Prefix"] == "dir%20with%20space/", raw
assert s3.list_objects(Bucket="lake", Prefix="\n")["Prefix"] == "\n"
assert s3.get_object(Bucket="lake", Key=odd)["Body"].read() == b"x"

# S3 lets `foo/bar` and `foo/bar/xyzzy` both exist (s3-tests' delimiter
# test); keys that are not paths (`a//b`) round-trip too.
s3.create_bucket(Bucket="delim")
for key in ["foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf", "a//b"]:
    s3.put_object(Bucket="delim", Key=key, Body=key.encode())
listed = s3.list_objects(Bucket="delim", Delimiter="/")
assert [o["Key"] for o in listed["Contents"]] == ["asdf"], listed
assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["a/", "foo/", "quux/"], listed
assert s3.get_object(Bucket="delim", Key="foo/bar/xyzzy")["Body"].read() == b"foo/bar/xyzzy"
assert s3.get_object(Bucket="delim", Key="a//b")["Body"].read() == b"a//b"
assert s3.list_objects_v2(Bucket="delim", MaxKeys=0)["IsTruncated"] is False

# Bucket tags are kept; S3's rules refuse reserved keys.
assert error_code(lambda: s3.get_bucket_tagging(Bucket="lake")) == "NoSuchTagSet"
s3.put_bucket_tagging(Bucket="lake", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
assert s3.get_bucket_tagging(Bucket="lake")["TagSet"] == [{"Key": "team", "Value": "data"}]
bad = {"TagSet": [{"Key": "aws:owner", "Value": "x"}]}
assert error_code(lambda: s3.put_bucket_tagging(Bucket="lake", Tagging=bad)) == "InvalidTag"
s3.delete_bucket_tagging(Bucket="lake")
assert error_code(lambda: s3.get_bucket_tagging(Bucket="lake")) == "NoSuchTagSet"

# A private ACL is the owner's FULL_CONTROL; public-read adds AllUsers'
# READ; a grant by e-mail resolves to no one (nuage's users have none).
acl = s3.get_bucket_acl(Bucket="lake")
assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"], acl
assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"], acl
s3.put_object_acl(Bucket="lake", Key="a.txt", ACL="public-read")
grants = s3.get_object_acl(Bucket="lake", Key="a.txt")["Grants"]
all_users = "http://acs.amazonaws.com/groups/global/AllUsers"
assert sorted((g["Grantee"].get("URI") or "", g["Permission"]) for g in grants) == [("", "FULL_CONTROL"), (all_users, "READ")], grants
s3.put_object_acl(Bucket="lake", Key="a.txt", ACL="private")
assert len(s3.get_object_acl(Bucket="lake", Key="a.txt")["Grants"]) == 1
# Creating a bucket one owns again answers 200 in us-east-1 and resets its
# ACL to the one the request asks for (S3's BucketAlreadyOwnedByYou docs).
s3.create_bucket(Bucket="recreated", ACL="public-read")
assert len(s3.get_bucket_acl(Bucket="recreated")["Grants"]) == 2
s3.create_bucket(Bucket="recreated")
assert [g["Permission"] for g in s3.get_bucket_acl(Bucket="recreated")["Grants"]] == ["FULL_CONTROL"]
s3.create_bucket(Bucket="recreated", ACL="public-read")
assert len(s3.get_bucket_acl(Bucket="recreated")["Grants"]) == 2
s3.delete_bucket(Bucket="recreated")
other = 'emailAddress="someone@example.com"'
assert error_code(lambda: s3.put_object_acl(Bucket="lake", Key="a.txt", GrantRead=other)) == "UnresolvableGrantByEmailAddress"

# Presigned URLs from the SDK work from any HTTP client.
url = s3.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "a.txt"}, ExpiresIn=60)
assert urllib.request.urlopen(url).read() == b"hello"
# S3 honours a SigV4 presigned URL for at most a week and refuses one that
# asks for longer, or for a negative lifetime, with 403.
v4 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)
for seconds in (609901, -7):
    url = v4.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "a.txt"}, ExpiresIn=seconds)
    try:
        urllib.request.urlopen(url)
        raise AssertionError("a presigned URL living %d seconds was honoured" % seconds)
    except urllib.error.HTTPError as e:
        assert e.code == 403 and b"AuthorizationQueryParametersError" in e.read(), seconds
put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "lake", "Key": "up.txt"}, ExpiresIn=60)
urllib.request.urlopen(urllib.request.Request(put_url, data=b"uploaded", method="PUT")).read()
assert s3.get_object(Bucket="lake", Key="up.txt")["Body"].read() == b"uploaded"

assert error_code(lambda: s3.get_object(Bucket="lake", Key="missing")) == "NoSuchKey"
assert error_code(lambda: s3.create_bucket(Bucket="Bad_Name")) == "InvalidBucketName"

# The aws CLI: cp, sync, ls.
env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")


def aws(*args):
    done = subprocess.run(["aws", "--endpoint-url", endpoint, *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "site", "css"))
    files = {"index.html": b"<h1>hi</h1>", "css/site.css": b"h1{}", "big.bin": os.urandom(9 * 2**20)}
    for name, body in files.items():
        with open(os.path.join(tmp, "site", name), "wb") as f:
            f.write(body)
    aws("s3", "sync", os.path.join(tmp, "site"), "s3://lake/site/")
    listing = aws("s3", "ls", "--recursive", "s3://lake/site/")
    assert sorted(line.split()[-1] for line in listing.splitlines()) == sorted("site/" + n for n in files), listing
    # A second sync has nothing to copy.
    assert aws("s3", "sync", os.path.join(tmp, "site"), "s3://lake/site/").strip() == ""
    aws("s3", "cp", "s3://lake/site/big.bin", os.path.join(tmp, "back.bin"))
    with open(os.path.join(tmp, "back.bin"), "rb") as f:
        assert f.read() == files["big.bin"]

# A browser form's POST (the key field and the file, as S3's POST Object
# documentation describes them) stores the object; 204 is S3's default
# success_action_status, 201 answers the object's location. This server has
# no keys, so the forms here are unsigned or their signature is not checked.
import requests

url = f"{endpoint}/lake"
posted = requests.post(url, data={"key": "form/upload.txt"}, files={"file": ("upload.txt", b"from a form")})
assert posted.status_code == 204, (posted.status_code, posted.text)
assert s3.get_object(Bucket="lake", Key="form/upload.txt")["Body"].read() == b"from a form"
created = requests.post(
    url,
    data={"key": "form/created.txt", "success_action_status": "201"},
    files={"file": ("created.txt", b"created")},
)
assert created.status_code == 201 and "<Key>form/created.txt</Key>" in created.text, created.text
# A signed form (boto3's generate_presigned_post) is taken without keys too:
# the signature is not checked (as for headers), the policy's conditions are.
post = s3.generate_presigned_post(
    "lake", "signed/${filename}", Conditions=[["content-length-range", 1, 10]], ExpiresIn=60
)
signed = requests.post(post["url"], data=post["fields"], files={"file": ("s.txt", b"small")})
assert signed.status_code == 204, (signed.status_code, signed.text)
assert s3.get_object(Bucket="lake", Key="signed/s.txt")["Body"].read() == b"small"
too_big = requests.post(post["url"], data=post["fields"], files={"file": ("b.txt", b"x" * 11)})
assert too_big.status_code == 400 and "EntityTooLarge" in too_big.text, (too_big.status_code, too_big.text)
# S3 puts the file's name in place of ${filename} in the key, and redirects
# to success_action_redirect with the bucket, key and quoted ETag.
# A form's tagging field (S3's <Tagging> XML) tags the object.
tagging = "<Tagging><TagSet><Tag><Key>camera</Key><Value>x100</Value></Tag></TagSet></Tagging>"
named = requests.post(
    url, data={"key": "form/${filename}", "tagging": tagging}, files={"file": ("photo.jpg", b"jpeg")}
)
assert named.status_code == 204, (named.status_code, named.text)
assert s3.get_object(Bucket="lake", Key="form/photo.jpg")["Body"].read() == b"jpeg"
tags = s3.get_object_tagging(Bucket="lake", Key="form/photo.jpg")["TagSet"]
assert tags == [{"Key": "camera", "Value": "x100"}], tags
redirected = requests.post(
    url,
    data={"key": "redirected.txt", "success_action_redirect": "http://example.com/done"},
    files={"file": ("r.txt", b"bar")},
    allow_redirects=False,
)
assert redirected.status_code == 303, (redirected.status_code, redirected.text)
etag = hashlib.md5(b"bar").hexdigest()
location = "http://example.com/done?bucket=lake&key=redirected.txt&etag=%22" + etag + "%22"
assert redirected.headers["Location"] == location, redirected.headers

# `aws s3 website` configures a bucket's website; the website endpoint
# (Host: <bucket>.s3-website.localhost) serves the index document for "/".
s3.create_bucket(Bucket="static-site")
s3.put_object(Bucket="static-site", Key="index.html", Body=b"<h1>site</h1>", ContentType="text/html")
aws("s3", "website", "s3://static-site/", "--index-document", "index.html", "--error-document", "404.html")
website = s3.get_bucket_website(Bucket="static-site")
assert website["IndexDocument"] == {"Suffix": "index.html"}, website
assert website["ErrorDocument"] == {"Key": "404.html"}, website
port = endpoint.rsplit(":", 1)[1].rstrip("/")
home = urllib.request.Request(endpoint + "/", headers={"Host": "static-site.s3-website.localhost:" + port})
with urllib.request.urlopen(home) as answer:
    assert answer.status == 200 and answer.read() == b"<h1>site</h1>"

# Lifecycle rules round-trip as given: a Filter with And (prefix and tags),
# and the older API's rule-level Prefix (put_bucket_lifecycle).
rules = [{
    "ID": "tmp-tagged",
    "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "scratch", "Value": "yes"}]}},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}]
s3.put_bucket_lifecycle_configuration(Bucket="lake", LifecycleConfiguration={"Rules": rules})
assert s3.get_bucket_lifecycle_configuration(Bucket="lake")["Rules"] == rules
old = [{"ID": "logs", "Prefix": "logs/", "Status": "Enabled", "Expiration": {"Days": 30}}]
s3.put_bucket_lifecycle(Bucket="lake", LifecycleConfiguration={"Rules": old})
assert s3.get_bucket_lifecycle_configuration(Bucket="lake")["Rules"] == old
s3.put_object(Bucket="lake", Key="logs/x.log", Body=b"x")
assert 'rule-id="logs"' in s3.head_object(Bucket="lake", Key="logs/x.log")["Expiration"]

# Server access logging and Requester Pays round-trip.
s3.create_bucket(Bucket="lake-logs")
s3.put_bucket_logging(Bucket="lake", BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "lake-logs", "TargetPrefix": "access/"}})
logging = s3.get_bucket_logging(Bucket="lake")["LoggingEnabled"]
assert (logging["TargetBucket"], logging["TargetPrefix"]) == ("lake-logs", "access/"), logging
s3.put_bucket_logging(Bucket="lake", BucketLoggingStatus={})
assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="lake")
s3.put_bucket_request_payment(Bucket="lake-logs", RequestPaymentConfiguration={"Payer": "Requester"})
assert s3.get_bucket_request_payment(Bucket="lake-logs")["Payer"] == "Requester"

# S3 Select through boto3's event stream: gzip JSON Lines, the expected
# answer computed here from the records; Progress events when asked; a
# ScanRange over CSV takes the records that start inside it.
import gzip
import json

people = [{"name": "p%d" % i, "age": 18 + i % 50, "city": ["Lyon", "Nice", "Paris"][i % 3]} for i in range(5000)]
lines = "".join(json.dumps(p) + "\n" for p in people).encode()
s3.put_object(Bucket="lake", Key="people.json.gz", Body=gzip.compress(lines))
answer = s3.select_object_content(
    Bucket="lake",
    Key="people.json.gz",
    ExpressionType="SQL",
    Expression="SELECT s.name FROM S3Object s WHERE s.city = 'Nice' AND s.age > 60",
    InputSerialization={"JSON": {"Type": "LINES"}, "CompressionType": "GZIP"},
    OutputSerialization={"JSON": {}},
    RequestProgress={"Enabled": True},
)
records, kinds, stats = b"", set(), None
for event in answer["Payload"]:
    kinds.update(event.keys())
    if "Records" in event:
        records += event["Records"]["Payload"]
    if "Stats" in event:
        stats = event["Stats"]["Details"]
want = [{"name": p["name"]} for p in people if p["city"] == "Nice" and p["age"] > 60]
assert [json.loads(l) for l in records.decode().splitlines()] == want
assert {"Records", "Progress", "Stats", "End"} <= kinds, kinds
assert stats["BytesProcessed"] == len(lines) and stats["BytesReturned"] == len(records), stats

rows = b"id,v\n1,a\n2,b\n3,c\n"
s3.put_object(Bucket="lake", Key="rows.csv", Body=rows)
answer = s3.select_object_content(
    Bucket="lake",
    Key="rows.csv",
    ExpressionType="SQL",
    Expression="SELECT _2 FROM S3Object",
    InputSerialization={"CSV": {"FileHeaderInfo": "NONE"}},
    OutputSerialization={"CSV": {}},
    ScanRange={"Start": rows.index(b"2,b"), "End": rows.index(b"2,b")},
)
got = b"".join(e["Records"]["Payload"] for e in answer["Payload"] if "Records" in e)
assert got == b"b\n", got
assert error_code(lambda: s3.select_object_content(
    Bucket="lake", Key="rows.csv", ExpressionType="SQL", Expression="SELECT v FROM S3Object",
    InputSerialization={"CSV": {"FileHeaderInfo": "NONE"}}, OutputSerialization={"CSV": {}},
)) == "EvaluatorBindingDoesNotExist"

print("ok")

"""AWS list prices the benchmark's cost tables use: us-east-1, on-demand, arm64, in US dollars.

One place, so a price change is one edit. Read from the public pricing pages (us-east-1, first
volume tier of each):
- Lambda: https://aws.amazon.com/lambda/pricing/ (arm64 duration per GB-second, requests, response
  streaming beyond the first 6 MB of a response; Function URLs carry no charge of their own, their
  requests are billed as Lambda requests; duration is billed per 1 ms, rounded up)
- API Gateway HTTP API: https://aws.amazon.com/api-gateway/pricing/ (per million requests, first
  300 million a month; each request metered in 512 KB increments)
- DynamoDB on-demand: https://aws.amazon.com/dynamodb/pricing/on-demand/ (write and read request units)
- S3 Standard requests: https://aws.amazon.com/s3/pricing/ (LIST is priced with PUT/COPY/POST;
  GET, HEAD and "all other requests" at the lower rate)
"""
from __future__ import annotations

REGION = "us-east-1"

PRICING_PAGES = {
    "Lambda": "https://aws.amazon.com/lambda/pricing/",
    "API Gateway (HTTP API)": "https://aws.amazon.com/api-gateway/pricing/",
    "DynamoDB (on-demand)": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "S3 (Standard requests)": "https://aws.amazon.com/s3/pricing/",
}

LAMBDA_ARM64_GB_SECOND = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_STREAM_PER_GB_BEYOND_6MB = 0.008  # a response streamed through a RESPONSE_STREAM Function URL
FUNCTION_URL_PER_REQUEST = 0.0
HTTP_API_PER_REQUEST = 1.00 / 1_000_000
HTTP_API_METERING_BYTES = 512 * 1024

DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000

S3_PER_LIST = 0.005 / 1_000
S3_PER_GET = 0.0004 / 1_000  # GetObject
S3_PER_HEAD = 0.0004 / 1_000  # HeadObject ("all other requests")
S3_PRICE_BY_OPERATION = {"ListObjectsV2": S3_PER_LIST, "ListObjects": S3_PER_LIST,
                         "GetObject": S3_PER_GET, "HeadObject": S3_PER_HEAD}

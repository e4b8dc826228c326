"""AWS list prices, us-east-1, as the AWS pricing pages state them.

- Amazon API Gateway, HTTP APIs: $1.00 per million requests (first 300 million a month); "requests
  are metered in 512 KB increments". https://aws.amazon.com/api-gateway/pricing/
- AWS Lambda, Arm: $0.20 per 1M requests; $0.0000133334 for every GB-second.
  https://aws.amazon.com/lambda/pricing/
- Amazon SQS, standard queue: $0.40 per million requests (after the free tier); "each 64 KB chunk
  of a payload is billed as 1 request". https://aws.amazon.com/sqs/pricing/
- Amazon DynamoDB, on-demand: $0.625 per million write request units; $0.125 per million read
  request units. https://aws.amazon.com/dynamodb/pricing/on-demand/
- AWS Secrets Manager: $0.05 per 10,000 API calls. https://aws.amazon.com/secrets-manager/pricing/
- Amazon S3 Standard: $0.005 per 1,000 PUT requests; $0.0004 per 1,000 GET (and HEAD) requests;
  storage $0.023 per GB-month (first 50 TB). https://aws.amazon.com/s3/pricing/
- Amazon EventBridge, custom events: $1.00 per million events published (each 64 KB chunk of an
  entry is one event). https://aws.amazon.com/eventbridge/pricing/
"""

from __future__ import annotations

MILLION = 1_000_000

HTTP_API_REQUEST_USD = 1.00 / MILLION
HTTP_API_METERING_BYTES = 512 * 1024

LAMBDA_REQUEST_USD = 0.20 / MILLION
LAMBDA_ARM_GB_SECOND_USD = 0.0000133334

SQS_REQUEST_USD = 0.40 / MILLION
SQS_CHUNK_BYTES = 64 * 1024

DYNAMODB_WRITE_UNIT_USD = 0.625 / MILLION
DYNAMODB_READ_UNIT_USD = 0.125 / MILLION

SECRETS_MANAGER_CALL_USD = 0.05 / 10_000

S3_PUT_USD = 0.005 / 1000
S3_GET_USD = 0.0004 / 1000
S3_STANDARD_GB_MONTH_USD = 0.023

EVENTBRIDGE_EVENT_USD = 1.00 / MILLION

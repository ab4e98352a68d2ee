"""schemathesis hooks for scripts/fuzz-api: the API's rules OpenAPI cannot state."""

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

# Refusals of schema-valid values that break a rule between parameters (or
# between a parameter and what is stored), which no schema can state; each is
# known by the server's message.
CROSS_PARAMETER_RULES = [
    # `from` after `to` (GET /items/{name}/samples, GET /series/data).
    b"is after to",
    # GET /series/data: more points than an answer holds for the range ...
    b"points an answer holds; use a step of at least",
    # ... `step` and `points` together, `agg` without either ...
    b"not both",
    b"agg aggregates values in time buckets",
    # ... an aggregate of a stored text or boolean field, raw buckets of expired data.
    b"aggregates need a numeric field",
    b"has expired (store.retention_days)",
]


@schemathesis.hook
def filter_failure(context, failure, case, response):
    known = (
        isinstance(failure, RejectedPositiveData)
        and response.status_code == 400
        and any(rule in response.content for rule in CROSS_PARAMETER_RULES)
    )
    # /query's `q` is InfluxQL: a schema can say it is a non-blank string, not
    # that it parses. Only the parser's own refusal is accepted.
    not_influxql = (
        isinstance(failure, RejectedPositiveData)
        and response.status_code == 400
        and case.path == "/query"
        and b"error parsing query" in response.content
    )
    # The write endpoints' body is line protocol (a string to a schema) and
    # `db`/`bucket` name a configured source: the parser's refusal and the
    # unknown database are the answers InfluxDB gives too.
    not_line_protocol = (
        isinstance(failure, RejectedPositiveData)
        and response.status_code in (400, 404)
        and case.path in ("/write", "/api/v2/write")
        and (b"unable to parse" in response.content or b"not found" in response.content)
    )
    # `/ingest/{source}` takes any bytes; the source's decoder decides what it
    # holds, and says so with a 400 (the payload kept aside).
    not_decodable = (
        isinstance(failure, RejectedPositiveData)
        and response.status_code == 400
        and case.path == "/ingest/{source}"
        and b"kept aside" in response.content
    )
    # POST /devicedata: a reading's time the schema admits but the store
    # cannot take (older than retention, beyond InfluxDB's range) is refused
    # by the json decoder, the reading kept aside.
    not_storable = (
        isinstance(failure, RejectedPositiveData)
        and response.status_code == 400
        and case.path == "/devicedata"
        and (b"kept aside" in response.content or b"older than the store keeps" in response.content)
    )
    return not (known or not_influxql or not_line_protocol or not_decodable or not_storable)

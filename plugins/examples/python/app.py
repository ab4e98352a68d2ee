"""WIT glue of the httpjson plugin: `describe` and `sample` on top of httpjson.py.

componentize-py generates the `wit_world` package from the WIT world `collector`
at build time. The exported interface `sampling` is a class named `Sampling`
whose methods are the interface's functions; a function returning
`result<T, E>` returns T or raises `componentize_py_types.Err(E)`, and an
imported function returning a result raises `Err(cap-error)` the same way.

Nothing runs at import time: componentize-py imports this module while building
(pre-initialization), when no host is there to call.
"""

from typing import List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, http
from wit_world.imports.types import (
    ArgInfo,
    CapError_Invalid,
    CapError_NotGranted,
    CapError_Timeout,
    CapError_Unavailable,
    Field,
    FieldValue_Boolean,
    FieldValue_Float,
    FieldValue_Int,
    FieldValue_Text,
    FieldValue_Uint,
    KeyInfo,
    PluginInfo,
    Point,
    SampleError_BadArgument,
    SampleError_Failed,
    SampleError_Timeout,
    SampleError_Unavailable,
    Tag,
)

import httpjson

VERSION = "0.1.0"

FIELD_VALUES = {
    "int": FieldValue_Int,
    "uint": FieldValue_Uint,
    "float": FieldValue_Float,
    "boolean": FieldValue_Boolean,
    "text": FieldValue_Text,
}
SAMPLE_ERRORS = {
    "bad-argument": SampleError_BadArgument,
    "unavailable": SampleError_Unavailable,
    "timeout": SampleError_Timeout,
    "failed": SampleError_Failed,
}
CAP_ERRORS = {
    CapError_NotGranted: "not-granted",
    CapError_Invalid: "invalid",
    CapError_Unavailable: "unavailable",
    CapError_Timeout: "timeout",
}


class Sampling(exports.Sampling):
    def describe(self) -> PluginInfo:
        return PluginInfo(
            name=httpjson.PLUGIN,
            version=VERSION,
            description="Values from any JSON document served over HTTP, selected by JSON pointers "
            "(an example plugin written in Python)",
            keys=[
                KeyInfo(
                    name=httpjson.KEY,
                    description="GETs the URL and returns the values the JSON pointers select, "
                    "as fields of measurement httpjson tagged with the url: "
                    "numbers as int or float, booleans as boolean, strings as text",
                    arg=ArgInfo(description=httpjson.ARG_HELP, required=True),
                    unit="",
                )
            ],
        )

    def sample(self, key: str, arg: Optional[str]) -> List[Point]:
        try:
            return sample(key, arg)
        except Err:
            raise
        except Exception as e:  # a bug must not trap: report it as the item's error
            raise Err(SampleError_Failed(f"httpjson internal error: {type(e).__name__}: {e}"))


def sample(key: str, arg: Optional[str]) -> List[Point]:
    if key != httpjson.KEY:
        raise Err(SampleError_BadArgument(f"unknown key {key!r}; the httpjson plugin serves {httpjson.KEY}"))
    try:
        target = httpjson.parse_arg(arg)
    except httpjson.ArgError as e:
        raise Err(SampleError_BadArgument(str(e)))

    request = http.Request(
        method="GET",
        url=target.url,
        headers=[http.Header("Accept", "application/json")],
        body=None,
        timeout_ms=None,  # the host's default (5 s unless configured)
    )
    try:
        response = http.send(request)
    except Err as e:
        kind, text = httpjson.cap_error(CAP_ERRORS.get(type(e.value), "failed"), e.value.value, target)
        raise Err(SAMPLE_ERRORS[kind](text))
    host.log(host.Level.DEBUG, f"GET {target.url}: HTTP {response.status}, {len(response.body)} bytes")

    try:
        fields = httpjson.extract(response.status, response.body, target)
    except httpjson.DataError as e:
        raise Err(SampleError_Failed(str(e)))
    return [
        Point(
            measurement=httpjson.MEASUREMENT,
            tags=[Tag(key="url", value=target.url)],
            fields=[Field(name, FIELD_VALUES[kind](value)) for name, kind, value in fields],
            timestamp_ns=None,  # the host stamps the point with the tick time
        )
    ]


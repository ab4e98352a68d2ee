"""The {{name}} plugin: a datalogger collector written in Python.

componentize-py builds this module into a WebAssembly component for the WIT
world `collector` (wit/datalogger.wit). The exported interface `sampling` is
the class `Sampling` below; a WIT `result` is a return value or a raised
`Err(...)`. Nothing may run at import time: the module is imported while
building, when there is no host to call.
"""

from typing import List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import (
    Field,
    FieldValue_Float,
    KeyInfo,
    PluginInfo,
    Point,
    SampleError_BadArgument,
)

NAME = "{{name}}"
VERSION = "0.1.0"


class Sampling(exports.Sampling):
    def describe(self) -> PluginInfo:
        return PluginInfo(
            name=NAME,
            version=VERSION,
            description="Says hello",
            keys=[KeyInfo(name=f"{NAME}.hello", description="Always 1.0", arg=None, unit="")],
        )

    def sample(self, key: str, arg: Optional[str]) -> List[Point]:
        if key != f"{NAME}.hello":
            raise Err(SampleError_BadArgument(f"unknown key {key!r}; the {NAME} plugin serves {NAME}.hello"))
        host.log(host.Level.INFO, f"hello from {NAME}")
        return [
            Point(
                measurement=NAME,
                tags=[],
                fields=[Field(name="value", value=FieldValue_Float(1.0))],
                timestamp_ns=None,  # the host stamps the point with the tick time
            )
        ]

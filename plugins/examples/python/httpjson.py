"""The logic of the httpjson plugin, free of WIT bindings so that it runs and is
unit-tested with a plain Python (`python3 -m unittest test_httpjson`).

The item's arg is an http:// URL whose fragment lists what to take from the JSON
document the URL returns, as RFC 6901 JSON pointers, each optionally renamed:

    http://192.168.1.20/status#/sensors/0/temp=temperature,/uptime,/ok

  * `/sensors/0/temp=temperature` -> field `temperature`
  * `/uptime`                     -> field `uptime` (the last segment)
  * `/sensors/0`                  -> field `sensors_0` (an array index is joined to its parent)
  * no fragment (or `#`)          -> the whole document, field `value`

Pointers and names are percent-decoded after splitting on `,` and `=`, so
`%2C`, `%3D`, `%23` and `%20` stand for a comma, `=`, `#` and a space; inside a
pointer `~1` is `/` and `~0` is `~` (RFC 6901). The fragment is never sent.
"""

import json
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple
from urllib.parse import unquote, urlsplit

PLUGIN = "httpjson"
KEY = "httpjson.value"
MEASUREMENT = "httpjson"

EXAMPLE = "http://192.168.1.20/status#/sensors/0/temp=temperature,/uptime"
ARG_HELP = (
    "an http:// URL with the JSON values to take in its fragment, as JSON pointers "
    "separated by ',' and each optionally renamed with '=name', e.g. " + EXAMPLE
)

# How much of a response body an error message quotes.
SNIPPET_CHARS = 200
# How many member names an error message lists.
LISTED_MEMBERS = 10

_INDEX = re.compile(r"0|[1-9][0-9]*")


class ArgError(Exception):
    """The item's arg is malformed: `sample-error::bad-argument`."""


class DataError(Exception):
    """The response is not what the arg asks for: `sample-error::failed`."""


@dataclass
class Selector:
    pointer: str  # as the operator wrote it (percent-decoded)
    tokens: List[str]  # the pointer's reference tokens, unescaped
    name: str  # the field name


@dataclass
class Target:
    url: str  # without the fragment: what is requested, and the `url` tag
    selectors: List[Selector]


# ---------------------------------------------------------------- the arg


def parse_arg(arg: Optional[str]) -> Target:
    text = (arg or "").strip()
    if not text:
        raise ArgError("missing arg: expected " + ARG_HELP)
    url, hash_sign, fragment = text.partition("#")
    if any(c.isspace() for c in url):
        raise ArgError(f"the URL {url!r} contains white space; encode it as %20. Expected " + ARG_HELP)
    parts = urlsplit(url)
    if parts.scheme.lower() == "https":
        raise ArgError(f"{url!r}: https is not supported (the host's http capability speaks plain HTTP); use http://")
    if parts.scheme.lower() != "http" or not parts.netloc:
        raise ArgError(f"{url!r} is not an http:// URL; expected " + ARG_HELP)
    if not fragment.strip():
        return Target(url, [Selector("", [], "value")])

    selectors: List[Selector] = []
    for n, part in enumerate(fragment.split(","), 1):
        part = part.strip()
        if not part:
            raise ArgError(f"pointer {n} in {'#' + fragment!r} is empty (a stray ','?); expected " + ARG_HELP)
        raw_pointer, equals, raw_name = part.partition("=")
        pointer = _decode(raw_pointer.strip(), "pointer")
        tokens = parse_pointer(pointer)
        if equals:
            name = _decode(raw_name.strip(), "field name")
            if not name:
                raise ArgError(f"{part!r}: the field name after '=' is empty")
        else:
            name = default_name(tokens)
        for other in selectors:
            if other.name == name:
                raise ArgError(
                    f"field name {name!r} is used twice (by {other.pointer or '#'} and {pointer or '#'}); "
                    f"name one explicitly, e.g. {pointer}={name}_2"
                )
        selectors.append(Selector(pointer, tokens, name))
    return Target(url, selectors)


def _decode(text: str, what: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise ArgError(f"the {what} {text!r} has a %-escape that is not UTF-8") from None


def parse_pointer(pointer: str) -> List[str]:
    """The reference tokens of an RFC 6901 JSON pointer ("" is the whole document)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ArgError(f"{pointer!r} is not a JSON pointer: it must start with '/', e.g. #/{pointer}")
    tokens = []
    for token in pointer[1:].split("/"):
        if re.search(r"~(?![01])", token):
            raise ArgError(f"{pointer!r}: '~' must be followed by 0 ('~') or 1 ('/') in a JSON pointer")
        tokens.append(token.replace("~1", "/").replace("~0", "~"))
    return tokens


def default_name(tokens: List[str]) -> str:
    """The last token; an array index is joined to its parent (`sensors_0`)."""
    if not tokens or tokens[-1] == "":
        return "value"
    last = tokens[-1]
    if _INDEX.fullmatch(last) and len(tokens) > 1 and tokens[-2] != "":
        return f"{tokens[-2]}_{last}"
    return last


# ---------------------------------------------------------------- the response


def snippet(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if not text:
        return "(empty body)"
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS] + "..."
    return repr(text)


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_response(status: int, body: bytes, url: str):
    """The JSON document of a response, or DataError for a non-2xx status or a body that is not JSON."""
    if not 200 <= status <= 299:
        raise DataError(f"GET {url} returned HTTP {status}: {snippet(body)}")
    if not body.strip():
        raise DataError(f"GET {url} returned HTTP {status} with an empty body, not JSON")
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DataError(f"the response of GET {url} is not JSON ({e}): {snippet(body)}") from None


def _kind(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array"}.get(
        type(value), type(value).__name__
    )


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _prefix(tokens: List[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens) or "the document root"


def resolve(doc, sel: Selector, url: str):
    """The value `sel` points at, or DataError naming the pointer and what is there instead."""
    value = doc
    for i, token in enumerate(sel.tokens):
        where = _prefix(sel.tokens[:i])
        missing = f"{sel.pointer} is not in the response of GET {url}"
        if isinstance(value, dict):
            if token not in value:
                members = list(value)
                listed = ", ".join(repr(m) for m in members[:LISTED_MEMBERS])
                if len(members) > LISTED_MEMBERS:
                    listed += f", ... ({len(members)} in all)"
                raise DataError(
                    f"{missing}: {where} has no member {token!r} (its members: {listed or 'none'})"
                )
            value = value[token]
        elif isinstance(value, list):
            if not _INDEX.fullmatch(token):
                raise DataError(f"{missing}: {where} is an array and {token!r} is not an index")
            if int(token) >= len(value):
                raise DataError(f"{missing}: {where} is an array of {len(value)}, so index {token} is out of range")
            value = value[int(token)]
        else:
            raise DataError(f"{missing}: {where} is {_a(_kind(value))} ({_short(value)}), not an object or array")
    return value


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:40] + "..."


def to_field(value, sel: Selector, url: str) -> Tuple[str, object]:
    """(kind, value) with kind one of int, uint, float, boolean, text."""
    where = f"{sel.pointer or 'the document'} in the response of GET {url}"
    if isinstance(value, bool):  # before int: bool is an int in Python
        return ("boolean", value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return ("int", value)
        if 0 <= value < 2**64:
            return ("uint", value)
        raise DataError(f"{where} is {value}, which does not fit a 64-bit integer")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DataError(f"{where} is a number too large for a 64-bit float")
        return ("float", value)
    if isinstance(value, str):
        return ("text", value)
    if value is None:
        raise DataError(f"{where} is null: the device reports no value there")
    hint = f"point at one of its members, e.g. {sel.pointer}/" + ("0" if isinstance(value, list) else "<member>")
    raise DataError(f"{where} is {_a(_kind(value))} ({_short(value)}), not a number, boolean or string; {hint}")


def extract(status: int, body: bytes, target: Target) -> List[Tuple[str, str, object]]:
    """(field name, kind, value) for each selector, in the arg's order."""
    doc = parse_response(status, body, target.url)
    fields = []
    for sel in target.selectors:
        kind, value = to_field(resolve(doc, sel, target.url), sel, target.url)
        fields.append((sel.name, kind, value))
    return fields


# ---------------------------------------------------------------- capability errors


def cap_error(kind: str, message: str, target: Target) -> Tuple[str, str]:
    """Maps a `cap-error` case (kind in not-granted, invalid, unavailable, timeout,
    failed) of the http capability to a `sample-error` case and its text. The
    host's message is kept verbatim."""
    if kind == "not-granted":
        host = urlsplit(target.url).hostname or "<host>"
        hint = f'(httpjson needs "http" for the URL\'s host: "plugins": {{"{PLUGIN}": {{"http": ["{host}"]}}}})'
        return ("unavailable", f"{message} {hint}")
    if kind == "invalid":
        return ("bad-argument", message)
    if kind in ("unavailable", "timeout"):
        return (kind, message)
    return ("failed", message)

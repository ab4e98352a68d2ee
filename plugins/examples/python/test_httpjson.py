"""Unit tests of httpjson.py with a plain Python: python3 -m unittest test_httpjson"""

import json
import unittest

from httpjson import ArgError, DataError, cap_error, extract, parse_arg


def fields(arg, doc, status=200):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return extract(status, body, parse_arg(arg))


class ParseArg(unittest.TestCase):
    def test_url_and_pointers(self):
        t = parse_arg(" http://10.0.0.5:8080/api/status?x=1#/sensors/0/temp=temperature, /uptime ,/a~1b~0c ")
        self.assertEqual(t.url, "http://10.0.0.5:8080/api/status?x=1")
        self.assertEqual([s.pointer for s in t.selectors], ["/sensors/0/temp", "/uptime", "/a~1b~0c"])
        self.assertEqual([s.tokens for s in t.selectors], [["sensors", "0", "temp"], ["uptime"], ["a/b~c"]])
        self.assertEqual([s.name for s in t.selectors], ["temperature", "uptime", "a/b~c"])

    def test_default_names(self):
        names = lambda frag: [s.name for s in parse_arg("http://h/#" + frag).selectors]  # noqa: E731
        self.assertEqual(names("/sensors/0"), ["sensors_0"])
        self.assertEqual(names("/0"), ["0"])
        self.assertEqual(names("/a/"), ["value"])
        self.assertEqual(names("/a/01"), ["01"])
        self.assertEqual(parse_arg("http://h/x").selectors[0].name, "value")
        self.assertEqual(parse_arg("http://h/x#").selectors[0].tokens, [])

    def test_percent_decoding(self):
        t = parse_arg("http://h/#/a%2Cb%3Dc%20d=my%20name")
        self.assertEqual(t.selectors[0].tokens, ["a,b=c d"])
        self.assertEqual(t.selectors[0].name, "my name")

    def test_bad_args(self):
        for arg, needle in [
            (None, "missing arg"),
            ("  ", "missing arg"),
            ("https://h/#/a", "https is not supported"),
            ("ftp://h/", "not an http:// URL"),
            ("/status#/a", "not an http:// URL"),
            ("http:///x#/a", "not an http:// URL"),
            ("http://h/a b#/a", "white space"),
            ("http://h/#a/b", "must start with '/'"),
            ("http://h/#/a~2", "'~' must be followed"),
            ("http://h/#/a,,/b", "pointer 2"),
            ("http://h/#/a=", "field name after '=' is empty"),
            ("http://h/#/x/a,/y/a", "field name 'a' is used twice"),
            ("http://h/#/%ff", "not UTF-8"),
        ]:
            with self.subTest(arg=arg):
                with self.assertRaises(ArgError) as e:
                    parse_arg(arg)
                self.assertIn(needle, str(e.exception))
                if needle in ("missing arg", "not an http:// URL"):
                    self.assertIn("e.g. http://", str(e.exception))


class Extract(unittest.TestCase):
    DOC = {
        "sensors": [{"temp": 21.5, "id": "a"}, {"temp": -3, "id": "b"}],
        "uptime": 12345,
        "ok": True,
        "name": "boiler room",
        "big": 2**63,
        "none": None,
        "a/b": {"~": 1},
    }

    def test_types(self):
        got = fields(
            "http://h/#/sensors/0/temp=t0,/sensors/1/temp=t1,/uptime,/ok,/name,/big,/a~1b/~0=tilde,/sensors/1/id",
            self.DOC,
        )
        self.assertEqual(
            got,
            [
                ("t0", "float", 21.5),
                ("t1", "int", -3),
                ("uptime", "int", 12345),
                ("ok", "boolean", True),
                ("name", "text", "boiler room"),
                ("big", "uint", 2**63),
                ("tilde", "int", 1),
                ("id", "text", "b"),
            ],
        )
        # 1.0 stays a float, 1 an int: the JSON text decides.
        self.assertEqual(fields("http://h/#/a,/b", b'{"a": 1.0, "b": 1}'), [("a", "float", 1.0), ("b", "int", 1)])

    def test_whole_document(self):
        self.assertEqual(fields("http://h/", 42), [("value", "int", 42)])
        self.assertEqual(fields("http://h/", b" false\n"), [("value", "boolean", False)])

    def test_missing_paths(self):
        for frag, needle in [
            ("/sensors/2/temp", "/sensors is an array of 2, so index 2 is out of range"),
            ("/sensors/x", "/sensors is an array and 'x' is not an index"),
            ("/sensors/0/hum", "/sensors/0 has no member 'hum' (its members: 'temp', 'id')"),
            ("/nope", "the document root has no member 'nope'"),
            ("/uptime/x", "/uptime is an integer (12345), not an object or array"),
            ("/a~1b/x", "/a~1b has no member 'x' (its members: '~')"),
        ]:
            with self.subTest(frag=frag):
                with self.assertRaises(DataError) as e:
                    fields("http://h/s#" + frag, self.DOC)
                msg = str(e.exception)
                self.assertIn(frag + " is not in the response of GET http://h/s", msg)
                self.assertIn(needle, msg)

    def test_values_that_are_not_fields(self):
        for frag, needle in [
            ("/none", "/none in the response of GET http://h/ is null"),
            ("/sensors", "is an array ([{"),
            ("/sensors/0", "is an object"),
            ("/sensors", "e.g. /sensors/0"),
        ]:
            with self.subTest(frag=frag):
                with self.assertRaises(DataError) as e:
                    fields("http://h/#" + frag, self.DOC)
                self.assertIn(needle, str(e.exception))
        with self.assertRaises(DataError) as e:
            fields("http://h/#/x", b'{"x": 1e999}')
        self.assertIn("too large for a 64-bit float", str(e.exception))
        with self.assertRaises(DataError) as e:
            fields("http://h/#/x", b'{"x": 18446744073709551616}')
        self.assertIn("does not fit a 64-bit integer", str(e.exception))

    def test_http_status_and_bad_json(self):
        with self.assertRaises(DataError) as e:
            fields("http://h/s#/a", b"<html>\n  Internal   error " + b"x" * 500, status=500)
        msg = str(e.exception)
        self.assertIn("GET http://h/s returned HTTP 500: '<html> Internal error xxx", msg)
        self.assertTrue(msg.endswith("...'"), msg)
        self.assertLess(len(msg), 300)
        for status in (199, 301, 404):
            with self.assertRaises(DataError) as e:
                fields("http://h/#/a", b"", status=status)
            self.assertIn(f"HTTP {status}: (empty body)", str(e.exception))
        for body, needle in [
            (b"<html>", "is not JSON (Expecting value"),
            (b'{"a": NaN}', "NaN is not valid JSON"),
            (b'{"a": 1', "is not JSON"),
            (b"\xff\xfe{", "is not JSON"),
            (b"[" * 100000, "is not JSON"),
            (b"  ", "empty body, not JSON"),
        ]:
            with self.subTest(body=body[:10]):
                with self.assertRaises(DataError) as e:
                    fields("http://h/#/a", body)
                self.assertIn(needle, str(e.exception))


class CapErrors(unittest.TestCase):
    def test_mapping_keeps_the_host_message(self):
        t = parse_arg("http://10.1.2.3:8080/x#/a")
        kind, text = cap_error("not-granted", "capability not granted to plugin httpjson: http to 10.1.2.3:8080", t)
        self.assertEqual(kind, "unavailable")
        self.assertTrue(text.startswith("capability not granted to plugin httpjson: http to 10.1.2.3:8080 "), text)
        self.assertIn('"plugins": {"httpjson": {"http": ["10.1.2.3"]}}', text)
        self.assertEqual(cap_error("invalid", "m1", t), ("bad-argument", "m1"))
        self.assertEqual(cap_error("unavailable", "m2", t), ("unavailable", "m2"))
        self.assertEqual(cap_error("timeout", "m3", t), ("timeout", "m3"))
        self.assertEqual(cap_error("failed", "m4", t), ("failed", "m4"))


if __name__ == "__main__":
    unittest.main()

// Unit tests of the plugin's logic under Node: `npm test` (build.sh runs them).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  PLUGIN_INFO,
  SampleError,
  asSampleError,
  checkFields,
  countLines,
  countWords,
  crc32,
  fromCapError,
  header,
  jsonStats,
  parseCheckArg,
  parseJsonStatsArg,
  point,
  statusError,
} from '../src/logic.js';

const bytes = (s) => new TextEncoder().encode(s);
const fieldsOf = (fields) => Object.fromEntries(fields.map(([name, v]) => [name, v]));

/** Runs `f`, which must throw a SampleError with `tag`; returns its message. */
function rejects(f, tag) {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SampleError, `not a SampleError: ${e}`);
    assert.equal(e.payload.tag, tag, e.message);
    assert.ok(Object.prototype.hasOwnProperty.call(e, 'payload'), 'payload must be an own property');
    return e.payload.val;
  }
  assert.fail(`expected a ${tag} error`);
}

test('describe: every key starts with the plugin name and takes an arg', () => {
  assert.equal(PLUGIN_INFO.name, 'webstats');
  assert.match(PLUGIN_INFO.version, /^\d+\.\d+\.\d+$/);
  for (const key of PLUGIN_INFO.keys) {
    assert.ok(key.name.startsWith('webstats.'), key.name);
    assert.equal(key.arg.required, true);
  }
});

test('check arg: an http URL, trimmed', () => {
  assert.equal(parseCheckArg(' http://127.0.0.1:8080/x?y=1 '), 'http://127.0.0.1:8080/x?y=1');
  assert.match(rejects(() => parseCheckArg(undefined), 'bad-argument'), /needs the URL/);
  assert.match(rejects(() => parseCheckArg('  '), 'bad-argument'), /needs the URL/);
  assert.match(rejects(() => parseCheckArg('https://example.org/'), 'bad-argument'), /plain http/);
  assert.match(rejects(() => parseCheckArg('ftp://x/'), 'bad-argument'), /not an http:\/\/ URL/);
  assert.match(rejects(() => parseCheckArg('http://'), 'bad-argument'), /not an http:\/\/ URL/);
  assert.match(rejects(() => parseCheckArg('http://a/ b'), 'bad-argument'), /spaces/);
});

test('json_stats arg: URL and dotted property', () => {
  assert.deepEqual(parseJsonStatsArg('http://h/r.json  sensor.temp'), {
    url: 'http://h/r.json',
    property: 'sensor.temp',
    path: ['sensor', 'temp'],
  });
  rejects(() => parseJsonStatsArg(undefined), 'bad-argument');
  rejects(() => parseJsonStatsArg('http://h/r.json'), 'bad-argument');
  rejects(() => parseJsonStatsArg('http://h/r.json a b'), 'bad-argument');
  assert.match(rejects(() => parseJsonStatsArg('http://h/r.json a..b'), 'bad-argument'), /empty part/);
  rejects(() => parseJsonStatsArg('h/r.json temp'), 'bad-argument');
});

test('lines count a last line without a newline', () => {
  assert.equal(countLines(bytes('')), 0);
  assert.equal(countLines(bytes('a')), 1);
  assert.equal(countLines(bytes('a\n')), 1);
  assert.equal(countLines(bytes('a\nb')), 2);
  assert.equal(countLines(bytes('\n\n')), 2);
});

test('words split on any whitespace, UTF-8 aware', () => {
  assert.equal(countWords(bytes('')), 0);
  assert.equal(countWords(bytes('  one\ttwo\r\nthree  ')), 3);
  assert.equal(countWords(bytes('température 21,5 °C')), 3);
  assert.equal(countWords(new Uint8Array([0xff, 0x20, 0x61])), 2);
});

test('crc32 matches the standard check values', () => {
  assert.equal(crc32(bytes('')), '00000000');
  assert.equal(crc32(bytes('123456789')), 'cbf43926');
  assert.equal(crc32(bytes('The quick brown fox jumps over the lazy dog')), '414fa339');
});

test('check fields, status first, typed', () => {
  const response = {
    status: 404,
    headers: [{ name: 'content-TYPE', value: ' text/html ' }],
    body: bytes('<h1>Not Found</h1>\nnothing here'),
  };
  const fields = checkFields(response, 1.5);
  assert.equal(fields[0][0], 'status');
  assert.deepEqual(fieldsOf(fields), {
    status: { tag: 'int', val: 404n },
    ok: { tag: 'boolean', val: false },
    elapsed_ms: { tag: 'float', val: 1.5 },
    bytes: { tag: 'int', val: 31n },
    lines: { tag: 'int', val: 2n },
    words: { tag: 'int', val: 4n },
    crc32: { tag: 'text', val: crc32(response.body) },
    content_type: { tag: 'text', val: 'text/html' },
  });
  const ok = fieldsOf(checkFields({ status: 204, headers: [], body: new Uint8Array() }, 0));
  assert.deepEqual(ok.ok, { tag: 'boolean', val: true });
  assert.deepEqual(ok.content_type, { tag: 'text', val: '' });
  assert.equal(header([{ name: 'A', value: 'x' }], 'b'), undefined);
});

test('json stats over a property, skipping what is not a number', () => {
  const body = JSON.stringify([
    { sensor: { temp: 20 } },
    { sensor: { temp: 23.5 } },
    { sensor: { temp: '21' } },
    { sensor: null },
    { other: 1 },
    7,
    { sensor: { temp: -1.5 } },
  ]);
  assert.deepEqual(fieldsOf(jsonStats(body, ['sensor', 'temp'], 'GET u')), {
    mean: { tag: 'float', val: 14 },
    min: { tag: 'float', val: -1.5 },
    max: { tag: 'float', val: 23.5 },
    sum: { tag: 'float', val: 42 },
    count: { tag: 'int', val: 3n },
    skipped: { tag: 'int', val: 4n },
  });
  assert.equal(jsonStats('[{"v": 2}]', ['v'], 'GET u')[0][0], 'mean');
});

test('json stats errors', () => {
  assert.match(rejects(() => jsonStats('<html>', ['v'], 'GET u'), 'failed'), /GET u did not answer JSON/);
  assert.match(rejects(() => jsonStats('{"v": 1}', ['v'], 'GET u'), 'failed'), /JSON object, not an array/);
  assert.match(rejects(() => jsonStats('null', ['v'], 'GET u'), 'failed'), /JSON null/);
  assert.match(rejects(() => jsonStats('[]', ['v'], 'GET u'), 'unavailable'), /empty array/);
  assert.match(rejects(() => jsonStats('[{"v": "x"}]', ['v'], 'GET u'), 'failed'), /none of the 1 elements/);
});

test('cap errors keep the host text and map their kind', () => {
  const capError = (tag, val) => Object.assign(new Error('x'), { payload: { tag, val } });
  const granted = 'capability not granted to plugin webstats: http to 10.1.2.3:80; grant it ...';
  assert.deepEqual(fromCapError(capError('not-granted', granted)).payload, { tag: 'unavailable', val: granted });
  assert.equal(fromCapError(capError('invalid', 'bad url')).payload.tag, 'bad-argument');
  assert.equal(fromCapError(capError('unavailable', 'refused')).payload.tag, 'unavailable');
  assert.equal(fromCapError(capError('timeout', 'slow')).payload.tag, 'timeout');
  assert.equal(fromCapError(capError('failed', 'too big')).payload.tag, 'failed');
  const bug = asSampleError(new TypeError('x is undefined'));
  assert.equal(bug.payload.tag, 'failed');
  assert.match(bug.payload.val, /TypeError: x is undefined/);
  assert.equal(fromCapError(new RangeError('r')).payload.tag, 'failed');
});

test('a non-2xx answer is unavailable, with the start of its body', () => {
  const e = statusError('http://h/x', { status: 503, headers: [], body: bytes('busy\n') });
  assert.deepEqual(e.payload, {
    tag: 'unavailable',
    val: 'GET http://h/x answered HTTP 503 ("busy"); check the URL and that the service is up',
  });
});

test('points are stamped by the host', () => {
  assert.deepEqual(point({ url: 'u' }, [['status', { tag: 'int', val: 200n }]]), {
    measurement: 'webstats',
    tags: [{ key: 'url', value: 'u' }],
    fields: [{ name: 'status', value: { tag: 'int', val: 200n } }],
    timestampNs: undefined,
  });
});

// The plugin's logic: argument parsing, the statistics, the error mapping and
// the shapes of the WIT values. Nothing here calls the host, so it runs under
// Node as it is (`npm test`); `webstats.js` is the thin layer that does.

export const NAME = 'webstats';
export const VERSION = '0.1.0';
export const MEASUREMENT = 'webstats';

/** What `describe()` returns (WIT `plugin-info`; kebab-case names become camelCase). */
export const PLUGIN_INFO = {
  name: NAME,
  version: VERSION,
  description: 'Checks web endpoints over HTTP: status, size and checksum of a page, '
    + 'or statistics of a number in a JSON array (written in JavaScript)',
  keys: [
    {
      name: `${NAME}.check`,
      description: 'GET a URL and describe the answer: status (primary), ok, elapsed_ms, bytes, '
        + 'lines, words, crc32, content_type. Any HTTP status is a sample, 404 and 500 included',
      arg: { description: 'http:// URL to fetch, e.g. http://192.168.1.20/status', required: true },
      unit: '',
    },
    {
      name: `${NAME}.json_stats`,
      description: 'GET a JSON array and compute mean (primary), min, max, sum, count and skipped '
        + 'of a numeric property of its elements',
      arg: {
        description: 'http:// URL of a JSON array, a space, then the property (dots reach into '
          + 'nested objects), e.g. "http://10.0.0.5/readings.json sensor.temp"',
        required: true,
      },
      unit: '',
    },
  ],
};

// ------------------------------------------------------------------ errors

/**
 * A `sample-error`. componentize-js turns an exception that has its own
 * `payload` property into the `err` case of the export's `result`, with the
 * payload as the variant value; any other exception would trap.
 */
export class SampleError extends Error {
  /** @param {'bad-argument'|'unavailable'|'timeout'|'failed'} tag */
  constructor(tag, message) {
    super(`${tag}: ${message}`);
    this.payload = { tag, val: message };
  }
}

/**
 * Maps what a failed host call threw to a `SampleError`. Imported functions
 * that return `result<_, cap-error>` throw an error whose `payload` is the
 * `cap-error` variant, e.g. `{tag: 'not-granted', val: 'capability not granted ...'}`.
 * The host's text is kept verbatim: it already names the plugin, the target
 * and what to do.
 */
export function fromCapError(e) {
  const payload = e && e.payload;
  if (!payload || typeof payload.tag !== 'string') {
    return asSampleError(e);
  }
  const message = String(payload.val);
  switch (payload.tag) {
    case 'not-granted': return new SampleError('unavailable', message);
    // The URL came from the item's arg, so a request the host rejects is a bad argument.
    case 'invalid': return new SampleError('bad-argument', message);
    case 'unavailable': return new SampleError('unavailable', message);
    case 'timeout': return new SampleError('timeout', message);
    default: return new SampleError('failed', message);
  }
}

/** Any exception as a `SampleError`, so that a bug reports `failed` instead of trapping. */
export function asSampleError(e) {
  if (e instanceof SampleError) return e;
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new SampleError('failed', `${NAME} ${VERSION}: unexpected error: ${what}`);
}

// ------------------------------------------------------------------ WIT values

export const float = (x) => ({ tag: 'float', val: Number(x) });
/** `s64` is a BigInt on the JS side. */
export const int = (n) => ({ tag: 'int', val: BigInt(n) });
export const bool = (b) => ({ tag: 'boolean', val: Boolean(b) });
export const text = (s) => ({ tag: 'text', val: String(s) });

/** A `point` stamped by the host with the tick time (`timestamp-ns: none`). */
export function point(tags, fields) {
  return {
    measurement: MEASUREMENT,
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    fields: fields.map(([name, value]) => ({ name, value })),
    timestampNs: undefined,
  };
}

// ------------------------------------------------------------------ arguments

const EXAMPLE_URL = 'http://192.168.1.20/status';

function checkUrl(key, url) {
  if (/^https:\/\//i.test(url)) {
    throw new SampleError('bad-argument',
      `${key}: ${JSON.stringify(url)} is https; the host's http capability speaks plain http:// only`);
  }
  if (!/^http:\/\/[^\s/?#]+/i.test(url)) {
    throw new SampleError('bad-argument',
      `${key}: ${JSON.stringify(url)} is not an http:// URL; expected e.g. ${EXAMPLE_URL}`);
  }
  return url;
}

/** The URL of `webstats.check`. */
export function parseCheckArg(arg) {
  const key = `${NAME}.check`;
  const url = (arg ?? '').trim();
  if (url === '') {
    throw new SampleError('bad-argument', `${key} needs the URL to fetch as its arg, e.g. ${EXAMPLE_URL}`);
  }
  if (/\s/.test(url)) {
    throw new SampleError('bad-argument',
      `${key}: ${JSON.stringify(url)} contains spaces; the arg is one URL (encode spaces as %20)`);
  }
  return checkUrl(key, url);
}

/** `<url> <property>` of `webstats.json_stats`; the property is split at dots. */
export function parseJsonStatsArg(arg) {
  const key = `${NAME}.json_stats`;
  const usage = `expected "<url> <property>", e.g. "http://10.0.0.5/readings.json sensor.temp"`;
  const parts = (arg ?? '').trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 2) {
    throw new SampleError('bad-argument', `${key}: arg ${JSON.stringify(arg ?? '')}: ${usage}`);
  }
  const [url, property] = parts;
  const path = property.split('.');
  if (path.some((p) => p === '')) {
    throw new SampleError('bad-argument',
      `${key}: property ${JSON.stringify(property)} has an empty part; write e.g. sensor.temp`);
  }
  return { url: checkUrl(key, url), property, path };
}

// ------------------------------------------------------------------ page statistics

/** Value of header `name` (case-insensitive), or `undefined`. */
export function header(headers, name) {
  const wanted = name.toLowerCase();
  const found = headers.find((h) => h.name.toLowerCase() === wanted);
  return found ? found.value.trim() : undefined;
}

/** Lines of a body: its `\n` bytes, plus one for a last line without one. */
export function countLines(bytes) {
  let lines = 0;
  for (const b of bytes) {
    if (b === 0x0a) lines += 1;
  }
  if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) lines += 1;
  return lines;
}

/** Whitespace-separated words of the body read as UTF-8 (bad bytes become U+FFFD). */
export function countWords(bytes) {
  const textValue = new TextDecoder('utf-8').decode(bytes);
  return textValue.split(/\s+/).filter((w) => w !== '').length;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as in zlib, gzip and `cksum -a crc32b`) as 8 lowercase hex digits. */
export function crc32(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  }
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}

/** The fields of `webstats.check` for one response (WIT `http.response`). */
export function checkFields(response, elapsedMs) {
  const body = response.body;
  return [
    ['status', int(response.status)],
    ['ok', bool(response.status >= 200 && response.status <= 299)],
    ['elapsed_ms', float(elapsedMs)],
    ['bytes', int(body.length)],
    ['lines', int(countLines(body))],
    ['words', int(countWords(body))],
    ['crc32', text(crc32(body))],
    ['content_type', text(header(response.headers, 'content-type') ?? '')],
  ];
}

// ------------------------------------------------------------------ JSON statistics

function describeValue(v) {
  const shown = JSON.stringify(v);
  if (shown === undefined) return 'missing';
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
}

/**
 * Statistics of `path` over the elements of a JSON array (the response body
 * as text). Elements where the property is missing or not a finite number
 * are counted as `skipped`.
 */
export function jsonStats(bodyText, path, where) {
  const property = path.join('.');
  let data;
  try {
    data = JSON.parse(bodyText);
  } catch (e) {
    throw new SampleError('failed', `${where} did not answer JSON (${e.message}); `
      + `it starts with ${describeValue(bodyText.slice(0, 40))}`);
  }
  if (!Array.isArray(data)) {
    const kind = data === null ? 'null' : typeof data;
    throw new SampleError('failed', `${where} answered a JSON ${kind}, not an array; `
      + `${NAME}.json_stats needs a top-level array of objects`);
  }
  if (data.length === 0) {
    throw new SampleError('unavailable', `${where} answered an empty array: no ${property} values to compute`);
  }
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let firstBad;
  for (const element of data) {
    let v = element;
    for (const part of path) {
      v = v !== null && typeof v === 'object' && !Array.isArray(v) ? v[part] : undefined;
    }
    if (typeof v === 'number' && Number.isFinite(v)) {
      count += 1;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    } else if (firstBad === undefined) {
      firstBad = element;
    }
  }
  if (count === 0) {
    throw new SampleError('failed', `none of the ${data.length} elements from ${where} has a numeric `
      + `${JSON.stringify(property)} (the first is ${describeValue(firstBad)})`);
  }
  return [
    ['mean', float(sum / count)],
    ['min', float(min)],
    ['max', float(max)],
    ['sum', float(sum)],
    ['count', int(count)],
    ['skipped', int(data.length - count)],
  ];
}

/** A non-2xx answer where data was expected. */
export function statusError(url, response) {
  const snippet = new TextDecoder('utf-8').decode(response.body.subarray(0, 120)).trim();
  const shown = snippet === '' ? '' : ` (${describeValue(snippet)})`;
  return new SampleError('unavailable', `GET ${url} answered HTTP ${response.status}${shown}; `
    + 'check the URL and that the service is up');
}

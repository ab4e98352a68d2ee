// The component: the `sampling` export of world `collector` and the calls to
// the host. componentize-js maps the WIT to JavaScript like this:
//   - an imported interface is a module: `datalogger:plugin/http@0.1.1`;
//   - names become camelCase (`now-ns` -> `nowNs`, `timeout-ms` -> `timeoutMs`);
//   - `option<T>` is the value or `undefined`; `list<u8>` a Uint8Array;
//     `s64`/`u64` are BigInt; a variant is `{tag: 'kebab-case', val}`;
//   - an imported `result<T, E>` returns T or throws an error whose `payload` is E;
//   - the exported `result<T, E>`: return T, or throw an error with a `payload` E.
// The pure logic is in logic.js, tested under Node with `npm test`.

import { log, nowNs } from 'datalogger:plugin/host@0.1.1';
import { send } from 'datalogger:plugin/http@0.1.1';
import {
  NAME,
  VERSION,
  PLUGIN_INFO,
  SampleError,
  asSampleError,
  checkFields,
  fromCapError,
  jsonStats,
  parseCheckArg,
  parseJsonStatsArg,
  point,
  statusError,
} from './logic.js';

/** GET `url` through the host; a response for every status, errors as `SampleError`. */
function get(url, accept) {
  const started = nowNs();
  let response;
  try {
    response = send({
      method: 'GET',
      url,
      headers: [
        { name: 'Accept', value: accept },
        { name: 'User-Agent', value: `datalogger-${NAME}/${VERSION}` },
      ],
      body: undefined,
      timeoutMs: undefined, // the host's default ("http": {"timeout_ms": ...})
    });
  } catch (e) {
    throw fromCapError(e);
  }
  const elapsedMs = Number(nowNs() - started) / 1e6;
  log('debug', `GET ${url}: HTTP ${response.status}, ${response.body.length} bytes in ${elapsedMs.toFixed(1)} ms`);
  return { response, elapsedMs };
}

function check(arg) {
  const url = parseCheckArg(arg);
  const { response, elapsedMs } = get(url, '*/*');
  return [point({ url }, checkFields(response, elapsedMs))];
}

function jsonStatsOf(arg) {
  const { url, property, path } = parseJsonStatsArg(arg);
  const { response } = get(url, 'application/json');
  if (response.status < 200 || response.status > 299) {
    throw statusError(url, response);
  }
  const body = new TextDecoder('utf-8').decode(response.body);
  return [point({ url, property }, jsonStats(body, path, `GET ${url}`))];
}

export const sampling = {
  describe() {
    return PLUGIN_INFO;
  },

  sample(key, arg) {
    try {
      switch (key) {
        case `${NAME}.check`:
          return check(arg);
        case `${NAME}.json_stats`:
          return jsonStatsOf(arg);
        default:
          throw new SampleError('bad-argument', `${NAME} has no key ${JSON.stringify(key)}`);
      }
    } catch (e) {
      // Anything unexpected becomes `failed` rather than a trap.
      throw asSampleError(e);
    }
  },
};

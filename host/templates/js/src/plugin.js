// The {{name}} plugin: world `collector` of wit/datalogger.wit, in JavaScript.
import { log } from 'datalogger:plugin/host@0.1.1';

const VERSION = '0.1.0';

/** A `sample-error`: componentize-js returns an exception's own `payload` as the `err` case. */
class SampleError extends Error {
  constructor(tag, message) {
    super(message);
    this.payload = { tag, val: message }; // tag: bad-argument | unavailable | timeout | failed
  }
}

export const sampling = {
  describe() {
    return {
      name: '{{name}}',
      version: VERSION,
      description: '{{name}}: a datalogger plugin written in JavaScript',
      keys: [
        { name: '{{name}}.hello', description: 'Always 1.0; replace with a real reading', arg: undefined, unit: '' },
      ],
    };
  },

  sample(key, arg) {
    if (key !== '{{name}}.hello') {
      throw new SampleError('bad-argument', `{{name}} has no key ${key}`);
    }
    log('info', `hello from {{name}} ${VERSION}`);
    return [
      {
        measurement: '{{name}}',
        tags: [],
        fields: [{ name: 'value', value: { tag: 'float', val: 1.0 } }],
        timestampNs: undefined, // the host stamps the sample with the tick time
      },
    ];
  },
};

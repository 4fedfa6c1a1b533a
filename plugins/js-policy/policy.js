// js-policy: a ccgate policy plugin in JavaScript. It refuses a request whose prompt
// mentions the configured word and requires the configured metadata keys.
//
// Built by scripts/build-plugins.sh with `jco componentize --backend qjs
// --backend-qjs-stub-wasi --backend-qjs-disable-async` against the repository's
// `wit/v0.1.2/` (world `policy-plugin`): QuickJS inside, every WASI import a trap stub, so
// the component imports only `ccgate:plugin/host`.
import { config, log } from 'ccgate:plugin/host@0.1.2';

const SCHEMA = JSON.stringify({
  type: 'object',
  additionalProperties: false,
  properties: {
    forbidden_word: { type: 'string', minLength: 1 },
    require_metadata: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
});

export const meta = {
  info() {
    return { name: 'js-policy', version: '0.1.0', configSchema: SCHEMA };
  },
  checkConfig(text) {
    JSON.parse(text); // the schema has checked the shape
    return [];
  },
};

export const policy = {
  validate(request) {
    const settings = JSON.parse(config());
    const violations = [];
    const word = settings.forbidden_word;
    if (word && request.prompt.includes(word)) {
      violations.push({ pointer: '/prompt', message: `the prompt must not mention ${JSON.stringify(word)}` });
    }
    const metadata = new Map(request.metadata);
    for (const key of settings.require_metadata ?? []) {
      if (!(metadata.get(key) ?? '').trim()) {
        violations.push({ pointer: `/metadata/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`, message: `metadata ${JSON.stringify(key)} is required` });
      }
    }
    if (violations.length === 0) {
      return { tag: 'allow' };
    }
    log('info', 'request denied', [['violations', String(violations.length)]]);
    return { tag: 'deny', val: violations };
  },
};

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertSafeBinding,
  ConfigError,
  compileRoutePattern,
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_FALLBACK_TEXT,
  type GatewayConfig,
  isLoopback,
  loadConfig,
  OVERRIDES,
  providerApiKeyEnv,
  resolveAlias,
} from '../../src/server/config.ts';

const EXAMPLE = new URL('../../sluice.config.example.json', import.meta.url).pathname;

const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A config file with this content (a value is written as JSON, a string as is). */
function configFile(content: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

/** The ConfigError `run` throws. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function errorFor(content: unknown, env: Record<string, string> = {}): ConfigError {
  const path = configFile(content);
  const error = configError(() => loadConfig({ path, env }));
  expect(error.message.startsWith(`${path}: invalid configuration`)).toBe(true);
  return error;
}

describe('defaults', () => {
  it('serves the simulated model on 127.0.0.1:8787 with no file and no environment', () => {
    const { config, warnings, path } = loadConfig({ env: {} });
    expect(path).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      server: {
        host: '127.0.0.1',
        port: 8787,
        apiKeys: [],
        apiKeysEnv: 'SLUICE_API_KEYS',
        bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
        corsOrigins: [],
        rateLimit: { requestsPerMinute: 0 },
        shutdownGraceMs: 10_000,
        pingIntervalMs: 15_000,
        passThrough: true,
        listenBacklog: 4096,
        logLevel: 'info',
        workers: 1,
        headersTimeoutMs: 30_000,
        bodyTimeoutMs: 30_000,
        requestTimeoutMs: 120_000,
        keepAliveTimeoutMs: 72_000,
        maxConnectionsPerAddress: 0,
        failedKeyLimit: { maxFailures: 20, windowMs: 60_000 },
        allowedHosts: [],
      },
      defaultModel: 'sim:default',
      providers: {},
      aliases: {},
      fallbacks: {},
      prices: {},
      resilience: {},
      routes: { classifier: { type: 'rules' }, fallbackText: DEFAULT_FALLBACK_TEXT, definitions: [] },
      streams: {
        store: 'memory',
        ttlSeconds: 600,
        leaseMs: 3000,
        detachGraceMs: 30_000,
        onDisconnect: 'detach',
        keyPrefix: 'sluice:streams:',
      },
      responses: {},
    });
  });

  it("takes the registry's default model: Anthropic when ANTHROPIC_API_KEY is set", () => {
    const { config } = loadConfig({ env: { ANTHROPIC_API_KEY: 'sk-test' } });
    expect(config.defaultModel).toBe('anthropic:claude-sonnet-4-5');
  });

  it('fills the defaults of a partial file', () => {
    const { config } = loadConfig({ path: configFile({ server: { port: 0 } }), env: {} });
    expect(config.server.port).toBe(0);
    expect(config.server.host).toBe('127.0.0.1');
  });

  it('gives each load its own arrays, so one config cannot change another', () => {
    const first = loadConfig({ env: {} }).config;
    first.server.apiKeys.push('mutated');
    expect(loadConfig({ env: {} }).config.server.apiKeys).toEqual([]);
  });
});

describe('the example file (two providers, aliases, fallbacks, resilience, CORS, rate limit, three routes)', () => {
  it('validates under the strict schema', () => {
    const { config, warnings } = loadConfig({ path: EXAMPLE, env: {} });
    expect(Object.keys(config.providers)).toEqual(['anthropic', 'ollama']);
    expect(config.defaultModel).toBe('smart');
    expect(resolveAlias(config, config.defaultModel)).toBe('anthropic:claude-sonnet-4-5');
    expect(resolveAlias(config, 'fast')).toBe('ollama:llama3.2:3b');
    expect(config.routes.definitions.map((route) => route.name)).toEqual(['billing', 'code', 'account']);
    expect(warnings).toEqual([
      'providers.anthropic: ANTHROPIC_API_KEY is not set; calls to anthropic: models will fail until it is',
    ]);
  });

  it('has no warnings once the key is set, and its code route matches code', () => {
    const { config, warnings } = loadConfig({ path: EXAMPLE, env: { ANTHROPIC_API_KEY: 'sk-test' } });
    expect(warnings).toEqual([]);
    const code = config.routes.definitions.find((route) => route.name === 'code');
    const patterns = (code?.patterns ?? []).map(compileRoutePattern);
    expect(patterns.some((pattern) => pattern.test('Why does this throw a TypeError?'))).toBe(true);
    expect(patterns.some((pattern) => pattern.test('How much is the pro plan?'))).toBe(false);
  });

  it('names keys by environment variable only: the local provider sends none', () => {
    const { config } = loadConfig({ path: EXAMPLE, env: {} });
    expect(config.providers.ollama && providerApiKeyEnv(config.providers.ollama)).toBeUndefined();
    expect(providerApiKeyEnv({ type: 'openai' })).toBe('OPENAI_API_KEY');
  });
});

describe('environment overrides', () => {
  const file = () => configFile({ server: { host: '127.0.0.2', port: 9000, apiKeys: ['from-file'] } });

  it('SLUICE_HOST and SLUICE_PORT replace the file', () => {
    const { config } = loadConfig({ path: file(), env: { SLUICE_HOST: '::1', SLUICE_PORT: '9100' } });
    expect(config.server.host).toBe('::1');
    expect(config.server.port).toBe(9100);
  });

  it('SLUICE_API_KEYS adds comma-separated keys to the file ones', () => {
    const { config } = loadConfig({ path: file(), env: { SLUICE_API_KEYS: ' k1 , k2,,from-file ' } });
    expect(config.server.apiKeys).toEqual(['from-file', 'k1', 'k2']);
  });

  it('server.apiKeysEnv names another variable for the keys', () => {
    const path = configFile({ server: { apiKeysEnv: 'GATEWAY_KEYS' } });
    const { config } = loadConfig({ path, env: { GATEWAY_KEYS: 'a,b', SLUICE_API_KEYS: 'ignored' } });
    expect(config.server.apiKeys).toEqual(['a', 'b']);
  });

  it('SLUICE_MODEL replaces the default model of the file', () => {
    const path = configFile({ defaultModel: 'anthropic:claude-haiku-4-5' });
    const { config } = loadConfig({ path, env: { SLUICE_MODEL: 'openai:gpt-4o-mini', OPENAI_API_KEY: 'k' } });
    expect(config.defaultModel).toBe('openai:gpt-4o-mini');
  });

  it('SLUICE_RATE_LIMIT_RPM and SLUICE_BODY_LIMIT', () => {
    const path = configFile({ server: { rateLimit: { requestsPerMinute: 10, burst: 5 } } });
    const { config } = loadConfig({ path, env: { SLUICE_RATE_LIMIT_RPM: '120', SLUICE_BODY_LIMIT: '1024' } });
    expect(config.server.rateLimit).toEqual({ requestsPerMinute: 120, burst: 5 });
    expect(config.server.bodyLimitBytes).toBe(1024);
  });

  it('SLUICE_LOG_LEVEL replaces server.logLevel of the file', () => {
    const path = configFile({ server: { logLevel: 'debug' } });
    expect(loadConfig({ path, env: {} }).config.server.logLevel).toBe('debug');
    expect(loadConfig({ path, env: { SLUICE_LOG_LEVEL: 'warn' } }).config.server.logLevel).toBe('warn');
  });

  it('server.workers defaults to one process; SLUICE_WORKERS and --workers replace it, in that order', () => {
    expect(loadConfig({ env: {} }).config.server.workers).toBe(1);
    const path = configFile({ server: { workers: 2 } });
    expect(loadConfig({ path, env: {} }).config.server.workers).toBe(2);
    expect(loadConfig({ path, env: { SLUICE_WORKERS: '3' } }).config.server.workers).toBe(3);
    const fromCli = loadConfig({ path, env: { SLUICE_WORKERS: '3' }, overrides: { workers: 4 } });
    expect(fromCli.config.server.workers).toBe(4);
  });

  it('refuses a number of workers below one or above 64, naming where it came from', () => {
    expect(() => loadConfig({ path: configFile({ server: { workers: 0 } }), env: {} })).toThrow(
      /server\.workers/,
    );
    expect(() => loadConfig({ env: { SLUICE_WORKERS: 'two' } })).toThrow(
      "SLUICE_WORKERS: expected a number of processes, an integer from 1 to 64, got 'two'",
    );
    expect(() => loadConfig({ env: {}, overrides: { workers: 65 } })).toThrow(
      "--workers: expected an integer from 1 to 64, got '65'",
    );
  });

  it('SLUICE_CONFIG names the file when no path is given; an explicit path wins', () => {
    const viaEnv = configFile({ server: { port: 7001 } });
    const explicit = configFile({ server: { port: 7002 } });
    expect(loadConfig({ env: { SLUICE_CONFIG: viaEnv } }).config.server.port).toBe(7001);
    expect(loadConfig({ path: explicit, env: { SLUICE_CONFIG: viaEnv } }).config.server.port).toBe(7002);
  });

  it('treats empty variables as unset', () => {
    const { config } = loadConfig({
      env: { SLUICE_PORT: '', SLUICE_HOST: '', SLUICE_MODEL: '', SLUICE_CONFIG: '' },
    });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8787 });
    expect(config.defaultModel).toBe('sim:default');
  });

  it('refuses malformed values, naming the variable', () => {
    const error = configError(() =>
      loadConfig({
        env: {
          SLUICE_PORT: '80x',
          SLUICE_BODY_LIMIT: '10mb',
          SLUICE_RATE_LIMIT_RPM: '-1',
          SLUICE_LOG_LEVEL: 'loud',
        },
      }),
    );
    expect(error.message).toBe(
      [
        'environment: invalid configuration',
        "  SLUICE_PORT: expected an integer from 0 to 65535, got '80x'",
        "  SLUICE_RATE_LIMIT_RPM: expected requests per minute, an integer (0 = no limit), got '-1'",
        "  SLUICE_BODY_LIMIT: expected a size in bytes, an integer above 0, got '10mb'",
        "  SLUICE_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got 'loud'",
      ].join('\n'),
    );
  });

  it('command-line host and port win over the environment', () => {
    const { config } = loadConfig({
      path: file(),
      env: { SLUICE_HOST: '0.0.0.0', SLUICE_PORT: '9100' },
      overrides: { host: 'localhost', port: 0 },
    });
    expect(config.server).toMatchObject({ host: 'localhost', port: 0 });
  });

  it('refuses a command-line port out of range', () => {
    const error = configError(() => loadConfig({ env: {}, overrides: { port: 70000 } }));
    expect(error.message).toContain("--port: expected an integer from 0 to 65535, got '70000'");
  });
});

describe('bad files', () => {
  it('a missing file named explicitly', () => {
    const path = join(dir, 'absent.json');
    const error = configError(() => loadConfig({ path, env: {} }));
    expect(error.message).toBe(`${path}: cannot read the configuration file (no such file)`);
  });

  it('invalid JSON: the path and the position', () => {
    const path = configFile('{\n  "server": {\n    "port" 8787\n  }\n}\n');
    const error = configError(() => loadConfig({ path, env: {} }));
    expect(error.message.startsWith(`${path}: invalid JSON: `)).toBe(true);
    expect(error.message).toContain('position 27 (line 3 column 12)');
  });

  it('an unknown key: named with its path, and the allowed keys', () => {
    const error = errorFor({ server: { prot: 8080 } });
    expect(error.issues).toEqual([
      "server.prot: unrecognized key (did you mean 'port'?); expected one of host, port, apiKeys, metricsKey, adminKey, apiKeysEnv, bodyLimitBytes, corsOrigins, rateLimit, shutdownGraceMs, pingIntervalMs, passThrough, listenBacklog, logLevel, workers, headersTimeoutMs, bodyTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnectionsPerAddress, failedKeyLimit, allowedHosts",
    ]);
  });

  it('unknown keys at the top level and inside records and arrays', () => {
    const error = errorFor({
      Server: {},
      providers: { local: { type: 'sim', pacing: { ttft: 0 } } },
      routes: { definitions: [{ name: 'a', keyword: ['x'] }] },
    });
    expect(error.issues).toEqual([
      expect.stringMatching(/^providers\.local\.pacing\.ttft: unrecognized key \(did you mean 'ttftMs'\?\)/),
      expect.stringMatching(
        /^routes\.definitions\.0\.keyword: unrecognized key \(did you mean 'keywords'\?\)/,
      ),
      expect.stringMatching(
        /^Server: unrecognized key \(did you mean 'server'\?\); expected one of server, /,
      ),
    ]);
  });

  it('a wrong type: the path and the type expected', () => {
    const error = errorFor({ server: { port: 'x' } });
    expect(error.issues).toEqual(['server.port: expected number, received string']);
  });

  it('an invalid regular expression in a route pattern', () => {
    const error = errorFor({ routes: { definitions: [{ name: 'code', patterns: ['(unclosed'] }] } });
    expect(error.issues).toEqual([
      'routes.definitions.0.patterns.0: Invalid regular expression: /(unclosed/i: Unterminated group',
    ]);
  });

  it('field rules: names, env names, URLs, origins, statuses, reserved and duplicate routes', () => {
    const error = errorFor({
      providers: {
        'my provider': { type: 'openai' },
        anthropic: { type: 'anthropic', apiKeyEnv: 'sk-ant-api03-secret' },
        ollama: { type: 'openai', baseURL: 'localhost:11434' },
      },
      server: { corsOrigins: ['https://app.example.com/'] },
      resilience: { retryableStatuses: [600] },
    });
    expect(error.issues).toEqual([
      "server.corsOrigins.0: expected '*' or an origin such as https://app.example.com (no path)",
      "providers.my provider: expected a name of letters, digits, '_' and '-' starting with a letter",
      'providers.anthropic.apiKeyEnv: expected the NAME of an environment variable (such as ANTHROPIC_API_KEY), not a value',
      'providers.ollama.baseURL: expected an http:// or https:// URL',
      'resilience.retryableStatuses.0: expected an HTTP status from 100 to 599',
    ]);
    const routes = errorFor({
      routes: { definitions: [{ name: 'NOT_DEFINED' }, { name: 'a' }, { name: 'a' }] },
    });
    expect(routes.issues).toEqual([
      'routes.definitions.0.name: NOT_DEFINED is reserved for "no route fits"',
      "routes.definitions.2.name: duplicate route name 'a'",
    ]);
  });

  it('settings that belong to another provider type or classifier', () => {
    const error = errorFor({
      providers: {
        local: { type: 'sim', baseURL: 'http://localhost:1' },
        remote: { type: 'openai', pacing: { ttftMs: 0 } },
      },
      routes: { classifier: { type: 'rules', model: 'sim:default' } },
    });
    expect(error.issues).toEqual([
      "providers.local.baseURL: not used by providers of type 'sim'",
      "providers.remote.pacing: only for providers of type 'sim'",
      "routes.classifier.model: only for the 'llm' classifier",
    ]);
  });

  it('an unknown provider type lists the types', () => {
    const error = errorFor({ providers: { azure: { type: 'azure' } } });
    expect(error.issues).toEqual([
      'providers.azure.type: expected one of "anthropic"|"openai"|"openai-responses"|"sim"',
    ]);
  });

  it('lists at most five problems', () => {
    const error = errorFor({ server: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 } });
    expect(error.issues).toHaveLength(7);
    expect(error.message.split('\n')).toHaveLength(7);
    expect(error.message).toMatch(/…and 2 more$/);
  });

  it('an alias cycle, reported once', () => {
    const error = errorFor({ aliases: { a: 'b', b: 'c', c: 'a', d: 'a' } });
    expect(error.issues).toEqual(['aliases.a: alias cycle a → b → c → a']);
  });

  it('an unknown provider prefix or alias, wherever a model is named', () => {
    const error = errorFor({
      defaultModel: 'gemini:pro',
      providers: { local: { type: 'sim' } },
      aliases: { fast: 'olama:llama3' },
      fallbacks: { 'sim:default': ['local:x', 'smart'] },
      routes: {
        classifier: { type: 'llm', model: 'fast' },
        definitions: [{ name: 'a', model: 'azure:gpt' }],
      },
    });
    expect(error.issues).toEqual([
      "defaultModel: unknown provider 'gemini' in 'gemini:pro'; expected one of sim, anthropic, openai, openai-responses, local",
      "aliases.fast: unknown provider 'olama' in 'olama:llama3'; expected one of sim, anthropic, openai, openai-responses, local",
      "fallbacks.sim:default.1: 'smart' is neither provider:model nor a configured alias",
      "routes.definitions.0.model: unknown provider 'azure' in 'azure:gpt'; expected one of sim, anthropic, openai, openai-responses, local",
    ]);
  });

  it('a default model from SLUICE_MODEL is checked too, and says so', () => {
    const error = configError(() => loadConfig({ env: { SLUICE_MODEL: 'nope:x' } }));
    expect(error.message).toContain("defaultModel (SLUICE_MODEL): unknown provider 'nope' in 'nope:x'");
  });

  it('a model that is its own fallback', () => {
    const error = errorFor({
      aliases: { fast: 'sim:default' },
      fallbacks: { fast: ['sim:other', 'sim:default'] },
    });
    expect(error.issues).toEqual(['fallbacks.fast.1: a model cannot be its own fallback']);
  });
});

describe('warnings', () => {
  it('an unset key variable of a provider in use, not of one unused', () => {
    const path = configFile({
      defaultModel: 'work:gpt-4o',
      providers: {
        work: { type: 'openai', apiKeyEnv: 'WORK_OPENAI_KEY' },
        spare: { type: 'anthropic', apiKeyEnv: 'SPARE_KEY' },
      },
    });
    expect(loadConfig({ path, env: {} }).warnings).toEqual([
      'providers.work: WORK_OPENAI_KEY is not set; calls to work: models will fail until it is',
    ]);
    expect(loadConfig({ path, env: { WORK_OPENAI_KEY: 'k' } }).warnings).toEqual([]);
  });

  it('built-in providers: anthropic without its key, openai unless pointed at a local server', () => {
    const path = configFile({ fallbacks: { 'anthropic:claude-sonnet-4-5': ['openai:gpt-4o-mini'] } });
    expect(loadConfig({ path, env: {} }).warnings).toEqual([
      'ANTHROPIC_API_KEY is not set; calls to anthropic: models will fail until it is',
      'OPENAI_API_KEY is not set; calls to openai: models will fail until it is',
    ]);
    const local = { ANTHROPIC_API_KEY: 'k', OPENAI_BASE_URL: 'http://localhost:11434/v1' };
    expect(loadConfig({ path, env: local }).warnings).toEqual([]);
  });

  it('routes the classifier cannot pick or cannot tell apart', () => {
    const rules = configFile({ routes: { definitions: [{ name: 'orphan' }] } });
    expect(loadConfig({ path: rules, env: {} }).warnings).toEqual([
      "routes.definitions.0: route 'orphan' has no keywords or patterns, so the rules classifier never picks it",
    ]);
    const llm = configFile({ routes: { classifier: { type: 'llm' }, definitions: [{ name: 'vague' }] } });
    expect(loadConfig({ path: llm, env: {} }).warnings).toEqual([
      "routes.definitions.0: route 'vague' has no description; the llm classifier sees only its name",
    ]);
  });
});

describe('binding', () => {
  const withServer = (host: string, apiKeys: string[] = []): GatewayConfig => {
    const { config } = loadConfig({ env: {} });
    return { ...config, server: { ...config.server, host, apiKeys } };
  };

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.1', false],
    ['128.0.0.1', false],
    ['example.com', false],
  ])('isLoopback(%s) is %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });

  it('allows a loopback host without keys', () => {
    expect(() => assertSafeBinding(withServer('127.0.0.1'))).not.toThrow();
    expect(() => assertSafeBinding(withServer('localhost'))).not.toThrow();
  });

  it('refuses 0.0.0.0 without keys', () => {
    const error = configError(() => assertSafeBinding(withServer('0.0.0.0')));
    expect(error.message).toBe(
      "Listening on 0.0.0.0 without API keys would let anyone use your providers' keys; set SLUICE_API_KEYS or pass --insecure",
    );
  });

  it('allows 0.0.0.0 with keys, or with --insecure', () => {
    expect(() => assertSafeBinding(withServer('0.0.0.0', ['k']))).not.toThrow();
    expect(() => assertSafeBinding(withServer('0.0.0.0'), { insecure: true })).not.toThrow();
  });
});

describe('the metrics key', () => {
  it('comes from server.metricsKey, or SLUICE_METRICS_KEY over it', () => {
    const path = configFile({ server: { metricsKey: 'from-file' } });
    expect(loadConfig({ env: {}, path }).config.server.metricsKey).toBe('from-file');
    expect(loadConfig({ env: { SLUICE_METRICS_KEY: 'from-env' }, path }).config.server.metricsKey).toBe(
      'from-env',
    );
    expect(loadConfig({ env: { SLUICE_METRICS_KEY: ' ' } }).config.server.metricsKey).toBeUndefined();
  });
});

describe('the overrides table and the README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  // The README's paragraph that lists the overrides, up to the blank line that ends it.
  const start = readme.indexOf('Environment overrides');
  const paragraph = readme.slice(start, readme.indexOf('\n\n', start));

  it('lists every environment variable of the table, and no other', () => {
    expect(start).toBeGreaterThan(0);
    const documented = new Set(paragraph.match(/\bSLUICE_[A-Z_]+/g));
    expect(documented).toEqual(new Set(OVERRIDES.map((override) => override.env)));
  });

  it('lists every flag of the table, and no other', () => {
    const documented = new Set(paragraph.match(/--[a-z]+(?:-[a-z]+)*/g));
    const flags = OVERRIDES.flatMap((override) => (override.flag === undefined ? [] : [override.flag]));
    expect(documented).toEqual(new Set(flags));
  });

  it('names, for each setting, the configuration path the README documents', () => {
    const configuration = readme.slice(readme.indexOf('### Configuration'), start);
    for (const { path } of OVERRIDES) {
      if (path === undefined) continue;
      // The README names a setting by its last key (`requestsPerMinute` inside `rateLimit`).
      expect(configuration, path).toContain(`\`${path.split('.').at(-1)}\``);
    }
  });
});

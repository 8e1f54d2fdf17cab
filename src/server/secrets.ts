import { type GatewayConfig, providerApiKeyEnv } from './config.ts';

/*
 * The one place that knows what the gateway must never show: the secret values its
 * configuration holds (provider keys, gateway keys, the metrics key, passwords in base URLs),
 * whatever their shape, plus what looks like a credential or an internal address in text that
 * came from outside (an upstream's error message, the body of its 500).
 *
 * Two strengths: `redact` for the gateway's own log (secrets out, addresses kept: the
 * operator needs to know which upstream was refused), `scrub` for what a caller sees (both
 * out: a caller has no business learning the gateway's network).
 */

type Env = Record<string, string | undefined>;

export const REDACTED = '[redacted]';
export const ADDRESS = '[address]';

/**
 * Shorter values are not masked: a two-character "secret" would cut every word holding it,
 * and is no secret anyway. Keys are far longer.
 */
const MIN_SECRET_LENGTH = 4;

// Credentials in a URL: scheme://user:password@ or scheme://token@.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
// What providers echo when they refuse a key ("Incorrect API key provided: sk-…").
const BEARER = /\b(Bearer\s+)[^\s"',;<>]+/gi;
// HTTP Basic credentials (base64 of user:password), as an upstream may echo its Authorization header.
const BASIC = /\b(Basic\s+)[A-Za-z0-9+/]{6,}={0,2}/g;
const KEY_LIKE = /\bsk-[A-Za-z0-9_*.-]{8,}/g;
// Node's network errors name the peer: "connect ECONNREFUSED 127.0.0.1:8080", "getaddrinfo ENOTFOUND db.internal".
const NETWORK_ERROR_PEER =
  /\b(E(?:CONNREFUSED|CONNRESET|CONNABORTED|HOSTUNREACH|NETUNREACH|TIMEDOUT|NOTFOUND|AI_AGAIN|ADDRINUSE|ADDRNOTAVAIL|PIPE|PROTO)|UND_ERR_[A-Z_]+)\s+(\[[0-9a-fA-F:.]+\](?::\d{1,5})?|[^\s,;)'"]+)/g;
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g;
const IPV6_WITH_PORT = /\[[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\](?::\d{1,5})?/g;
const LOCALHOST = /\blocalhost(?::\d{1,5})?\b/gi;

export class SecretScrubber {
  /** Each secret in the forms it may take in text: as is, JSON-escaped, URL-encoded. Longest first. */
  private readonly forms: string[];
  /** Configured upstream origins (host:port), which are internal addresses as far as a caller is concerned. */
  private readonly origins: string[];

  constructor(secrets: Iterable<string> = [], origins: Iterable<string> = []) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < MIN_SECRET_LENGTH) continue;
      forms.add(secret);
      forms.add(JSON.stringify(secret).slice(1, -1));
      forms.add(encodeURIComponent(secret));
    }
    this.forms = [...forms].sort((a, b) => b.length - a.length);
    this.origins = [...new Set(origins)].filter((origin) => origin.length >= MIN_SECRET_LENGTH);
  }

  /** For the log: every configured secret, URL credentials and key-shaped strings masked. */
  redact(text: string): string {
    let result = text;
    for (const form of this.forms) {
      if (result.includes(form)) result = result.split(form).join(REDACTED);
    }
    return result
      .replace(URL_CREDENTIALS, `$1${REDACTED}@`)
      .replace(BEARER, `$1${REDACTED}`)
      .replace(BASIC, `$1${REDACTED}`)
      .replace(KEY_LIKE, REDACTED);
  }

  /** For a caller: `redact`, and the gateway's internal addresses masked as well. */
  scrub(text: string): string {
    let result = this.redact(text);
    for (const origin of this.origins) {
      if (result.includes(origin)) result = result.split(origin).join(ADDRESS);
    }
    return result
      .replace(NETWORK_ERROR_PEER, `$1 ${ADDRESS}`)
      .replace(IPV6_WITH_PORT, ADDRESS)
      .replace(IPV4, ADDRESS)
      .replace(LOCALHOST, ADDRESS);
  }
}

/** What a gateway with no configuration knows to hide: key-shaped strings, credentials in URLs, addresses. */
export const DEFAULT_SCRUBBER = new SecretScrubber();

/**
 * Every secret value the configuration reaches: the gateway's keys, the metrics key, each
 * provider's key (read from the variable it names, or the built-in providers' standard ones),
 * key-like headers sent upstream, and passwords (or lone tokens) in base URLs.
 */
export function configuredSecrets(config: GatewayConfig, env: Env = process.env): string[] {
  const secrets = [...config.server.apiKeys];
  if (config.server.metricsKey !== undefined) secrets.push(config.server.metricsKey);
  if (config.server.adminKey !== undefined) secrets.push(config.server.adminKey);
  if (config.database !== undefined) secrets.push(...urlCredentials(config.database));
  const keyEnvs = new Set(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY']);
  const urls = [env.ANTHROPIC_BASE_URL, env.OPENAI_BASE_URL];
  for (const provider of Object.values(config.providers)) {
    const keyEnv = providerApiKeyEnv(provider);
    if (keyEnv !== undefined) keyEnvs.add(keyEnv);
    urls.push(provider.baseURL);
    for (const [name, value] of Object.entries(provider.headers ?? {})) {
      if (/auth|key|token|secret|cookie/i.test(name)) secrets.push(value);
    }
  }
  for (const name of keyEnvs) {
    const value = env[name]?.trim();
    if (value) secrets.push(value);
  }
  for (const url of urls) secrets.push(...urlCredentials(url));
  return secrets.filter((secret) => secret !== '');
}

/** The configured upstreams' `host:port`, which a caller is not told. */
export function configuredOrigins(config: GatewayConfig, env: Env = process.env): string[] {
  const urls = [
    env.ANTHROPIC_BASE_URL,
    env.OPENAI_BASE_URL,
    ...Object.values(config.providers).map((p) => p.baseURL),
  ];
  return urls.flatMap((url) => {
    const parsed = parseUrl(url);
    return parsed ? [parsed.host] : [];
  });
}

/** A scrubber for this configuration and environment. */
export function scrubberFor(config: GatewayConfig, env: Env = process.env): SecretScrubber {
  return new SecretScrubber(configuredSecrets(config, env), configuredOrigins(config, env));
}

function urlCredentials(url: string | undefined): string[] {
  const parsed = parseUrl(url);
  if (!parsed) return [];
  // A token alone (https://TOKEN@host) is the secret; with a password, the user name is not.
  const secret = parsed.password !== '' ? parsed.password : parsed.username;
  if (secret === '') return [];
  // As HTTP Basic authentication sends them, which an upstream may echo.
  const basic = Buffer.from(`${decode(parsed.username)}:${decode(parsed.password)}`).toString('base64');
  return [secret, decode(secret), basic];
}

function parseUrl(url: string | undefined): URL | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined;
  return new URL(url);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import type { SluiceError } from '../protocol/errors.ts';
import type { Usage } from '../protocol/message.ts';
import type { RetryInfo } from '../stream/message-stream.ts';
import { createLogger, errorSummary, type LoggedError } from './logger.ts';
import { MetricLabels } from './metric-labels.ts';
import type { RelayKind, RequestTelemetry, Telemetry } from './telemetry.ts';

export interface TelemetryOptions {
  /** Where the per-request lines go; a redacting stdout logger unless given, none with `false`. */
  logger?: Logger | false;
  /** The Prometheus registry to fill; a fresh one unless given, so instances never collide. */
  registry?: Registry;
  /** Milliseconds from any origin (`performance.now()` unless given); tests inject a clock. */
  now?: () => number;
  /** The bounded sets label values come from; without it only models seen answering get a name. */
  labels?: MetricLabels;
}

/** Telemetry that logs a line per request and keeps Prometheus metrics. */
export interface GatewayTelemetry extends Telemetry {
  readonly registry: Registry;
  /** The metrics in the Prometheus text format, for `GET /metrics`. */
  metrics(): Promise<string>;
  /** The `Content-Type` of `metrics()`. */
  readonly contentType: string;
}

/** What the log line of one request says (the message is `request`). */
export interface RequestLogLine {
  route: string;
  model: string;
  status: number;
  streaming: boolean;
  ttftMs: number | undefined;
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  retries: number;
  resumes: number;
  /** The relay that carried a streamed answer (absent for one that failed before its first byte). */
  relay: RelayKind | undefined;
  key: string | undefined;
  error: LoggedError | undefined;
}

/** Before the route resolves the model (or when resolution itself failed). */
const UNKNOWN_MODEL = 'unknown';

// LLM calls run from tens of milliseconds (a cached short answer) to minutes (long outputs).
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];
// The first token of a local model can come in milliseconds; a loaded remote one in tens of seconds.
const TTFT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// Rate limits and overload are upstream trouble even though their status is below 500.
const UPSTREAM_TROUBLE_TYPES: ReadonlySet<string> = new Set(['rate_limit_error', 'overloaded_error']);

interface Metrics {
  requests: Counter<'route' | 'model' | 'status'>;
  duration: Histogram<'route' | 'model'>;
  ttft: Histogram<'route' | 'model'>;
  tokens: Counter<'model' | 'direction'>;
  retries: Counter<'model' | 'reason' | 'mode'>;
  activeStreams: Gauge<'route'>;
  upstreamErrors: Counter<'model' | 'type'>;
  relayed: Counter<'route' | 'relay'>;
}

export function createTelemetry(options: TelemetryOptions = {}): GatewayTelemetry {
  const registry = options.registry ?? new Registry();
  const logger = options.logger === undefined ? createLogger() : options.logger;
  const now = options.now ?? (() => performance.now());
  const metrics = createMetrics(registry);
  const labels = options.labels ?? new MetricLabels();
  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    start: (route, key, streaming) => startRequest({ metrics, labels, logger, now }, route, key, streaming),
  };
}

function createMetrics(registry: Registry): Metrics {
  // A registry shared by two gateways gets one set of metrics that both feed, not an error.
  if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined) {
    collectDefaultMetrics({ register: registry });
  }
  const registers = [registry];
  return {
    requests: registered(registry, 'sluice_requests_total', (name) => {
      const help = 'Requests by route, resolved model and HTTP status.';
      return new Counter({ name, help, labelNames: ['route', 'model', 'status'], registers });
    }),
    duration: registered(registry, 'sluice_request_duration_seconds', (name) => {
      const help = 'Time from request start to its end (the last byte of a stream).';
      return new Histogram({
        name,
        help,
        labelNames: ['route', 'model'],
        buckets: DURATION_BUCKETS,
        registers,
      });
    }),
    ttft: registered(registry, 'sluice_ttft_seconds', (name) => {
      const help = 'Time from request start to the first content delta sent to the client.';
      return new Histogram({ name, help, labelNames: ['route', 'model'], buckets: TTFT_BUCKETS, registers });
    }),
    tokens: registered(registry, 'sluice_tokens_total', (name) => {
      const help = 'Tokens by model and direction (input, output), summed over attempts.';
      return new Counter({ name, help, labelNames: ['model', 'direction'], registers });
    }),
    retries: registered(registry, 'sluice_retries_total', (name) => {
      const help = 'Upstream retries by model, reason and mode (retry, resume, restart).';
      return new Counter({ name, help, labelNames: ['model', 'reason', 'mode'], registers });
    }),
    activeStreams: registered(registry, 'sluice_active_streams', (name) => {
      const help = 'Streaming requests in progress.';
      return new Gauge({ name, help, labelNames: ['route'], registers });
    }),
    relayed: registered(registry, 'sluice_relayed_streams_total', (name) => {
      const help = 'Streamed answers by the relay that carried them (pass-through or full).';
      return new Counter({ name, help, labelNames: ['route', 'relay'], registers });
    }),
    upstreamErrors: registered(registry, 'sluice_upstream_errors_total', (name) => {
      const help = 'Requests that ended on upstream trouble (5xx, rate limit, overload), by error type.';
      return new Counter({ name, help, labelNames: ['model', 'type'], registers });
    }),
  };
}

function registered<M extends Metric>(registry: Registry, name: string, create: (name: string) => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create(name);
}

interface Sinks {
  metrics: Metrics;
  labels: MetricLabels;
  logger: Logger | false;
  now: () => number;
}

function startRequest(
  sinks: Sinks,
  routePath: string,
  callerKey: string | undefined,
  streaming: boolean,
): RequestTelemetry {
  const { metrics, labels, now } = sinks;
  const startedAt = now();
  const route = labels.route(routePath);
  const key = callerKey;
  let model = UNKNOWN_MODEL;
  // Whether the upstream has answered: only then may an unconfigured model become a label.
  let answered = false;
  const modelLabel = () => labels.model(model, answered);
  let ttftMs: number | undefined;
  let retries = 0;
  let resumes = 0;
  let relay: RelayKind | undefined;
  // Tokens already added to the counters: usage reports are cumulative, so each adds its growth.
  const counted = { input: 0, output: 0 };
  let finished = false;
  if (streaming) metrics.activeStreams.inc({ route });

  return {
    model(ref) {
      model = ref;
    },
    firstToken() {
      if (ttftMs !== undefined || finished) return;
      answered = true;
      ttftMs = now() - startedAt;
      metrics.ttft.observe({ route, model: modelLabel() }, ttftMs / 1000);
    },
    relay(kind: RelayKind) {
      if (relay !== undefined) return;
      relay = kind;
      metrics.relayed.inc({ route, relay: kind });
    },
    retry(info: RetryInfo) {
      retries += 1;
      if (info.mode === 'resume') resumes += 1;
      metrics.retries.inc({ model: modelLabel(), reason: labels.retryReason(info.reason), mode: info.mode });
    },
    // Also after finish: the tokens were spent, so they count, but the line is already written.
    usage(usage: Usage) {
      if (usage.output_tokens > 0) answered = true;
      const label = modelLabel();
      countTokens(metrics.tokens, label, counted, 'input', usage.input_tokens);
      countTokens(metrics.tokens, label, counted, 'output', usage.output_tokens);
    },
    finish(status: number, error?: SluiceError) {
      if (finished) return;
      finished = true;
      if (status < 400) answered = true;
      const label = modelLabel();
      const durationMs = now() - startedAt;
      if (streaming) metrics.activeStreams.dec({ route });
      metrics.requests.inc({ route, model: label, status: statusLabel(status) });
      metrics.duration.observe({ route, model: label }, durationMs / 1000);
      if (error !== undefined && isUpstreamTrouble(error)) {
        metrics.upstreamErrors.inc({ model: label, type: labels.errorType(error.type) });
      }
      const line: RequestLogLine = {
        route: routePath,
        model,
        status,
        streaming,
        ttftMs: ttftMs === undefined ? undefined : Math.round(ttftMs),
        durationMs: Math.round(durationMs),
        inputTokens: counted.input,
        outputTokens: counted.output,
        retries,
        resumes,
        relay,
        key,
        error: error === undefined ? undefined : errorSummary(error),
      };
      if (sinks.logger) writeLine(sinks.logger, line);
    },
  };
}

/** An HTTP status, or `other` for anything that is not one. */
function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
}

function countTokens(
  tokens: Metrics['tokens'],
  model: string,
  counted: Record<'input' | 'output', number>,
  direction: 'input' | 'output',
  total: number,
): void {
  const growth = total - counted[direction];
  if (growth <= 0) return;
  counted[direction] = total;
  tokens.inc({ model, direction }, growth);
}

/** 5xx, rate limits and overload: trouble upstream, not the caller's doing (nor the caller leaving, 499). */
function isUpstreamTrouble(error: SluiceError): boolean {
  return error.status >= 500 || UPSTREAM_TROUBLE_TYPES.has(error.type);
}

function writeLine(logger: Logger, line: RequestLogLine): void {
  if (line.status >= 500) logger.error(line, 'request');
  else if (line.status >= 400) logger.warn(line, 'request');
  else logger.info(line, 'request');
}

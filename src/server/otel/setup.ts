import { GEN_AI_METRICS, SEMCONV_VERSION } from './gen-ai.ts';
import type { GatewayOtel } from './types.ts';

/** The packages OpenTelemetry needs, optional peers of sluice: loaded only when an endpoint is set. */
export const OTEL_PACKAGES = [
  '@opentelemetry/api',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/exporter-metrics-otlp-http',
  '@opentelemetry/resources',
] as const;

/** Thrown when an OTLP endpoint is set and the OpenTelemetry packages are not installed. */
export class OtelPackagesMissingError extends Error {
  override name = 'OtelPackagesMissingError';
}

// The conventions' advised bucket boundaries: seconds for durations, tokens for usage.
const SECONDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKENS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** The OTLP/HTTP URL of a signal: its own variable as is, else the general endpoint with `/v1/{signal}`. */
function signalUrl(
  env: Record<string, string | undefined>,
  signal: 'traces' | 'metrics',
): string | undefined {
  const own = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`]?.trim();
  if (own) return own;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/${signal}` : undefined;
}

/**
 * OpenTelemetry for the gateway when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a signal's own
 * endpoint) is set, as the OTel SDKs read it: spans and metrics over OTLP/HTTP (JSON).
 * Undefined, with nothing imported, when it is not set.
 */
export async function startOtel(
  env: Record<string, string | undefined>,
  version?: string,
): Promise<GatewayOtel | undefined> {
  const tracesUrl = signalUrl(env, 'traces');
  const metricsUrl = signalUrl(env, 'metrics');
  if (tracesUrl === undefined && metricsUrl === undefined) return undefined;
  let sdk: Awaited<ReturnType<typeof loadSdk>>;
  try {
    sdk = await loadSdk();
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new OtelPackagesMissingError(
      `OTEL_EXPORTER_OTLP_ENDPOINT is set, and OpenTelemetry's packages, optional dependencies of sluice, are not installed: run \`npm install ${OTEL_PACKAGES.join(' ')}\` (or unset the variable).`,
    );
  }
  const resource = sdk.resources.resourceFromAttributes({
    'service.name': env.OTEL_SERVICE_NAME?.trim() || 'sluice',
    ...(version ? { 'service.version': version } : {}),
  });
  const spans = new sdk.traces.BasicTracerProvider({
    resource,
    spanProcessors: tracesUrl
      ? [new sdk.traces.BatchSpanProcessor(new sdk.traceExporter.OTLPTraceExporter({ url: tracesUrl }))]
      : [],
  });
  const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000);
  const metrics = new sdk.metrics.MeterProvider({
    resource,
    readers: metricsUrl
      ? [
          new sdk.metrics.PeriodicExportingMetricReader({
            exporter: new sdk.metricExporter.OTLPMetricExporter({ url: metricsUrl }),
            exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
          }),
        ]
      : [],
  });
  const meter = metrics.getMeter('sluice', version, {
    schemaUrl: `https://opentelemetry.io/schemas/${SEMCONV_VERSION}`,
  });
  const histogram = (name: string, unit: string, description: string, boundaries: number[]) =>
    meter.createHistogram(name, { unit, description, advice: { explicitBucketBoundaries: boundaries } });
  const { CallTrace } = sdk.callTrace;
  const otel: GatewayOtel = {
    traceCall: (request, streaming, chain) => new CallTrace(otel, request, streaming, chain),
    tracer: spans.getTracer('sluice', version, {
      schemaUrl: `https://opentelemetry.io/schemas/${SEMCONV_VERSION}`,
    }),
    operationDuration: histogram(GEN_AI_METRICS.operationDuration, 's', 'GenAI operation duration.', SECONDS),
    tokenUsage: histogram(GEN_AI_METRICS.tokenUsage, '{token}', 'Tokens used, by gen_ai.token.type.', TOKENS),
    timeToFirstChunk: histogram(
      GEN_AI_METRICS.timeToFirstChunk,
      's',
      'Time to the first chunk of the answer.',
      SECONDS,
    ),
    serverTimeToFirstToken: histogram(
      GEN_AI_METRICS.serverTimeToFirstToken,
      's',
      'Time from the request to the first token sent to the caller.',
      SECONDS,
    ),
    shutdown: async () => {
      await Promise.all([spans.shutdown(), metrics.shutdown()]);
    },
  };
  return otel;
}

async function loadSdk() {
  const [traces, metrics, traceExporter, metricExporter, resources, callTrace] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/exporter-metrics-otlp-http'),
    import('@opentelemetry/resources'),
    // It imports @opentelemetry/api: loaded with the SDK, never when tracing is off.
    import('./call-trace.ts'),
  ]);
  return { traces, metrics, traceExporter, metricExporter, resources, callTrace };
}

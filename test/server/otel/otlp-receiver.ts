import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OTLP attribute value as OTLP/JSON writes it. */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values: AnyValue[] };
}

/** A span as the test reads it: attributes flattened to plain values. */
export interface ReceivedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status?: { code?: number };
}

/** A metric's data points, attributes flattened. */
export interface ReceivedMetric {
  name: string;
  unit?: string;
  points: { attributes: Record<string, unknown>; count?: number; sum?: number }[];
}

export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;

function value(any: AnyValue): unknown {
  if (any.arrayValue) return any.arrayValue.values.map(value);
  if (any.intValue !== undefined) return Number(any.intValue);
  return any.stringValue ?? any.doubleValue ?? any.boolValue;
}

function flatten(attributes: { key: string; value: AnyValue }[] = []): Record<string, unknown> {
  return Object.fromEntries(attributes.map((attribute) => [attribute.key, value(attribute.value)]));
}

/**
 * An OTLP/HTTP receiver on 127.0.0.1 (port 0): it accepts `/v1/traces` and `/v1/metrics` in
 * OTLP/JSON, as a collector would, and keeps what it decoded.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly metrics: ReceivedMetric[] = [];
  requests = 0;
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        receiver.requests++;
        receiver.accept(request.url ?? '', request.headers['content-type'] ?? '', Buffer.concat(chunks));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(path: string, contentType: string, body: Buffer): void {
    if (!contentType.startsWith('application/json'))
      throw new Error(`expected OTLP/JSON, got ${contentType}`);
    const json = JSON.parse(body.toString('utf8'));
    if (path === '/v1/traces') {
      for (const resource of json.resourceSpans ?? [])
        for (const scope of resource.scopeSpans ?? [])
          for (const span of scope.spans ?? [])
            this.spans.push({
              name: span.name,
              kind: span.kind,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              attributes: flatten(span.attributes),
              events: (span.events ?? []).map((event: { name: string; attributes?: [] }) => ({
                name: event.name,
                attributes: flatten(event.attributes),
              })),
              status: span.status,
            });
    } else if (path === '/v1/metrics') {
      for (const resource of json.resourceMetrics ?? [])
        for (const scope of resource.scopeMetrics ?? [])
          for (const metric of scope.metrics ?? []) {
            const points = (metric.histogram ?? metric.sum ?? metric.gauge)?.dataPoints ?? [];
            this.metrics.push({
              name: metric.name,
              unit: metric.unit,
              points: points.map((point: { attributes?: []; count?: string | number; sum?: number }) => ({
                attributes: flatten(point.attributes),
                count: point.count === undefined ? undefined : Number(point.count),
                sum: point.sum,
              })),
            });
          }
    }
  }
}

import type { Registry } from 'prom-client';
import { ApiError, RateLimitError, type SluiceError } from '../../protocol/errors.ts';
import type { GatewayConfig } from '../config.ts';
import type { RequestLimiter } from '../rate-limit.ts';
import { type RunningGateway, type StartOptions, startGateway } from '../start.ts';
import type { Telemetry } from '../telemetry.ts';
import {
  type CollectedMetrics,
  isPrimaryMessage,
  type MetricsAsk,
  type PrimaryReply,
  type RateLimitAsk,
} from './messages.ts';

type Ask = Omit<RateLimitAsk, 'id'> | Omit<MetricsAsk, 'id'>;

/** The worker's end of the IPC channel: asks numbered, replies matched to them by number. */
export class PrimaryChannel {
  private readonly port: NodeJS.Process;
  private readonly pending = new Map<number, (reply: PrimaryReply) => void>();
  private nextId = 0;
  private registry: Registry | undefined;

  constructor(port: NodeJS.Process = process) {
    if (port.send === undefined) throw new Error('PrimaryChannel needs a process started by node:cluster');
    this.port = port;
    port.on('message', (message: unknown) => {
      if (!isPrimaryMessage(message)) return;
      if (message.sluice === 'collect') {
        void this.report(message.id);
        return;
      }
      const settle = this.pending.get(message.id);
      this.pending.delete(message.id);
      settle?.(message);
    });
  }

  /** The registry whose metrics this worker reports when the primary collects them. */
  reportMetricsOf(registry: Registry): void {
    this.registry = registry;
  }

  private async report(id: number): Promise<void> {
    let metrics: object[];
    try {
      metrics = (await this.registry?.getMetricsAsJSON()) ?? [];
    } catch {
      // Unanswered, the primary's collection names this worker when it gives up; a metric
      // that fails to collect must not take the worker and its streams down.
      return;
    }
    this.port.send?.({ sluice: 'collected', id, metrics } satisfies CollectedMetrics);
  }

  ask(message: Ask): Promise<PrimaryReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, resolve);
      this.port.send?.({ ...message, id }, undefined, undefined, (error: Error | null) => {
        if (error === null) return;
        this.pending.delete(id);
        reject(new ApiError('The gateway worker lost its primary process; retry the request.'));
      });
    });
  }

  announce(url: string): void {
    this.port.send?.({ sluice: 'listening', url });
  }
}

function refusal(refused: NonNullable<PrimaryReply['refused']>): SluiceError {
  const options = { retryAfterMs: refused.retryAfterMs };
  return refused.type === 'rate_limit_error'
    ? new RateLimitError(refused.message, options)
    : new ApiError(refused.message, options);
}

/** A rate limit whose buckets live in the primary, so a key's limit holds across all workers. */
export function sharedRateLimiter(channel: PrimaryChannel): RequestLimiter {
  return {
    take: async (caller) => {
      const reply = await channel.ask({ sluice: 'rate-limit', caller });
      if (reply.refused) throw refusal(reply.refused);
    },
  };
}

/** `GET /metrics` answered with every worker's metrics, summed by the primary. */
export function sharedMetrics(channel: PrimaryChannel, registry: Registry): () => Promise<string> {
  channel.reportMetricsOf(registry);
  return async () => {
    const reply = await channel.ask({ sluice: 'metrics' });
    if (reply.refused) throw refusal(reply.refused);
    return reply.metrics ?? '';
  };
}

function hasRegistry(telemetry: Telemetry): telemetry is Telemetry & { registry: Registry } {
  return 'registry' in telemetry;
}

/** Starts this worker's gateway on the cluster's port, sharing rate limits and metrics, and tells the primary. */
export async function startClusterWorker(
  config: GatewayConfig,
  options: Omit<StartOptions, 'cluster'> = {},
): Promise<RunningGateway> {
  const channel = new PrimaryChannel();
  const limited = config.server.rateLimit.requestsPerMinute > 0;
  const gateway = await startGateway(config, {
    ...options,
    cluster: {
      // Without a limit nothing is counted, and no request waits on the primary.
      rateLimiter: limited ? sharedRateLimiter(channel) : undefined,
      share: (telemetry) =>
        hasRegistry(telemetry)
          ? { ...telemetry, metrics: sharedMetrics(channel, telemetry.registry) }
          : telemetry,
    },
  });
  channel.announce(gateway.url);
  return gateway;
}

import { z } from 'zod/v4';

/**
 * Where the stream log lives: `memory` (this process; the embedded default) or a
 * `redis://[user:password@]host:port/db` URL (`rediss://` for TLS), shared by several instances.
 */
export const StreamStoreSchema = z.union([
  z.literal('memory'),
  z
    .string()
    .regex(/^rediss?:\/\//, 'streams.store must be "memory" or a redis://host:port/db URL')
    .refine((url) => URL.canParse(url), 'streams.store is not a valid URL'),
]);

/** The `streams` piece of the gateway's configuration. */
export const StreamsConfigSchema = z.strictObject({
  store: StreamStoreSchema.default('memory'),
  /** How long a stream stays readable after its last write. */
  ttlSeconds: z.number().int().positive().default(600),
  /** How long a producer's lease lasts without renewal; a dead producer's stream is taken over after it. */
  leaseMs: z.number().int().min(100).default(3000),
  /** How long a generation runs on with nobody reading before it is aborted. */
  detachGraceMs: z.number().int().nonnegative().default(30_000),
  /** `detach`: a client leaving lets the generation run on for `detachGraceMs`; `abort`: stop at once. */
  onDisconnect: z.enum(['detach', 'abort']).default('detach'),
  /** Prepended to every Redis key and channel: gateways sharing a Redis share streams only under one prefix. */
  keyPrefix: z.string().min(1).default('sluice:streams:'),
});
export type StreamsConfig = z.infer<typeof StreamsConfigSchema>;

/** The environment variable and command-line flag that override `streams.store`. */
export const STREAM_STORE_ENV = 'SLUICE_STREAM_STORE';
export const STREAM_STORE_FLAG = '--stream-store' as const;

/** `streams.store` from the flag, else the environment, else the config file, else memory. */
export function resolveStreamStore(options: {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  config?: string | undefined;
}): string {
  const chosen = options.flag ?? options.env?.[STREAM_STORE_ENV] ?? options.config ?? 'memory';
  return StreamStoreSchema.parse(chosen);
}

export const DEFAULT_STREAMS_CONFIG: StreamsConfig = StreamsConfigSchema.parse({});

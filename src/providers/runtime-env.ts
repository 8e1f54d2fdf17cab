type Env = Record<string, string | undefined>;

/**
 * The environment variables, where the runtime has them (Node, Bun, Deno's compatibility);
 * empty in a browser or a worker, where the client is configured by its options alone.
 */
export function runtimeEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}

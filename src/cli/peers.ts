/**
 * The gateway's and MCP's packages are optional peer dependencies of `sluice`, so that a
 * library user does not install a web server. The commands that need them load them here,
 * and say what to install when they are missing instead of printing Node's resolution error.
 */

/** What `sluice serve` needs beyond the library. */
export const GATEWAY_PACKAGES = ['fastify', '@fastify/cors', 'pino', 'prom-client'] as const;
/** What the MCP commands and options need beyond the library. */
export const MCP_PACKAGES = ['@modelcontextprotocol/sdk'] as const;

/** Thrown when a command's optional packages are not installed; the message says what to run. */
export class MissingPackageError extends Error {
  override name = 'MissingPackageError';
}

/**
 * Runs `load` (a dynamic import of the modules `feature` needs); when it fails because one of
 * `packages` is not installed, throws a `MissingPackageError` naming the command to run.
 */
export async function importPeers<T>(
  feature: string,
  packages: readonly string[],
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const missing = missingPackageOf(error);
    if (missing === undefined || !packages.some((name) => missing === name)) throw error;
    throw new MissingPackageError(
      `${feature} needs ${missing}, an optional dependency of sluice that is not installed: run \`npm install ${packages.join(' ')}\`.`,
    );
  }
}

/** The package an ERR_MODULE_NOT_FOUND names ("Cannot find package 'x' imported from …"). */
function missingPackageOf(error: unknown): string | undefined {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') return;
  return /Cannot find package '([^']+)'/.exec(error.message)?.[1];
}

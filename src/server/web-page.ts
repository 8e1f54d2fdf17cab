import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Where the page's files are: `web/` at the package's root, two levels above this module both
 * in the checkout (`src/server/`) and in the published package (`dist/server/`).
 */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * The page's Content-Security-Policy: its own scripts, styles and API only, no inline code
 * (model output that slipped through as HTML still could not run), no framing by anyone.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.md': 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
}

/**
 * `GET /` (the chat page) and `GET /web/*` (its scripts and styles), outside the API plugin:
 * the page must load without a key, since it is where the key is typed. The files are read
 * once, at registration, into a map: a URL can only name a file that was there, so no path
 * in a request ever reaches the file system.
 */
export function registerWebPage(app: FastifyInstance, root: string = WEB_ROOT): void {
  const assets = readAssets(root);
  const page = assets.get('index.html');
  if (!page) return;
  app.get('/', async (_request, reply) => sendAsset(reply, page));
  app.get('/web/*', async (request, reply) => {
    const asset = assets.get((request.params as { '*': string })['*']);
    if (!asset || asset === page) return reply.callNotFound();
    return sendAsset(reply, asset);
  });
}

function sendAsset(reply: FastifyReply, asset: Asset): FastifyReply {
  return reply
    .header('content-type', asset.type)
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-cache')
    .send(asset.body);
}

/** Every file under `root` with a known type, by its path relative to `root` ('/'-separated). */
function readAssets(root: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let names: string[];
  try {
    names = readdirSync(root, { recursive: true, encoding: 'utf8' });
  } catch {
    // A library build without web/ (or a trimmed deployment): the gateway serves its API alone.
    return assets;
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const path = join(root, name);
    const key = relative(root, path).split('\\').join('/');
    try {
      assets.set(key, { body: readFileSync(path), type });
    } catch {
      // A directory whose name ends like a file type: nothing to serve.
    }
  }
  return assets;
}

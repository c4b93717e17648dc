// The browser UI built by Vite into web/dist: the booking page at `/`, the operations dashboard
// at `/ops`, and their hashed assets. A missing build is a clear 503 page, never a crash, so the
// API keeps working on a checkout where `npm run build:web` has not run yet.
import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

export interface WebRouteOptions {
  /** Absolute path of the Vite output (the folder holding index.html, ops.html and assets/). */
  root: string;
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dialback: web UI not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>web UI not built: run npm run build:web</h1>
<p>The callback API is up (see <a href="/docs">/docs</a>); only the browser pages are missing.
Build them with <code>npm run build:web</code>, then restart the service.</p>
</body></html>
`;

/** The repository's web/dist, found from this module whether it runs from src/ or dist/. */
export function defaultWebRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'web', 'dist');
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve('web', 'dist');
    dir = parent;
  }
}

function notBuilt(reply: FastifyReply): FastifyReply {
  return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
}

async function sendPage(reply: FastifyReply, file: string): Promise<FastifyReply> {
  let html: string;
  try {
    // Read per request: a build made after boot is picked up without a restart.
    html = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return notBuilt(reply);
    throw err;
  }
  return reply.type('text/html; charset=utf-8').send(html);
}

export async function webRoutes(app: FastifyInstance, opts: WebRouteOptions): Promise<void> {
  const root = path.resolve(opts.root);
  const hidden = { schema: { hide: true } };

  app.get('/', hidden, async (_req, reply) => sendPage(reply, path.join(root, 'index.html')));
  app.get('/ops', hidden, async (_req, reply) => sendPage(reply, path.join(root, 'ops.html')));

  const assets = path.join(root, 'assets');
  if (fs.existsSync(assets)) {
    await app.register(fastifyStatic, {
      root: assets,
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      // Vite names every asset by its content hash.
      immutable: true,
      maxAge: '1y',
    });
  } else {
    app.get('/assets/*', hidden, async (_req, reply) => notBuilt(reply));
  }
}

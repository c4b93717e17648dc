// Builds the booking page (index.html) and the operations dashboard (ops.html) into web/dist as
// plain static files; the service serves them (src/http/routes/web.ts), nothing comes from a CDN.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  build: {
    outDir: path.join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        index: path.join(here, 'index.html'),
        ops: path.join(here, 'ops.html'),
      },
    },
  },
  // `npx vite --config web/vite.config.ts` for live editing against `npm start` on :8080.
  server: {
    proxy: {
      '/genesys': 'http://127.0.0.1:8080',
      '/dialback': 'http://127.0.0.1:8080',
      '/metrics': 'http://127.0.0.1:8080',
    },
  },
});

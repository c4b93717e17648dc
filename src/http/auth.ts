// API keys: when configured, mutating and admin routes need `x-api-key`. Keys are compared
// through their SHA-256 digests with timingSafeEqual, so neither content nor length leaks.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DialbackError } from '../errors';

const MUTATING = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function createApiKeyCheck(keys: readonly string[]): (req: FastifyRequest) => void {
  const digests = keys.map(digest);
  return (req) => {
    if (digests.length === 0) return;
    // The route pattern, not the raw URL: percent-encoding cannot sneak past the check.
    const pattern = req.routeOptions.url ?? '';
    const guarded = MUTATING.has(req.method) || pattern.startsWith('/genesys/1/admin/');
    if (!guarded) return;
    const given = req.headers['x-api-key'];
    if (typeof given === 'string' && given.length > 0) {
      const d = digest(given);
      // Compare against every key so the time taken does not say which one matched.
      let ok = false;
      for (const k of digests) ok = timingSafeEqual(d, k) || ok;
      if (ok) return;
    }
    throw new DialbackError('CallbackExceptionUnauthorized', 'missing or invalid x-api-key');
  };
}

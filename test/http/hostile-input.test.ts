import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { SERVICE, setup } from './helpers';

describe('hostile input', () => {
  let app: FastifyInstance;
  before(async () => {
    ({ app } = await setup());
  });
  after(() => app.close());

  it('never answers a 5xx to arbitrary bodies, content types and query strings', async () => {
    const contentType = fc.constantFrom(
      'application/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'multipart/form-data',
      'multipart/form-data; boundary=',
      'text/plain',
      'application/octet-stream',
      '',
    );
    const path = fc.constantFrom(
      `/genesys/1/service/callback/${SERVICE}`,
      `/genesys/1/service/440-x/connect`,
      '/genesys/1/admin/callback/cancel',
      `/genesys/1/service/callback/${SERVICE}/440-x`,
    );
    const body = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.json({ maxDepth: 3 }),
      fc
        .array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })), {
          maxLength: 5,
        })
        .map(
          (fs) =>
            fs
              .map(
                ([k, v]) => `--xyz\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
              )
              .join('') + '--xyz--',
        ),
    );
    const query = fc.string({ maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(
        contentType,
        path,
        body,
        query,
        fc.constantFrom('POST', 'PUT', 'GET', 'DELETE'),
        async (ct, p, b, q, method) => {
          const res = await app.inject({
            method: method as 'POST',
            url: `${p}?${encodeURI(q)}`,
            headers: ct ? { 'content-type': ct } : {},
            payload: method === 'GET' ? undefined : b,
          });
          assert.ok(
            res.statusCode < 500,
            `${method} ${p} ${ct} ${JSON.stringify(b)} -> ${res.statusCode} ${res.body}`,
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  it('never answers a 5xx to arbitrary availability query values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), fc.string({ maxLength: 10 }), async (t, n) => {
        const qs = new URLSearchParams({ timestamp: t, 'number-of-days': n }).toString();
        const r1 = await app.inject({
          url: `/genesys/1/service/callback/${SERVICE}/availability?${qs}`,
        });
        const r2 = await app.inject({
          url: `/genesys/2/service/callback/${SERVICE}/availability?${new URLSearchParams({ timezone: t, 'start-ms': n })}`,
        });
        assert.ok(r1.statusCode < 500 && r2.statusCode < 500, `${r1.body} ${r2.body}`);
      }),
      { numRuns: 200 },
    );
  });
});

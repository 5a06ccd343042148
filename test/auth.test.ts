// Token checks: hashes only in the config, every hash compared, bearer parsing strict.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { bearerToken, requireRole } from '../src/http/auth.js';
import { matchesAny, sha256Hex } from '../src/tokens.js';
import { errorResponse, HttpError } from '../src/http/http-error.js';

describe('tokens', () => {
  const operator = sha256Hex('demo-operator-token');
  it('hashes like `printf %s TOKEN | sha256sum`', () => {
    assert.equal(operator, '61112491d046c3f6f8ab801f170d9b2d0c734a17ceff60dee92123fb507cfc3f');
  });
  it('matches a token against any of the configured hashes', () => {
    const other = sha256Hex('someone-else');
    assert.equal(matchesAny('demo-operator-token', [other, operator]), true);
    assert.equal(matchesAny('demo-operator-token', [other]), false);
    assert.equal(matchesAny('demo-operator-token', []), false);
    // The hash itself is not a token.
    assert.equal(matchesAny(operator, [operator]), false);
  });
  it('accepts only well-formed bearer headers', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});

describe('refusals', () => {
  const hashes = { operators: [sha256Hex('op')], submitters: [sha256Hex('sub')] };
  const app = new Hono();
  app.post('/jobs', requireRole('submitter', hashes), (c) => c.text('ok'));
  app.get('/jobs', requireRole(['operator', 'submitter'], hashes), (c) => c.text('ok'));
  app.post('/hold', requireRole('operator', hashes), (c) => c.text('ok'));
  app.onError((error, c) =>
    error instanceof HttpError
      ? errorResponse(c, error.status, error.code, error.message, error.details)
      : c.text('unexpected', 500),
  );
  const refusal = async (method: string, path: string, token?: string): Promise<[number, unknown]> => {
    const response = await app.request(path, {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    return [response.status, ((await response.json()) as { error: unknown }).error];
  };

  it('name the token needed with the right article, and which roles for a client to word it', async () => {
    assert.deepEqual(await refusal('POST', '/jobs'), [
      401,
      {
        code: 'unauthorized',
        message: 'this needs a submitter token: send "Authorization: Bearer TOKEN"',
        needs: ['submitter'],
      },
    ]);
    assert.deepEqual(await refusal('GET', '/jobs'), [
      401,
      {
        code: 'unauthorized',
        message: 'this needs an operator or a submitter token: send "Authorization: Bearer TOKEN"',
        needs: ['operator', 'submitter'],
      },
    ]);
    assert.deepEqual(await refusal('POST', '/hold', 'sub'), [
      403,
      { code: 'forbidden', message: 'this needs an operator token' },
    ]);
    assert.deepEqual(await refusal('POST', '/jobs', 'op'), [
      403,
      { code: 'forbidden', message: 'this needs a submitter token' },
    ]);
  });
});

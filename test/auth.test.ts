// Token checks: hashes only in the config, every hash compared, bearer parsing strict.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, matchesAny, sha256Hex } from '../src/http/auth.js';

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

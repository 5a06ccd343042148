// Durations, sizes, listen addresses and the key locator: the small parsers
// every config error message depends on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../src/config/duration.js';
import { KeyLocator } from '../src/config/locate-key.js';
import { isLinkLocal, parseListen } from '../src/config/schema.js';
import { parseSize } from '../src/config/size.js';
import { closest } from '../src/config/suggest.js';

describe('durations', () => {
  it('accepts the units operators write', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration('2d'), 172_800_000);
  });
  it('rejects what it would have to guess', () => {
    for (const bad of ['', '10', '10 min', '10min', '-5s', 's', '1h 30m', '1e3s', '5 s'])
      assert.equal(parseDuration(bad), undefined, bad);
  });
});

describe('sizes', () => {
  it('knows binary and decimal units', () => {
    assert.equal(parseSize('4GiB'), 4 * 2 ** 30);
    assert.equal(parseSize('512MiB'), 512 * 2 ** 20);
    assert.equal(parseSize('1GB'), 1e9);
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('1.5KiB'), 1536);
  });
  it('rejects lowercase, unknown and signed units', () => {
    for (const bad of ['4gib', '4Gb', '4 gigabytes', '-1GiB', 'GiB', '', '1e3'])
      assert.equal(parseSize(bad), undefined, bad);
  });
});

describe('listen addresses', () => {
  it('parses IPv4, bracketed IPv6 and names', () => {
    assert.deepEqual(parseListen('127.0.0.1:8421'), { host: '127.0.0.1', port: 8421 });
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen('localhost:9000'), { host: 'localhost', port: 9000 });
  });
  it('rejects missing ports, bare IPv6 and out-of-range ports', () => {
    for (const bad of ['127.0.0.1', '::1:80', '[::1]', 'host:0', 'host:70000', '[zz]:80', ':80'])
      assert.equal(parseListen(bad), undefined, bad);
  });
  it('tells link-local from global IPv6', () => {
    assert.equal(isLinkLocal('fe80::1'), true);
    assert.equal(isLinkLocal('febf::1'), true);
    assert.equal(isLinkLocal('fec0::1'), false);
    assert.equal(isLinkLocal('fd00::1'), false);
    assert.equal(isLinkLocal('fe8::1'), false);
  });
});

describe('key locator', () => {
  const source = [
    '# lab',
    '[agent]',
    'listen = "x"',
    '',
    '[devices.sp]',
    'kind = "usb"',
    'vid = 1',
    '[slots."odd name"]',
    'devices = ["sp"]',
    '[slots.a.limits]',
    'memory = "1"',
  ].join('\n');
  const locator = new KeyLocator(source);
  it('finds keys inside their table', () => {
    assert.equal(locator.lineOf(['agent', 'listen']), 3);
    assert.equal(locator.lineOf(['devices', 'sp', 'vid']), 7);
    assert.equal(locator.lineOf(['slots', 'odd name', 'devices', 2]), 9);
    assert.equal(locator.lineOf(['slots', 'a', 'limits', 'memory']), 11);
  });
  it('falls back to the table header, or nothing', () => {
    assert.equal(locator.lineOf(['devices', 'sp', 'pid']), 5);
    assert.equal(locator.lineOf(['health', 'interval']), undefined);
  });
});

describe('suggestions', () => {
  it('suggests the key a typo meant', () => {
    assert.equal(closest('devcies', ['devices', 'target', 'env']), 'devices');
    assert.equal(closest('baudrate', ['baud', 'path', 'probe']), 'baud');
    assert.equal(closest('zzzzzzzz', ['baud', 'path']), undefined);
    // Three edits away from a two-letter key is no near miss.
    assert.equal(closest('prot', ['on', 'off', 'status']), undefined);
    assert.equal(closest('prot', ['port', 'pdu']), 'port');
  });
});

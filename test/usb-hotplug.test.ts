// The /dev/bus/usb watcher with real inotify on a directory laid out like it:
// a node removed from a bus directory is an event, and so is one in a bus
// directory that appeared after the watch began.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { devNodeHotplug, type HotplugEvent } from '../src/health/usb-hotplug.js';
import { tempDir } from './helpers/temp-dir.js';
import { eventually } from './helpers/eventually.js';

describe('device node hotplug', () => {
  it('reports nodes vanishing and appearing, in old and new bus directories', async (t) => {
    const root = tempDir(t);
    mkdirSync(join(root, '001'));
    writeFileSync(join(root, '001', '002'), '');
    const events: HotplugEvent[] = [];
    const stop = devNodeHotplug(root)((event) => events.push(event));
    t.after(stop);

    rmSync(join(root, '001', '002'));
    await eventually(() => events.length > 0, { timeoutMs: 2_000, message: 'the removal event' });

    mkdirSync(join(root, '002'));
    await eventually(() => events.length > 1, { timeoutMs: 2_000, message: 'the new bus event' });
    const seen = events.length;
    // Give the watcher of the new bus a moment to be installed by the event handler.
    await new Promise((resolve) => setTimeout(resolve, 50));
    writeFileSync(join(root, '002', '001'), '');
    await eventually(() => events.length > seen, { timeoutMs: 2_000, message: 'an event from the new bus directory' });
  });

  it('gives no events and no error where there is no USB at all', () => {
    const stop = devNodeHotplug('/nonexistent/dev/bus/usb')(() => assert.fail('no events expected'));
    stop();
  });
});

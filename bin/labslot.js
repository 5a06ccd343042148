#!/usr/bin/env node
// The installed entry point; the CLI itself is compiled into dist/ by `npm ci` (prepare).
import { main } from '../dist/cli/main.js';

// `labslot check | head` closes our stdout early: that is the reader's choice, not an error to print.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));

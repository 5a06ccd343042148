#!/usr/bin/env node
// The installed entry point; the CLI itself is compiled into dist/ by `npm ci` (prepare).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));

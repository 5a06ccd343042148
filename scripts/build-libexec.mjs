#!/usr/bin/env node
// Part of `npm run build`: compiles the agent's small native helpers from
// libexec/*.c into dist/libexec/. Each has a fallback the agent uses when it
// is absent, so a host without a C compiler, or one that cannot compile it,
// still builds:
//   labslot-landlock  jobs' Landlock launcher; else python3 runs
//                     libexec/labslot-landlock (src/platform/linux/landlock.ts)
//   labslot-spawner   starts the agent's programs; else Node's spawn forks the
//                     agent for each (src/platform/process-starter.ts)
// CI's tests (CI=true) fail when either is missing.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const HELPERS = [
  { name: 'labslot-landlock', fallback: 'jobs will use the python3 Landlock launcher' },
  {
    name: 'labslot-spawner',
    extra: ['labslot-spawner-job.c'],
    fallback: "the agent will start programs and jobs with Node's spawn",
  },
];
const cc = process.env.CC || 'cc';
const FLAGS = ['-O2', '-Wall', '-Wextra', '-Werror'];
const dir = fileURLToPath(new URL('../dist/libexec/', import.meta.url));
const hasCompiler = spawnSync(cc, ['--version'], { stdio: 'ignore' }).error === undefined;
mkdirSync(dir, { recursive: true });

for (const { name, extra: more = [], fallback } of HELPERS) {
  const [source, ...others] = [`${name}.c`, ...more].map((file) =>
    fileURLToPath(new URL(`../libexec/${file}`, import.meta.url)),
  );
  const target = `${dir}${name}`;
  if (!hasCompiler) {
    // A helper left by an earlier build would be run in place of the source it no longer matches.
    rmSync(target, { force: true });
    console.log(`build-libexec: no C compiler (${cc}): ${fallback}`);
    continue;
  }
  // Written beside and renamed: the agent picks a helper by its existence, so never a half-written one.
  const partial = `${target}.partial`;
  const compile = (extra) =>
    spawnSync(cc, [...FLAGS, ...extra, '-o', partial, source, ...others], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  // Static when the host has a static libc (Debian's libc6-dev does): no dynamic loader at each start.
  let result = compile(['-static']);
  if (result.status !== 0) result = compile([]);
  if (result.status !== 0) {
    // A compiler without libc's headers (gcc without libc6-dev) is a host without a usable one: the build goes on
    // with the fallback, as without a compiler, and says why.
    rmSync(partial, { force: true });
    rmSync(target, { force: true });
    console.error(`build-libexec: ${cc} could not compile ${source}; ${fallback}:\n${result.stdout}${result.stderr}`);
    continue;
  }
  // The Landlock launcher runs inside the sandbox as the worker, not as the user who built it.
  chmodSync(partial, 0o755);
  renameSync(partial, target);
}

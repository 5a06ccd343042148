// Jobs for people: the summary of `labslot job status` and the rows of
// `labslot job list`. The JSON forms print the API's own objects instead.
import { formatTable } from './format-table.js';
import type { JobJson } from './job-json.js';
import { formatDuration } from '../config/duration.js';
import { plural } from '../words.js';

const COMMAND_WIDTH = 48;

export function formatJobSummary(job: JobJson): string {
  const rows: [string, string][] = [
    ['job', job.id],
    ['target', job.target],
    ['state', job.infrastructure ? `${job.state} (infrastructure failure)` : job.state],
    ['slot', job.slot ?? '-'],
    ...(job.host == null ? [] : [['host', job.host] as [string, string]]),
    ['command', describeCommand(job)],
    ['exit code', exitText(job)],
    ['reason', job.end_reason ?? '-'],
  ];
  if (job.requested_slot !== null)
    rows.splice(4, 0, [
      'asked for',
      `slot ${job.requested_slot}${job.allow_held_by === null ? '' : `, held or not (allowed by ${job.allow_held_by})`}`,
    ]);
  if (job.state === 'queued') rows.push(['waiting', job.waiting ?? '-']);
  rows.push(
    ['priority', String(job.priority)],
    ['timeout', formatDuration(job.timeout_ms)],
    ['submitted', `${shortTime(job.submitted_at)}${job.submitted_by === null ? '' : ` by ${job.submitted_by}`}`],
    ['started', job.started_at === null ? '-' : shortTime(job.started_at)],
    ['ended', job.ended_at === null ? '-' : shortTime(job.ended_at)],
    ['output', plural(job.output_bytes, 'byte')],
  );
  return formatTable(rows);
}

export function formatJobTable(jobs: readonly JobJson[]): string {
  const rows = jobs.map((job) => [
    job.id,
    job.target,
    job.state,
    // In a lab the slot's host says where the job ran.
    job.slot === null ? '-' : job.host == null ? job.slot : `${job.slot}@${job.host}`,
    exitColumn(job),
    shortTime(job.submitted_at),
    truncate(describeCommand(job), COMMAND_WIDTH),
    noteFor(job),
  ]);
  return formatTable([['ID', 'TARGET', 'STATE', 'SLOT', 'EXIT', 'SUBMITTED', 'COMMAND', 'NOTE'], ...rows]);
}

/** What the reader most wants to know next to the state: why it waits, or why it ended. */
function noteFor(job: JobJson): string {
  if (job.state === 'queued') return job.waiting ?? '';
  if (job.done && job.state !== 'succeeded') return job.end_reason ?? '';
  return '';
}

/**
 * The list's EXIT: the job's own verdict only. A job that was cancelled, timed
 * out or marked its slot broken may still have a process exit code (0 after
 * mark-broken, 143 after SIGTERM); showing it would read as the job's answer,
 * so those show "-" and the NOTE column says why they ended.
 */
function exitColumn(job: JobJson): string {
  if (job.ended_by === 'exit') return String(job.exit_code ?? '-');
  if (job.ended_by === 'signal') return job.signal ?? '-';
  return '-';
}

function exitText(job: JobJson): string {
  if (job.exit_code !== null) return String(job.exit_code);
  return job.signal ?? '-';
}

function describeCommand(job: JobJson): string {
  if (job.argv !== null) return job.argv.map(shellQuote).join(' ');
  if (job.script !== null) {
    const lines = job.script.trimEnd().split('\n').length;
    return `script (${lines} ${lines === 1 ? 'line' : 'lines'})`;
  }
  return '-';
}

/** Quoted the way a shell would need it, so a command can be copied and pasted. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** ISO time to the second: milliseconds add width, not information, in a table. */
function shortTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

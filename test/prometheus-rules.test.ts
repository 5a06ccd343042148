// contrib/prometheus/labslot.rules.yml as operators load it: valid for
// `promtool check rules`, its unit file passing `promtool test rules`, and
// both able to fail (a broken copy, a changed threshold). Then what promtool
// cannot know: every metric and label the rules read is one the agent exports
// (README "Metrics"), every alert has a severity, annotations and a runbook
// link to a README heading, and the unit file has a firing and a quiet case for each.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { command, requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

const root = new URL('..', import.meta.url);
const rulesPath = new URL('contrib/prometheus/labslot.rules.yml', root).pathname;
const unitTestPath = new URL('contrib/prometheus/labslot.rules.test.yml', root).pathname;
const rulesText = readFileSync(rulesPath, 'utf8');
const unitTestText = readFileSync(unitTestPath, 'utf8');
const readme = readFileSync(new URL('README.md', root), 'utf8');

const PROMTOOL = command('promtool', ['--version']);

// Prometheus's own per-target metric: whether the agent could be scraped.
const PROMETHEUS_METRICS = new Map<string, string[]>([['up', []]]);
// Prometheus adds these to every scraped series.
const TARGET_LABELS = ['job', 'instance'];

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

interface Alert {
  name: string;
  expr: string;
  block: string;
}

/**
 * The alerts of a rule file, read as text: no YAML parser is a dependency, and
 * the file keeps one layout (`- alert:`, then `expr:` on one line or as a `|` block).
 */
function alerts(text: string): Alert[] {
  const lines = text.split('\n');
  const starts = lines.flatMap((line, i) => (/^\s*- alert:/.test(line) ? [i] : []));
  return starts.map((start, n) => {
    const end = starts[n + 1] ?? lines.length;
    const blockLines = lines.slice(start, end);
    const name = /- alert:\s*(\S+)/.exec(blockLines[0] ?? '')?.[1] ?? '';
    const exprAt = blockLines.findIndex((line) => /^\s*expr:/.test(line));
    assert.ok(exprAt >= 0, `alert ${name} has no expr`);
    const exprLine = blockLines[exprAt] ?? '';
    const indent = exprLine.search(/\S/);
    const inline = exprLine.replace(/^\s*expr:\s*/, '');
    let expr = inline;
    if (/^[|>][-+]?$/.test(inline)) {
      const body: string[] = [];
      for (const line of blockLines.slice(exprAt + 1)) {
        if (line.trim() !== '' && line.search(/\S/) <= indent) break;
        body.push(line);
      }
      expr = body.join('\n');
    }
    return { name, expr, block: blockLines.join('\n') };
  });
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset']);

/** Metric names in a PromQL expression: identifiers left once strings, matchers, ranges, label lists and calls are gone. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:on|ignoring|by|without|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)].map((m) => m[1] ?? '');
  return [...new Set(names.filter((name) => !KEYWORDS.has(name)))];
}

/** `metric{label="...", ...}` selectors: each metric with the label names it matches on. */
function matchedLabels(expr: string): { metric: string; labels: string[] }[] {
  return [...expr.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1] ?? '',
    labels: [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? ''),
  }));
}

/** The README's Metrics table: metric name → its labels. */
function readmeMetrics(): Map<string, string[]> {
  const start = readme.indexOf('\n### Metrics\n');
  assert.ok(start >= 0, 'README.md has no "### Metrics" section');
  const body = readme.slice(start + '\n### Metrics\n'.length);
  const end = body.search(/^#{2,3} /m);
  const section = end < 0 ? body : body.slice(0, end);
  const rows = section.split('\n').flatMap((line) => {
    const m = /^\|\s*`([a-z_:][\w:]*)`\s*\|([^|]*)\|/.exec(line);
    if (!m) return [];
    const labels = (m[2] ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    return [[m[1] ?? '', labels] as const];
  });
  return new Map(rows);
}

/** GitHub's anchors for the README's headings (outside code blocks). */
function readmeAnchors(): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of readme.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    anchors.add(
      (heading[1] ?? '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_ -]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return anchors;
}

const ruleAlerts = alerts(rulesText);

describe('contrib/prometheus/labslot.rules.yml with promtool', () => {
  it('passes promtool check rules, with every alert counted', (t) => {
    if (!requires(t, PROMTOOL)) return;
    const run = promtool('check', 'rules', '--lint-fatal', rulesPath);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${ruleAlerts.length} rules found`), run.output);
  });

  it('fails promtool check rules when an expression is broken', (t) => {
    if (!requires(t, PROMTOOL)) return;
    const dir = tempDir(t);
    const first = ruleAlerts[0];
    assert.ok(first, 'the rule file has alerts');
    const broken = rulesText.replace(first.expr, `(${first.expr}`);
    assert.notEqual(broken, rulesText, 'the copy was not broken');
    const brokenPath = join(dir, 'labslot.rules.yml');
    writeFileSync(brokenPath, broken);
    const run = promtool('check', 'rules', brokenPath);
    assert.notEqual(run.status, 0, `promtool accepted a broken rule:\n${run.output}`);
    assert.match(run.output, /parse error|unclosed/i, run.output);
  });

  it('passes its promtool test rules unit file', (t) => {
    if (!requires(t, PROMTOOL)) return;
    const run = promtool('test', 'rules', unitTestPath);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS/);
  });

  it('fails the unit file when a threshold changes, so the cases pin the rules down', (t) => {
    if (!requires(t, PROMTOOL)) return;
    const dir = tempDir(t);
    // The unit file names the rule file relative to itself.
    copyFileSync(unitTestPath, join(dir, 'labslot.rules.test.yml'));
    const changed = rulesText.replace(
      'labslot_queue_oldest_age_seconds > 1800',
      'labslot_queue_oldest_age_seconds > 3600',
    );
    assert.notEqual(changed, rulesText, 'the threshold to change was not found');
    writeFileSync(join(dir, 'labslot.rules.yml'), changed);
    const run = promtool('test', 'rules', join(dir, 'labslot.rules.test.yml'));
    assert.notEqual(run.status, 0, run.output);
    assert.match(run.output, /alertname: LabslotQueueOldestJob/, run.output);
  });
});

describe('contrib/prometheus/labslot.rules.yml against the agent', () => {
  const exported = readmeMetrics();

  it('reads the README Metrics table', () => {
    assert.ok(exported.size >= 20, `found only ${exported.size} metrics in README "Metrics"`);
    assert.deepEqual(exported.get('labslot_slot_held'), ['slot', 'target', 'source']);
    assert.ok(ruleAlerts.length >= 8, `found only ${ruleAlerts.length} alerts`);
  });

  it('reads only metrics the agent exports, or recovery metrics, or up', () => {
    const known = new Map([...exported, ...PROMETHEUS_METRICS]);
    for (const alert of ruleAlerts) {
      const names = metricNames(alert.expr);
      assert.ok(names.length > 0, `${alert.name}: no metric found in ${alert.expr}`);
      const unknown = names.filter((name) => !known.has(name));
      assert.deepEqual(unknown, [], `${alert.name} reads metrics no agent exports`);
    }
  });

  it('matches only on labels those metrics have', () => {
    const known = new Map([...exported, ...PROMETHEUS_METRICS]);
    for (const alert of ruleAlerts) {
      for (const { metric, labels } of matchedLabels(alert.expr)) {
        const allowed = [...(known.get(metric) ?? []), ...TARGET_LABELS];
        const unknown = labels.filter((label) => !allowed.includes(label));
        assert.deepEqual(unknown, [], `${alert.name}: ${metric} has no such label`);
      }
    }
  });

  it('finds the metric names in an expression (the reader above)', () => {
    assert.deepEqual(
      metricNames(
        'a_total{x="y"} == 1 and on (instance, slot) (increase(b_total[1h]) > 0 or (b_total > 0 unless c offset 1h))',
      ),
      ['a_total', 'b_total', 'c'],
    );
    assert.deepEqual(metricNames('max without (instance) (up{job="labslot"}) > 4 * 3600'), ['up']);
  });
});

describe('contrib/prometheus/labslot.rules.yml for operators', () => {
  const anchors = readmeAnchors();

  it('gives every alert a severity, a summary, a description and a runbook link to a README heading', () => {
    for (const alert of ruleAlerts) {
      assert.match(alert.block, /^\s+severity: (?:warning|critical)$/m, `${alert.name}: severity`);
      assert.match(alert.block, /^\s+summary: \S/m, `${alert.name}: summary`);
      assert.match(alert.block, /^\s+description: \S/m, `${alert.name}: description`);
      const runbook = /^\s+runbook: (\S+)$/m.exec(alert.block)?.[1];
      assert.ok(runbook, `${alert.name}: runbook`);
      const anchor = /^https:\/\/github\.com\/labslot\/labslot#([\w-]+)$/.exec(runbook)?.[1];
      assert.ok(anchor, `${alert.name}: runbook ${runbook} is not a link to a README heading`);
      assert.ok(anchors.has(anchor), `${alert.name}: README.md has no heading for #${anchor}`);
    }
  });

  it('has a firing and a quiet case for every alert in the unit file', () => {
    const cases = unitTestText.split(/^\s*- eval_time:/m).slice(1);
    const firing = new Set<string>();
    const quiet = new Set<string>();
    for (const text of cases) {
      const name = /^\s*alertname:\s*(\S+)/m.exec(text)?.[1];
      if (name === undefined) continue;
      if (/^\s*exp_alerts:\s*\[\]\s*$/m.test(text)) quiet.add(name);
      else if (/^\s*exp_alerts:\s*\n\s*- exp_labels:/m.test(text)) firing.add(name);
    }
    const names = ruleAlerts.map((a) => a.name);
    assert.deepEqual(
      names.filter((n) => !firing.has(n)),
      [],
      'alerts without a case where they fire',
    );
    assert.deepEqual(
      names.filter((n) => !quiet.has(n)),
      [],
      'alerts without a case where they stay quiet',
    );
  });
});

// Parses Prometheus text exposition with the official Python client's parser
// (Debian: python3-prometheus-client), so tests read /metrics as Prometheus
// would rather than with a regex that agrees with our own output.
import { spawnSync } from 'node:child_process';
import type { Prerequisite } from './prerequisites.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

// The Debian package installs for the system Python; a pyenv or venv python3 earlier in PATH does not see it.
const CANDIDATES = ['/usr/bin/python3', 'python3'];
const PARSER = 'prometheus_client.parser';

function canParse(python: string): boolean {
  return spawnSync(python, ['-c', `import ${PARSER}`], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

let python: string | null | undefined;
function pythonWithParser(): string | null {
  python ??= CANDIDATES.find(canParse) ?? null;
  return python;
}

export const PROMETHEUS_PARSER: Prerequisite = {
  what: 'the Python module prometheus_client (python3-prometheus-client)',
  met: () => pythonWithParser() !== null,
};

// Non-finite values are sent as strings: JSON has no NaN or Infinity.
const SCRIPT = `
import json, math, sys
from ${PARSER} import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    samples = [{"name": s.name, "labels": s.labels, "value": s.value if math.isfinite(s.value) else str(s.value)} for s in family.samples]
    out.append({"name": family.name, "type": family.type, "help": family.documentation, "samples": samples})
json.dump(out, sys.stdout)
`;

/** The metric families in `text`; throws with the parser's message when the text is not valid exposition format. */
export function parsePrometheusText(text: string): MetricFamily[] {
  const interpreter = pythonWithParser();
  if (interpreter === null) throw new Error(`no python3 can import ${PARSER}`);
  const run = spawnSync(interpreter, ['-c', SCRIPT], {
    input: text,
    encoding: 'utf8',
    timeout: 20_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0)
    throw new Error(
      `the Prometheus parser rejected the text (exit ${run.status ?? run.signal ?? 'none'}): ${run.stderr}`,
    );
  const families = JSON.parse(run.stdout) as {
    name: string;
    type: string;
    help: string;
    samples: { name: string; labels: Record<string, string>; value: number | string }[];
  }[];
  return families.map((f) => ({
    ...f,
    samples: f.samples.map((s) => ({
      ...s,
      value: typeof s.value === 'number' ? s.value : Number(s.value.replace('inf', 'Infinity')),
    })),
  }));
}

/** Value of the one sample named `name` whose labels include `labels`; undefined when there is none, an error when several match. */
export function sampleValue(
  families: readonly MetricFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matches = families
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}

// Values a job or a configuration could hold that break naive XML or shell
// quoting: the illumos manifest and launch-script tests both feed them through.

export const NASTY = [
  'a<b',
  'x & y',
  'say "hi"',
  "it's",
  'line1\nline2\r\n\tend',
  'cdata ]]> end',
  '"/><envvar name="LD_PRELOAD" value="/tmp/evil.so',
  '$(touch CANARY) `touch CANARY` ${HOME}',
  '100% %i %{x}',
  '-rf',
  '',
  '日本語 ✓',
  'back\\slash',
];

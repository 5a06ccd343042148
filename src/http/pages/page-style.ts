// The status page's only stylesheet, inline so the page needs nothing else.
// Held and unhealthy slots carry a coloured left border and background so they
// stand out in a long table without reading a word.
export const PAGE_CSS = `
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --held: #9a6700; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1200px; color: #1f2328; }
header { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; border-bottom: 1px solid var(--line); padding-bottom: .5rem; margin-bottom: 1rem; }
header h1 { font-size: 1.3rem; margin: 0; }
header a { color: inherit; text-decoration: none; }
h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; }
a { color: #0969da; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
tr.held { background: #fff8c5; box-shadow: inset 4px 0 var(--held); }
tr.unhealthy { background: #ffebe9; box-shadow: inset 4px 0 var(--bad); }
tr.held.unhealthy { box-shadow: inset 4px 0 var(--bad); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.healthy { color: var(--ok); } .unhealthy-text, .badge.unhealthy { color: var(--bad); } .unknown { color: var(--muted); }
.badge.held { color: var(--held); }
.muted, small { color: var(--muted); }
ul.devices { list-style: none; margin: 0; padding: 0; }
ul.devices li::before { content: "\\25CF\\00a0"; }
ul.devices li.healthy::before { color: var(--ok); } ul.devices li.unhealthy::before { color: var(--bad); } ul.devices li.unknown::before { color: var(--muted); }
ul.devices li { color: inherit; }
.banner { padding: .6rem .8rem; border-radius: 6px; margin: .5rem 0 1rem; border: 1px solid; }
.banner.bad { background: #ffebe9; border-color: var(--bad); }
.banner.held { background: #fff8c5; border-color: var(--held); }
.banner.ok { background: #dafbe1; border-color: var(--ok); }
.summary { display: flex; gap: 1.2rem; flex-wrap: wrap; margin: .3rem 0 1rem; }
.summary b { font-size: 1.2rem; }
form.action { max-width: 34rem; display: grid; gap: .6rem; }
form.action label { display: grid; gap: .2rem; font-weight: 600; }
form.action label.check { display: flex; align-items: center; gap: .4rem; }
form.action input, form.action textarea { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 6px; }
button, .button { font: inherit; padding: .35rem .9rem; border-radius: 6px; border: 1px solid var(--line); background: #f6f8fa; cursor: pointer; color: inherit; text-decoration: none; display: inline-block; white-space: nowrap; }
svg.timeline { display: block; max-width: 100%; height: auto; }
figure.timeline { margin: 0 0 .8rem; }
td { overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: .9em; }
`;

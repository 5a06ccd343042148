// A strict, small XML 1.0 parser for the SMF manifest tests: it rejects what
// a conforming parser (svccfg's libxml2) rejects in the documents we write —
// mismatched or unclosed tags, raw `<` or `&` in values, undefined entities,
// duplicate attributes, characters outside XML's Char set, a second root,
// `]]>` in text — and returns the tree with attribute values normalized the
// way the spec says (literal tab, newline and CR become spaces; character
// references survive), so a test can read back exactly what svccfg would.
// No DTD processing beyond skipping the DOCTYPE declaration.

export interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: (XmlElement | string)[];
}

export interface XmlDocument {
  doctype: string | undefined;
  root: XmlElement;
}

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const NAME = /^[A-Za-z_:\u00C0-\uFFFF][-A-Za-z0-9._:\u00B7\u00C0-\uFFFF]*/;
const NOT_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

export function parseXml(text: string): XmlDocument {
  const bad = NOT_CHAR.exec(text);
  if (bad) throw new XmlSyntaxError(`character U+${(bad[0].codePointAt(0) ?? 0).toString(16)} is not allowed in XML`);
  let pos = 0;
  const fail = (message: string): never => {
    const line = text.slice(0, pos).split('\n').length;
    throw new XmlSyntaxError(`${message} (line ${line})`);
  };
  const startsWith = (s: string): boolean => text.startsWith(s, pos);
  const skipSpace = (): void => {
    while (pos < text.length && ' \t\r\n'.includes(text.charAt(pos))) pos += 1;
  };
  const readName = (): string => {
    const m = NAME.exec(text.slice(pos));
    if (!m) return fail('a name was expected');
    pos += m[0].length;
    return m[0];
  };
  const decode = (raw: string, attribute: boolean): string => {
    if (raw.includes('<')) fail('raw < in a value');
    const normalized = attribute ? raw.replace(/[\t\n\r]/g, ' ') : raw;
    return normalized.replace(/&([^;]*);|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) return fail('raw & in a value');
      if (ref in ENTITIES) return ENTITIES[ref] ?? '';
      const m = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(ref);
      if (!m) return fail(`undefined entity &${ref};`);
      const code = m[1] !== undefined ? parseInt(m[1], 16) : Number(m[2]);
      const char = code <= 0x10ffff ? String.fromCodePoint(code) : '';
      if (char === '' || NOT_CHAR.test(char)) fail(`character reference ${whole} is not an XML character`);
      return char;
    });
  };
  const skipMisc = (): void => {
    for (;;) {
      skipSpace();
      if (startsWith('<!--')) {
        const end = text.indexOf('-->', pos + 4);
        if (end < 0) fail('unclosed comment');
        if (text.slice(pos + 4, end).includes('--')) fail('-- inside a comment');
        pos = end + 3;
      } else if (startsWith('<?')) {
        const end = text.indexOf('?>', pos);
        if (end < 0) fail('unclosed processing instruction');
        pos = end + 2;
      } else return;
    }
  };

  if (startsWith('<?xml')) {
    const end = text.indexOf('?>');
    if (end < 0) fail('unclosed XML declaration');
    if (
      !/^<\?xml\s+version\s*=\s*(["'])1\.[0-9]\1(\s+encoding\s*=\s*(["'])[A-Za-z][-A-Za-z0-9._]*\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*\?>$/.test(
        text.slice(0, end + 2),
      )
    ) {
      fail('malformed XML declaration');
    }
    pos = end + 2;
  }
  skipMisc();
  let doctype: string | undefined;
  if (startsWith('<!DOCTYPE')) {
    const m = /^<!DOCTYPE\s+([^\s>[]+)\s+SYSTEM\s+("[^"]*"|'[^']*')\s*>/.exec(text.slice(pos));
    if (!m) return fail('unsupported DOCTYPE (only <!DOCTYPE name SYSTEM "uri">)');
    doctype = m[0];
    pos += m[0].length;
    skipMisc();
  }

  const parseElement = (): XmlElement => {
    if (!startsWith('<')) fail('an element was expected');
    pos += 1;
    const element: XmlElement = { name: readName(), attrs: new Map(), children: [] };
    for (;;) {
      const before = pos;
      skipSpace();
      if (startsWith('/>')) {
        pos += 2;
        return element;
      }
      if (startsWith('>')) {
        pos += 1;
        break;
      }
      if (pos === before) fail('white space was expected between attributes');
      const name = readName();
      skipSpace();
      if (!startsWith('=')) fail(`= was expected after ${name}`);
      pos += 1;
      skipSpace();
      const quote = text.charAt(pos);
      if (quote !== '"' && quote !== "'") fail(`a quoted value was expected for ${name}`);
      const end = text.indexOf(quote, pos + 1);
      if (end < 0) fail(`unclosed value of ${name}`);
      if (element.attrs.has(name)) fail(`duplicate attribute ${name}`);
      element.attrs.set(name, decode(text.slice(pos + 1, end), true));
      pos = end + 1;
    }
    for (;;) {
      if (startsWith('</')) {
        pos += 2;
        const name = readName();
        if (name !== element.name) fail(`</${name}> closes <${element.name}>`);
        skipSpace();
        if (!startsWith('>')) fail('> was expected');
        pos += 1;
        return element;
      }
      if (startsWith('<!--') || startsWith('<?')) skipMisc();
      else if (startsWith('<![CDATA[')) {
        const end = text.indexOf(']]>', pos);
        if (end < 0) fail('unclosed CDATA section');
        element.children.push(text.slice(pos + 9, end));
        pos = end + 3;
      } else if (startsWith('<')) element.children.push(parseElement());
      else {
        const end = text.indexOf('<', pos);
        if (end < 0) fail(`unclosed element <${element.name}>`);
        const raw = text.slice(pos, end);
        if (raw.includes(']]>')) fail(']]> in text');
        element.children.push(decode(raw, false));
        pos = end;
      }
    }
  };

  const root = parseElement();
  skipMisc();
  if (pos !== text.length) fail('content after the root element');
  return { doctype, root };
}

/** Every element of the tree, depth first, the root included. */
export function allElements(root: XmlElement): XmlElement[] {
  return [root, ...root.children.flatMap((c) => (typeof c === 'string' ? [] : allElements(c)))];
}

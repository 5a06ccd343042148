// Escaping for the SMF manifests the illumos platform writes. svccfg parses
// them with a validating XML 1.0 parser, so every value that goes into an
// attribute is escaped here, including the whitespace that attribute-value
// normalization would otherwise turn into spaces, and a value XML 1.0 cannot
// carry at all (most control characters) is refused rather than mangled.

export class XmlValueError extends Error {
  override readonly name = 'XmlValueError';
}

/** Characters XML 1.0 allows in a document (its `Char` production); anything else cannot even be escaped. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Throws when `value` holds a character no XML 1.0 document can contain. `what` names it for the error. */
export function assertXmlChars(value: string, what: string): void {
  const bad = NOT_XML_CHAR.exec(value);
  if (bad) {
    const code = bad[0].codePointAt(0) ?? 0;
    throw new XmlValueError(
      `${what} contains U+${code.toString(16).toUpperCase().padStart(4, '0')}, which an XML 1.0 manifest cannot carry`,
    );
  }
}

/**
 * A value for a double-quoted attribute. Tab, newline and carriage return become
 * character references: written literally, a conforming parser normalizes them
 * to spaces. `>` is escaped too, so `]]>` never appears in the output.
 */
export function xmlAttr(value: string, what = 'a manifest value'): string {
  assertXmlChars(value, what);
  return value.replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESCAPES[c] ?? c);
}

const ATTR_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/** `name="value"` pairs for an element, escaped, in the given order; undefined values are left out. */
export function xmlAttrs(attrs: ReadonlyArray<readonly [string, string | undefined]>): string {
  return attrs
    .filter((pair): pair is readonly [string, string] => pair[1] !== undefined)
    .map(([name, value]) => ` ${name}="${xmlAttr(value, `attribute ${name}`)}"`)
    .join('');
}

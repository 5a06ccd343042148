// Console bytes as one readable line for check details, for every kind that
// reads a console (a local tty, one over TCP).

/** Control characters escaped: "login:\r\n" becomes `login:\r\n` as text. */
export function printable(bytes: Buffer): string {
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point
  const unprintable = /[\x00-\x1f\x7f-\xff]/g;
  return bytes
    .toString('latin1')
    .replace(unprintable, (c) =>
      c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    );
}

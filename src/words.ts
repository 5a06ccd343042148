// Words for messages built from parts, shared by every layer: a count with
// its noun ("1 file", "3 files") and a noun with its article ("an operator",
// "a submitter"), so that no message reads "1 files" or "an submitter".

/** "1 file", "3 files"; `many` for a plural that is not the noun plus "s" ("1 entry", "2 entries"). */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * "an operator", "a submitter", "a usb", "an ipv6": the article as the word is
 * said. A vowel letter takes "an", except where a leading "u" is said "you"
 * (usb, unix, user, unit, ...). Acronyms spelt in capitals are said letter by
 * letter ("an SP", "a USB"); their article follows the first letter's name.
 */
export function withArticle(word: string): string {
  return `${saidWithVowel(word) ? 'an' : 'a'} ${word}`;
}

/** Letters whose names start with a vowel sound: "an F", "an SP", "an RoT". */
const VOWEL_NAMED_LETTERS = /^[AEFHILMNORSX]/;

function saidWithVowel(word: string): boolean {
  if (/^[A-Z]{2}/.test(word) || /^[A-Z][a-z]?[A-Z]/.test(word)) return VOWEL_NAMED_LETTERS.test(word);
  const lower = word.toLowerCase();
  if (/^(usb|uid|url|uri|utf|uni[^nm]|use|usu|uti|ufo)/.test(lower)) return false;
  return /^[aeiou]/.test(lower);
}

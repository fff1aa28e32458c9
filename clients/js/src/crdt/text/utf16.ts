// Conversions between the code point positions of the text replica and
// the UTF-16 offsets an editor uses (a <textarea>'s selectionStart, a
// JavaScript string index).

/**
 * The code point index of UTF-16 offset off in s. An offset inside a
 * surrogate pair (which no editor caret takes) counts the pair as before it.
 */
export function utf16ToCodePoint(s: string, off: number): number {
  if (off < 0 || off > s.length) throw new RangeError(`utf16 offset ${off} outside a string of ${s.length} units`);
  let n = 0;
  for (let i = 0; i < off; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < off) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The UTF-16 offset of code point index pos in s. */
export function codePointToUtf16(s: string, pos: number): number {
  if (pos < 0) throw new RangeError(`code point index ${pos} is negative`);
  let off = 0;
  for (let k = 0; k < pos; k++) {
    if (off >= s.length) throw new RangeError(`code point index ${pos} outside a string of ${k} code points`);
    const c = s.charCodeAt(off);
    off += c >= 0xd800 && c <= 0xdbff && off + 1 < s.length && s.charCodeAt(off + 1) >= 0xdc00 && s.charCodeAt(off + 1) <= 0xdfff ? 2 : 1;
  }
  return off;
}

/**
 * The edit that turns before into after, as one replaced range: the common
 * prefix and suffix are kept, in code points. It is what an editor binding
 * needs from an input event that only reports the new value: delete del
 * code points at pos, then insert ins there.
 */
export function diffText(before: string, after: string): { pos: number; del: number; ins: string } {
  let p = 0;
  const max = Math.min(before.length, after.length);
  while (p < max && before.charCodeAt(p) === after.charCodeAt(p)) p++;
  // Do not cut a surrogate pair.
  if (p > 0 && isHigh(before.charCodeAt(p - 1))) p--;
  let s = 0;
  while (s < max - p && before.charCodeAt(before.length - 1 - s) === after.charCodeAt(after.length - 1 - s)) s++;
  if (s > 0 && isLow(before.charCodeAt(before.length - s))) s--;
  const ins = after.slice(p, after.length - s);
  const removed = before.slice(p, before.length - s);
  return { pos: utf16ToCodePoint(before, p), del: utf16ToCodePoint(removed, removed.length), ins };
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

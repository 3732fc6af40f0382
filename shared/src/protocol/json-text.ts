// What is wrong with an event's JSON text before anything parses it: nesting deeper than the limit
// (a parser would recurse that deep), or an object with the same key twice. JSON.parse keeps the
// last of two equal keys where other parsers keep the first or refuse, so a control plane and an
// agent could read different specs from the same bytes (RFC 8259 §4: the behaviour is
// unpredictable); which value was meant cannot be known, so the whole event is refused, as a text
// that is no JSON is. One pass over the text, holding one set of keys per open object.
import { MAX_JSON_DEPTH } from "./limits.ts";

interface Frame {
  /** The keys of an object seen so far; undefined for an array. */
  keys: Set<string> | undefined;
  /** The object's key (or the array's index) the next value belongs to, for the path in a reason. */
  at: string;
  index: number;
}

/** Why `text` must be refused before it is parsed, or undefined. Text that is no JSON passes here. */
export function jsonTextError(text: string, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: Frame[] = [];
  /** Inside an object, the next string is a key (not a value). */
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      const top = stack.at(-1);
      if (expectKey && top?.keys) {
        const key = decodeKey(text.slice(i, end + 1));
        if (top.keys.has(key))
          return `${path(stack)}: has the key ${JSON.stringify(key.slice(0, 80))} twice; which value is meant cannot be known`;
        top.keys.add(key);
        top.at = key;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (stack.length >= maxDepth)
        return `JSON nests objects and arrays deeper than the limit of ${maxDepth}`;
      stack.push({ keys: c === 0x7b ? new Set() : undefined, at: "0", index: 0 });
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      const top = stack.at(-1);
      if (top?.keys) expectKey = true;
      else if (top) top.at = String(++top.index);
    }
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `start` (or the text's last index). */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return text.length - 1;
}

/** A key as JSON.parse would read it (`"\u0061"` is `a`); its raw text if it is no JSON string. */
function decodeKey(raw: string): string {
  if (!raw.includes("\\")) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw;
  }
}

/** `workspace.quota`, `workspaces.3`, or `(root)`: where in the document the object is. */
function path(stack: Frame[]): string {
  const parts = stack.slice(0, -1).map((f) => f.at);
  return parts.length ? parts.join(".") : "(root)";
}

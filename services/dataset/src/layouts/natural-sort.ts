const CHUNK = /\d+|\D+/g;

function isDigits(chunk: string): boolean {
  const code = chunk.charCodeAt(0);
  return code >= 48 && code <= 57;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders strings the way people number files (image-2 before image-10), ignoring case first.
 * Locale-free on purpose: the order must not change with the machine's ICU data or language.
 * Equal-looking strings ("a01" and "a1", "A" and "a") are still ordered, so the order is total.
 */
export function naturalCompare(a: string, b: string): number {
  return a === b ? 0 : looseCompare(a, b) || compareText(a, b);
}

/**
 * Natural order of '/'-separated paths, folder by folder, so a folder's files stay together; case is
 * ignored across the whole path first, so Train/ and train/ interleave rather than split.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const sa = a.split('/');
  const sb = b.split('/');
  const length = Math.min(sa.length, sb.length);
  for (let i = 0; i < length; i += 1) {
    const bySegment = looseCompare(sa[i] ?? '', sb[i] ?? '');
    if (bySegment !== 0) return bySegment;
  }
  return sa.length - sb.length || compareText(a, b);
}

/** Natural, case-insensitive comparison; 0 for strings that differ only in case or leading zeros. */
function looseCompare(a: string, b: string): number {
  const ca = a.match(CHUNK) ?? [];
  const cb = b.match(CHUNK) ?? [];
  const length = Math.min(ca.length, cb.length);
  for (let i = 0; i < length; i += 1) {
    const x = ca[i] ?? '';
    const y = cb[i] ?? '';
    if (isDigits(x) && isDigits(y)) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      const byValue = compareText(nx, ny);
      if (byValue !== 0) return byValue;
    } else {
      const byText = compareText(x.toLowerCase(), y.toLowerCase());
      if (byText !== 0) return byText;
    }
  }
  return ca.length - cb.length;
}

/**
 * An Aho–Corasick automaton over normalised code points, compiled into one double array.
 *
 * - The alphabet is only the code points that occur in some pattern, numbered from 1 by how often
 *   they occur (frequent symbols get small numbers, which packs the array tighter); any other
 *   character sends the automaton back to the root at once (no pattern can cross it).
 * - States are slots of a double array: the child of state s on symbol c is slot base(s) + c when
 *   that slot's check is s. A slot's check, base, failure link (with an output bit) and a 32-bit
 *   mask of its children's symbols share one record of `node` (NODE_STRIDE Int32 values), so a
 *   transition costs at most one memory access however many siblings a state has (homophone
 *   expansions give a character dozens), and none when the mask rules the symbol out.
 * - Each state knows the pattern that ends there (if any) and the nearest state on its failure
 *   chain that ends a pattern (the dictionary suffix link), so every occurrence of every pattern
 *   is reported, overlapping and nested ones included ("abc"/"bcd" in "abcd", "屠杀"/"杀人" in
 *   "屠杀人"), and a failed partial match falls back through the failure link instead of
 *   restarting after it ("abd" in "abcabd").
 *
 * The automaton is immutable once built, so a filter can swap it atomically on reload.
 */

/** Int32 values per slot of `Automaton.node`. */
export const NODE_STRIDE = 4;
/** Offsets inside a slot's record. */
export const CHECK = 0;
export const BASE = 1;
/** The failure link shifted left by one; bit 0 is set when some pattern ends here or on its chain. */
export const FAIL = 2;
/**
 * Bit (symbol & 31) is set for the symbol of each child: most lookups of a symbol a state has no
 * child for stop here, without touching the slot where that child would be (a cache miss).
 */
export const MASK = 3;

const FREE = -1;

export class Automaton {
  /** Code point → symbol (1-based; 0 = not in any pattern) for the BMP. */
  readonly symBmp: Int32Array;
  /** Code point → symbol for astral code points. */
  readonly symAstral: Map<number, number>;
  /** The double array: per slot [check, base, fail << 1 | output bit, child mask]; the root is slot 0. */
  readonly node: Int32Array;
  /** Pattern index that ends at this slot, or -1. */
  readonly terminal: Int32Array;
  /** Nearest slot on the failure chain (excluding itself) with a terminal, or 0. */
  readonly dictLink: Int32Array;
  /** Pattern index → length in code points. */
  readonly patternLength: Int32Array;
  /** Number of trie states (the root included); slots that are holes do not count. */
  readonly stateCount: number;
  /** The longest pattern's length in code points (0 for none). */
  readonly maxPatternLength: number;

  constructor(patterns: readonly (readonly number[])[]) {
    // 1. Alphabet, by frequency.
    const freq = new Map<number, number>();
    for (const pattern of patterns) for (const cp of pattern) freq.set(cp, (freq.get(cp) ?? 0) + 1);
    const byFreq = [...freq].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
    const symBmp = new Int32Array(0x10000);
    const symAstral = new Map<number, number>();
    byFreq.forEach(([cp], i) => {
      if (cp < 0x10000) symBmp[cp] = i + 1;
      else symAstral.set(cp, i + 1);
    });
    const maxSym = byFreq.length;
    const symOf = (cp: number): number => (cp < 0x10000 ? (symBmp[cp] ?? 0) : (symAstral.get(cp) ?? 0));
    const symbolic = patterns.map((p) => {
      const out = new Int32Array(p.length);
      for (let k = 0; k < p.length; k++) out[k] = symOf(p[k] ?? 0);
      return out;
    });

    // 2. Trie from the patterns in lexicographic order: each new pattern shares the path of its
    //    common prefix with the previous one, and children come in ascending symbol order.
    const order = symbolic.map((_, i) => i);
    order.sort((x, y) => compareSymbols(symbolic[x] ?? EMPTY, symbolic[y] ?? EMPTY) || x - y);
    let capacity = 1024;
    let trieSym = new Int32Array(capacity);
    let firstChild = new Int32Array(capacity);
    let nextSibling = new Int32Array(capacity);
    let lastChild = new Int32Array(capacity);
    let trieTerminal = new Int32Array(capacity).fill(-1);
    let states = 1;
    const path: number[] = [0];
    let previous: Int32Array = EMPTY;
    const patternLength = new Int32Array(patterns.length);
    for (const index of order) {
      const p = symbolic[index] ?? EMPTY;
      patternLength[index] = p.length;
      let common = 0;
      while (common < p.length && common < previous.length && p[common] === previous[common]) common++;
      for (let d = common; d < p.length; d++) {
        if (states === capacity) {
          capacity *= 2;
          trieSym = grow(trieSym, capacity, 0);
          firstChild = grow(firstChild, capacity, 0);
          nextSibling = grow(nextSibling, capacity, 0);
          lastChild = grow(lastChild, capacity, 0);
          trieTerminal = grow(trieTerminal, capacity, -1);
        }
        const parent = path[d] ?? 0;
        const child = states++;
        trieSym[child] = p[d] ?? 0;
        if (firstChild[parent] === 0) firstChild[parent] = child;
        else nextSibling[lastChild[parent] ?? 0] = child;
        lastChild[parent] = child;
        path[d + 1] = child;
      }
      const end = path[p.length] ?? 0;
      if (p.length > 0 && trieTerminal[end] === -1) trieTerminal[end] = index;
      previous = p;
    }

    // 3. Double array, parents placed in breadth-first order; each parent's children go at the
    //    first base where all their slots are free (free slots found through a union-find
    //    "next free slot" array, so full stretches are skipped in one step).
    let size = Math.max(1024, (states + maxSym + 1) * 2);
    let check = new Int32Array(size).fill(FREE);
    let base = new Int32Array(size);
    let nextFree = new Int32Array(size + 1);
    for (let i = 0; i <= size; i++) nextFree[i] = i;
    const slotOf = new Int32Array(states);
    let childMask = new Int32Array(size);
    const ensure = (needed: number): void => {
      if (needed < size) return;
      const old = size;
      while (size <= needed) size *= 2;
      check = grow(check, size, FREE);
      base = grow(base, size, 0);
      childMask = grow(childMask, size, 0);
      const nf = new Int32Array(size + 1);
      nf.set(nextFree.subarray(0, old));
      for (let i = old; i <= size; i++) nf[i] = i;
      nextFree = nf;
    };
    const findFree = (from: number): number => {
      ensure(from + 1);
      let root = from;
      while ((nextFree[root] ?? root) !== root) root = nextFree[root] ?? root;
      let i = from;
      while (i !== root) {
        const up = nextFree[i] ?? root;
        nextFree[i] = root;
        i = up;
      }
      return root;
    };
    const occupy = (slot: number, parent: number): void => {
      check[slot] = parent;
      nextFree[slot] = slot + 1;
    };
    occupy(0, FREE); // the root's slot: no state's child can land on it (symbols start at 1)
    const bfs = new Int32Array(states);
    let tail = 1; // bfs[0] = 0, the root
    const kids: number[] = [];
    let maxSlot = 0;
    for (let head = 0; head < tail; head++) {
      const t = bfs[head] ?? 0;
      const slot = slotOf[t] ?? 0;
      kids.length = 0;
      for (let c = firstChild[t] ?? 0; c !== 0; c = nextSibling[c] ?? 0) kids.push(c);
      if (kids.length === 0) continue; // a leaf keeps base 0: base + symbol is some other state's slot
      const first = trieSym[kids[0] ?? 0] ?? 0;
      let b: number;
      for (let f = findFree(first); ; f = findFree(f + 1)) {
        b = f - first;
        ensure(b + maxSym + 1);
        let fits = true;
        for (let k = 1; k < kids.length; k++) {
          if (check[b + (trieSym[kids[k] ?? 0] ?? 0)] !== FREE) {
            fits = false;
            break;
          }
        }
        if (fits) break;
      }
      base[slot] = b;
      let mask = 0;
      for (const c of kids) mask |= 1 << ((trieSym[c] ?? 0) & 31);
      childMask[slot] = mask;
      for (const c of kids) {
        const childSlot = b + (trieSym[c] ?? 0);
        occupy(childSlot, slot);
        slotOf[c] = childSlot;
        if (childSlot > maxSlot) maxSlot = childSlot;
        bfs[tail++] = c;
      }
    }

    // 4. Records, failure and dictionary links (breadth first, so a state's failure target is done).
    const slots = maxSlot + maxSym + 1;
    const node = new Int32Array(slots * NODE_STRIDE);
    const terminal = new Int32Array(slots).fill(-1);
    const dictLink = new Int32Array(slots);
    for (let s = 0; s < slots; s++) {
      node[s * NODE_STRIDE + CHECK] = s < size ? (check[s] ?? FREE) : FREE;
      node[s * NODE_STRIDE + BASE] = s < size ? (base[s] ?? 0) : 0;
      node[s * NODE_STRIDE + MASK] = s < size ? (childMask[s] ?? 0) : 0;
    }
    node[CHECK] = FREE;
    const child = (s: number, sym: number): number => {
      const to = (node[s * NODE_STRIDE + BASE] ?? 0) + sym;
      return node[to * NODE_STRIDE + CHECK] === s ? to : 0;
    };
    for (let head = 1; head < states; head++) {
      const t = bfs[head] ?? 0;
      const slot = slotOf[t] ?? 0;
      const parent = node[slot * NODE_STRIDE + CHECK] ?? 0;
      const sym = trieSym[t] ?? 0;
      let f = 0;
      if (parent !== 0) {
        let s = (node[parent * NODE_STRIDE + FAIL] ?? 0) >> 1;
        for (;;) {
          const to = child(s, sym);
          if (to !== 0) {
            f = to;
            break;
          }
          if (s === 0) break;
          s = (node[s * NODE_STRIDE + FAIL] ?? 0) >> 1;
        }
      }
      terminal[slot] = trieTerminal[t] ?? -1;
      dictLink[slot] = (terminal[f] ?? -1) >= 0 ? f : (dictLink[f] ?? 0);
      const output = (terminal[slot] ?? -1) >= 0 || dictLink[slot] !== 0 ? 1 : 0;
      node[slot * NODE_STRIDE + FAIL] = (f << 1) | output;
    }

    this.symBmp = symBmp;
    this.symAstral = symAstral;
    this.node = node;
    this.terminal = terminal;
    this.dictLink = dictLink;
    this.patternLength = patternLength;
    let longest = 0;
    for (const len of patternLength) if (len > longest) longest = len;
    this.maxPatternLength = longest;
    this.stateCount = states;
  }

  /** The symbol of a normalised code point, 0 when no pattern uses it. */
  symbolOf(cp: number): number {
    return cp < 0x10000 ? (this.symBmp[cp] ?? 0) : (this.symAstral.get(cp) ?? 0);
  }

  /** Whether `state` has its own edge (not through a failure link) for `sym`. */
  hasEdge(state: number, sym: number): boolean {
    if (sym === 0) return false;
    const to = (this.node[state * NODE_STRIDE + BASE] ?? 0) + sym;
    return this.node[to * NODE_STRIDE + CHECK] === state;
  }

  /** One transition with failure fallback (the scan inlines this). */
  next(state: number, sym: number): number {
    const node = this.node;
    let s = state;
    for (;;) {
      if (((node[s * NODE_STRIDE + MASK] ?? 0) & (1 << (sym & 31))) !== 0) {
        const to = (node[s * NODE_STRIDE + BASE] ?? 0) + sym;
        if (node[to * NODE_STRIDE + CHECK] === s) return to;
      }
      if (s === 0) return 0;
      s = (node[s * NODE_STRIDE + FAIL] ?? 0) >> 1;
    }
  }

  /**
   * The patterns read back from the double array (pattern index → code points; [] for an empty
   * pattern or a duplicate of an earlier one), by walking each terminal slot up its checks: for
   * tests that hold the array against a plain trie, and for debugging. Not used by the scan.
   */
  patterns(): number[][] {
    const cpOf = new Map<number, number>();
    this.symBmp.forEach((sym, cp) => {
      if (sym !== 0) cpOf.set(sym, cp);
    });
    for (const [cp, sym] of this.symAstral) cpOf.set(sym, cp);
    const out: number[][] = Array.from({ length: this.patternLength.length }, () => []);
    this.terminal.forEach((p, slot) => {
      if (p < 0) return;
      const cps: number[] = [];
      for (let s = slot; s !== 0; ) {
        const parent = this.node[s * NODE_STRIDE + CHECK] ?? 0;
        cps.push(cpOf.get(s - (this.node[parent * NODE_STRIDE + BASE] ?? 0)) ?? -1);
        s = parent;
      }
      out[p] = cps.reverse();
    });
    return out;
  }

  /** The patterns that end at `state`, appended to `found` as pairs (pattern index, `at`). */
  outputs(state: number, at: number, found: number[]): void {
    let o = (this.terminal[state] ?? -1) >= 0 ? state : (this.dictLink[state] ?? 0);
    while (o !== 0) {
      found.push(this.terminal[o] ?? 0, at);
      o = this.dictLink[o] ?? 0;
    }
  }
}

const EMPTY = new Int32Array(0);

function compareSymbols(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function grow(a: Int32Array, size: number, fill: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(size);
  out.set(a.subarray(0, Math.min(a.length, size)));
  if (fill !== 0) out.fill(fill, a.length);
  return out;
}

/**
 * An Aho–Corasick automaton over normalised code points, compiled into flat typed arrays.
 *
 * - The alphabet is only the code points that occur in some pattern; any other character sends
 *   the automaton back to the root at once (no pattern can cross it).
 * - The root has a dense transition row; other states keep their edges sorted by symbol.
 * - Each state knows the pattern that ends there (if any) and the nearest state on its failure
 *   chain that ends a pattern (the dictionary suffix link), so every occurrence of every pattern
 *   is reported, overlapping and nested ones included ("abc"/"bcd" in "abcd", "屠杀"/"杀人" in
 *   "屠杀人"), and a failed partial match falls back through the failure link instead of
 *   restarting after it ("abd" in "abcabd").
 *
 * The automaton is immutable once built, so a filter can swap it atomically on reload.
 */

export class Automaton {
  /** Code point → symbol (1-based; 0 = not in any pattern) for the BMP. */
  readonly symBmp: Int32Array;
  /** Code point → symbol for astral code points. */
  readonly symAstral: Map<number, number>;
  /** Dense root row: symbol → state (0 = stay at root). */
  readonly rootNext: Int32Array;
  /** CSR edges for non-root states: edges of state s are [edgeStart[s], edgeStart[s + 1]). */
  readonly edgeStart: Int32Array;
  readonly edgeSym: Int32Array;
  readonly edgeTo: Int32Array;
  readonly fail: Int32Array;
  /** Pattern index that ends at this state, or -1. */
  readonly terminal: Int32Array;
  /** Nearest state on the failure chain (excluding itself) with a terminal, or 0. */
  readonly dictLink: Int32Array;
  /** Pattern index → length in code points. */
  readonly patternLength: Int32Array;
  readonly stateCount: number;

  constructor(patterns: readonly (readonly number[])[]) {
    // 1. Alphabet.
    const symBmp = new Int32Array(0x10000);
    const symAstral = new Map<number, number>();
    let symbols = 0;
    const symOf = (cp: number): number => {
      if (cp < 0x10000) {
        let s = symBmp[cp] ?? 0;
        if (s === 0) {
          s = ++symbols;
          symBmp[cp] = s;
        }
        return s;
      }
      let s = symAstral.get(cp);
      if (s === undefined) {
        s = ++symbols;
        symAstral.set(cp, s);
      }
      return s;
    };

    // 2. Trie with Map children during construction.
    const children: Map<number, number>[] = [new Map()];
    const terminalList: number[] = [-1];
    const depth: number[] = [0];
    const patternLength = new Int32Array(patterns.length);
    patterns.forEach((pattern, index) => {
      let state = 0;
      for (const cp of pattern) {
        const sym = symOf(cp);
        const node = children[state] ?? new Map<number, number>();
        let next = node.get(sym);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          terminalList.push(-1);
          depth.push((depth[state] ?? 0) + 1);
          node.set(sym, next);
        }
        state = next;
      }
      if (pattern.length > 0 && terminalList[state] === -1) terminalList[state] = index;
      patternLength[index] = pattern.length;
    });

    const n = children.length;
    const fail = new Int32Array(n);
    const dictLink = new Int32Array(n);
    const terminal = Int32Array.from(terminalList);
    const rootNext = new Int32Array(symbols + 1);
    for (const [sym, to] of children[0] ?? new Map<number, number>()) rootNext[sym] = to;

    const step = (state: number, sym: number): number => {
      let s = state;
      for (;;) {
        if (s === 0) return rootNext[sym] ?? 0;
        const to = children[s]?.get(sym);
        if (to !== undefined) return to;
        s = fail[s] ?? 0;
      }
    };

    // 3. Breadth-first failure and dictionary links.
    const queue: number[] = [];
    for (const to of (children[0] ?? new Map<number, number>()).values()) {
      fail[to] = 0;
      queue.push(to);
    }
    for (let head = 0; head < queue.length; head++) {
      const s = queue[head] ?? 0;
      for (const [sym, to] of children[s] ?? new Map<number, number>()) {
        const f = step(fail[s] ?? 0, sym);
        fail[to] = f;
        dictLink[to] = (terminal[f] ?? -1) >= 0 ? f : (dictLink[f] ?? 0);
        queue.push(to);
      }
    }

    // 4. Compile edges (sorted by symbol) into CSR arrays.
    const edgeStart = new Int32Array(n + 1);
    let edges = 0;
    for (let s = 0; s < n; s++) {
      edgeStart[s] = edges;
      if (s !== 0) edges += children[s]?.size ?? 0;
    }
    edgeStart[n] = edges;
    const edgeSym = new Int32Array(edges);
    const edgeTo = new Int32Array(edges);
    for (let s = 1; s < n; s++) {
      const sorted = [...(children[s] ?? new Map<number, number>())].sort((a, b) => a[0] - b[0]);
      let at = edgeStart[s] ?? 0;
      for (const [sym, to] of sorted) {
        edgeSym[at] = sym;
        edgeTo[at] = to;
        at++;
      }
    }

    this.symBmp = symBmp;
    this.symAstral = symAstral;
    this.rootNext = rootNext;
    this.edgeStart = edgeStart;
    this.edgeSym = edgeSym;
    this.edgeTo = edgeTo;
    this.fail = fail;
    this.terminal = terminal;
    this.dictLink = dictLink;
    this.patternLength = patternLength;
    this.stateCount = n;
  }

  /** The symbol of a normalised code point, 0 when no pattern uses it. */
  symbolOf(cp: number): number {
    return cp < 0x10000 ? (this.symBmp[cp] ?? 0) : (this.symAstral.get(cp) ?? 0);
  }

  /** One transition with failure fallback. */
  next(state: number, sym: number): number {
    const { edgeStart, edgeSym, edgeTo, fail, rootNext } = this;
    let s = state;
    while (s !== 0) {
      const lo = edgeStart[s] ?? 0;
      const hi = edgeStart[s + 1] ?? 0;
      if (hi - lo <= 8) {
        for (let e = lo; e < hi; e++) {
          if (edgeSym[e] === sym) return edgeTo[e] ?? 0;
        }
      } else {
        let a = lo;
        let b = hi - 1;
        while (a <= b) {
          const mid = (a + b) >> 1;
          const v = edgeSym[mid] ?? 0;
          if (v === sym) return edgeTo[mid] ?? 0;
          if (v < sym) a = mid + 1;
          else b = mid - 1;
        }
      }
      s = fail[s] ?? 0;
    }
    return rootNext[sym] ?? 0;
  }
}

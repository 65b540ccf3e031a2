/** A Redis stream id ('<ms>-<seq>') as its two numbers. */
export function idParts(id: string): [number, number] {
  const [ms, seq] = id.split('-');
  return [Number(ms), Number(seq ?? 0)];
}

/** Whether stream id a comes after b. */
export function streamIdAfter(a: string, b: string): boolean {
  const [am, as] = idParts(a);
  const [bm, bs] = idParts(b);
  return am > bm || (am === bm && as > bs);
}

// A module resolve hook that adds the "@framecast/source" export condition, so that our packages
// resolve to their TypeScript sources (src/index.ts) instead of their compiled dist/. Registered by
// run-from-sources.mjs next to tsx; the same as `node --conditions=@framecast/source`.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: ['@framecast/source', ...context.conditions] });
}

// Makes this process run the TypeScript sources: tsx's loader for .ts files, and the
// "@framecast/source" export condition so that @framecast/* packages resolve to src/, not dist/.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

export function runFromSources() {
  registerTsx();
  register('./source-conditions.mjs', import.meta.url);
}

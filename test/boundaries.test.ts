import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The lint config carries the architecture's boundaries; prove that the rules bite.
describe('package boundaries (eslint.config.js)', () => {
  const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });
  async function errors(code: string, filePath: string): Promise<string[]> {
    const [res] = await eslint.lintText(code, { filePath });
    return (res?.messages ?? []).map((m) => m.message);
  }

  it('core may not import a platform library or another package', async () => {
    expect((await errors("import { Client } from 'discord.js';\nexport const c = Client;\n", 'core/src/x.ts')).join()).toMatch(/platform library/);
    expect((await errors("import { App } from '@slack/bolt';\nexport const a = App;\n", 'core/src/x.ts')).join()).toMatch(/platform library/);
    expect((await errors("import Koa from 'koa';\nexport const k = Koa;\n", 'core/src/x.ts')).join()).toMatch(/platform library/);
    expect((await errors("import { WechatyBuilder } from 'wechaty';\nexport const w = WechatyBuilder;\n", 'core/src/x.ts')).join()).toMatch(/platform library/);
    expect((await errors("import { x } from '@framecast/gpu-worker';\nexport const y = x;\n", 'core/src/x.ts')).join()).toMatch(/ports it defines/);
    expect((await errors("export const d = await import('discord.js');\n", 'core/src/x.ts')).join()).toMatch(/dynamically/);
    expect((await errors("export const s = await import('@slack/bolt');\n", 'core/src/x.ts')).join()).toMatch(/dynamically/);
  });

  it('the worker and content-safety may not import platforms or bots', async () => {
    expect((await errors("import { Client } from 'discord.js';\nexport const c = Client;\n", 'gpu-worker/src/x.ts')).join()).toMatch(/Only bots/);
    expect((await errors("import { x } from '@framecast/bot-slack';\nexport const y = x;\n", 'content-safety/src/x.ts')).join()).toMatch(/Nothing depends on bots/);
  });

  it('allows what the architecture allows', async () => {
    expect(await errors("import { z } from 'zod';\nexport const s = z.string();\n", 'core/src/x.ts')).toEqual([]);
    expect(await errors("import { Client } from 'discord.js';\nexport const c = Client;\n", 'bots/discord/src/x.ts')).toEqual([]);
  });
});

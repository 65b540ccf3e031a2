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

  it('the worker imports no platform module, statically or dynamically', async () => {
    const worker = 'gpu-worker/src/worker/x.ts';
    for (const lib of ['discord.js', '@discordjs/rest', '@slack/bolt', '@slack/web-api', 'wechaty', 'wechaty-puppet', 'koa', 'koa-body', '@koa/router']) {
      expect((await errors(`import * as m from '${lib}';\nexport const y = m;\n`, worker)).join(), lib).toMatch(/Only bots/);
      expect((await errors(`export const m = await import('${lib}');\n`, worker)).join(), lib).toMatch(/statically or dynamically/);
    }
    for (const bot of ['@framecast/bot-discord', '@framecast/http-server', '../../../bots/wechat/src/index.ts']) {
      expect((await errors(`import * as m from '${bot}';\nexport const y = m;\n`, worker)).join(), bot).toMatch(/Nothing depends on bots/);
    }
    expect((await errors("export const m = await import('@framecast/http-server');\n", worker)).join()).toMatch(/statically or dynamically/);
    // Its tests too.
    expect((await errors("import { App } from '@slack/bolt';\nexport const a = App;\n", 'gpu-worker/src/worker/x.test.ts')).join()).toMatch(/Only bots/);
    // What the worker may use: the core's public entry, content-safety's, its own libraries.
    expect(await errors("import { bootstrap } from '@framecast/core';\nimport { x } from '@framecast/content-safety';\nimport { Worker } from 'bullmq';\nexport const y = [bootstrap, x, Worker];\n", worker)).toEqual([]);
  });

  it('only core/src/jobs/ writes job state or the credit ledger', async () => {
    const msg = /Only core\/src\/jobs\//;
    // Its internals, by path, from anywhere else.
    expect((await errors("import { Ledger } from '../jobs/ledger.ts';\nexport const l = Ledger;\n", 'core/src/quota/x.ts')).join()).toMatch(msg);
    expect((await errors("import { withJobScripts } from '../jobs/job-scripts.ts';\nexport const w = withJobScripts;\n", 'core/src/intake/x.ts')).join()).toMatch(msg);
    expect((await errors("import finish from '../jobs/lua/finish-11.lua';\nexport const f = finish;\n", 'core/src/queue/x.ts')).join()).toMatch(msg);
    expect((await errors("import { Ledger } from '../../../core/src/jobs/ledger.ts';\nexport const l = Ledger;\n", 'scripts/x.ts')).join()).toMatch(msg);
    // The job and ledger scripts, run directly.
    const redisDecl = 'declare const redis: Record<string, (...a: unknown[]) => Promise<unknown>>;\ndeclare const p: string, id: string;\n';
    for (const script of ['fcJobFinish', 'fcJobTransition', 'fcJobCreate', 'fcJobDelivered', 'fcJobUndeliverable', 'fcLedgerSettle']) {
      expect((await errors(`${redisDecl}export const r = await redis.${script}(p, id);\n`, 'gpu-worker/src/worker/x.ts')).join(), script).toMatch(/job and ledger scripts/);
    }
    expect((await errors(`${redisDecl}export const r = await redis['fcLedgerSettle'](p, id);\n`, 'core/src/quota/x.ts')).join()).toMatch(/job and ledger scripts/);
    // Job, reservation and delivery keys written by hand (a template, a string, a concatenation, the Keys helpers).
    const writes = [
      "await redis.hset(`${p}:job:${id}`, 'state', 'succeeded');",
      "await redis.hsetnx(`${p}:job:${id}`, 'state', 'succeeded');",
      "await redis.set(`${p}:job:${id}:cancel`, '1');",
      "await redis.del(`${p}:quota:res:${id}`);",
      "await redis.hset('fc:delivery:' + id, 'state', 'done');",
      "await redis.zadd(`${p}:delivery:outbox`, 0, id);",
      "await redis.hset(keys.job(id), 'state', 'failed');",
      "await redis.multi().hincrby(this.keys.quotaReservation(id), 'cost', -1).exec();",
    ];
    const keysDecl = 'declare const keys: Record<string, (id?: string) => string>;\n';
    for (const w of writes) {
      expect((await errors(`${redisDecl}${keysDecl}export async function f(this: { keys: typeof keys }) { ${w} }\n`, 'bots/slack/src/x.ts')).join(), w).toMatch(msg);
    }

    // core/src/jobs/ may do all of it, and so may tests.
    for (const file of ['core/src/jobs/x.ts', 'core/src/jobs/x.test.ts', 'core/src/quota/x.redis.test.ts', 'test/x.test.ts']) {
      expect(await errors(`import { Ledger } from '../jobs/ledger.ts';\n${redisDecl}export const l = Ledger;\nexport const r = await redis.fcJobFinish(p, id);\nawait redis.hset(\`\${p}:job:\${id}\`, 'state', 'succeeded');\n`, file), file).toEqual([]);
    }
    // Reading a job's keys is fine, and so is writing other keys (or a URL's parameters).
    expect(await errors(`${redisDecl}export const h = await redis.hgetall(\`\${p}:job:\${id}\`);\nawait redis.set(\`\${p}:idem:x\`, '1');\nnew URL('http://x').searchParams.set('job', id);\n`, 'core/src/queue/x.ts')).toEqual([]);
  });

  it('only core/src/core.ts constructs the JobLifecycle; its type is public', async () => {
    const value = "import { JobLifecycle } from './jobs/job-lifecycle.ts';\nexport const j = JobLifecycle;\n";
    expect(await errors(value, 'core/src/core.ts')).toEqual([]);
    expect((await errors(value.replace('./jobs', '../jobs'), 'core/src/queue/x.ts')).join()).toMatch(/Only core\/src\/core\.ts constructs the JobLifecycle/);
    expect(await errors("import type { JobLifecycle } from '../jobs/job-lifecycle.ts';\nexport type J = JobLifecycle;\n", 'core/src/queue/x.ts')).toEqual([]);
    expect(await errors("export type { JobLifecycle } from './jobs/job-lifecycle.ts';\n", 'core/src/index.ts')).toEqual([]);
  });

  it('adapters import only a package\'s public entry', async () => {
    const msg = /public entry/;
    const deep: [string, string][] = [
      ["import { Ledger } from '@framecast/core/src/jobs/ledger.ts';", 'bots/slack/src/x.ts'],
      ["import { Ledger } from '@framecast/core/dist/index.js';", 'gpu-worker/src/x.ts'],
      ["import { Ledger } from '@framecast/content-safety/src/index.ts';", 'bin/commands/x.ts'],
      ["import { Ledger } from '@framecast/gpu-worker/src/index.ts';", 'bench/src/x.ts'],
      ["import { Ledger } from '../../core/src/index.ts';", 'bin/commands/x.ts'],
      ["import { Ledger } from '../../../content-safety/src/index.ts';", 'gpu-worker/src/worker/x.ts'],
      ["import { Ledger } from '../../../gpu-worker/src/index.ts';", 'bots/discord/src/x.ts'],
      ["import { Ledger } from '../../core/src/index.ts';", 'content-safety/src/x.ts'],
      ["import { Ledger } from '../bots/http-server/src/index.ts';", 'bench/x.ts'],
    ];
    for (const [imp, file] of deep) {
      expect((await errors(`${imp}\nexport const l = Ledger;\n`, file)).join(), `${file}: ${imp}`).toMatch(msg);
    }
    expect((await errors("export const m = await import('@framecast/core/src/index.ts');\n", 'bots/http-server/src/x.ts')).join()).toMatch(msg);
    // The public entries are fine, and tests may reach into a package (fakes, fixtures).
    expect(await errors("import { bootstrap } from '@framecast/core';\nexport const b = bootstrap;\n", 'bots/http-server/src/x.ts')).toEqual([]);
    expect(await errors("import { bootstrap } from '@framecast/core';\nimport { createHttpApp } from '@framecast/http-server';\nexport const b = [bootstrap, createHttpApp];\n", 'bin/commands/x.ts')).toEqual([]);
    expect(await errors("import { f } from '../content-safety/src/remote/testing/fake-wechat-server.ts';\nexport const g = f;\n", 'test/x.test.ts')).toEqual([]);
  });

  it('each package declares what it imports (its nearest package.json)', async () => {
    const missing = (pkg: string) => new RegExp(`'${pkg}' should be listed in the project's dependencies`);
    // Installed (the core declares them) but not declared where imported.
    expect((await errors("import { Redis } from 'ioredis';\nexport const r = Redis;\n", 'gpu-worker/src/worker/x.ts')).join()).toMatch(missing('ioredis'));
    expect((await errors("import { Queue } from 'bullmq';\nexport const q = Queue;\n", 'bots/http-server/src/x.ts')).join()).toMatch(missing('bullmq'));
    expect((await errors("export const m = await import('bullmq');\n", 'content-safety/src/x.ts')).join()).toMatch(missing('bullmq'));
    // Root files check against the root package.json, test/ and bench/ against their own.
    expect((await errors("import { Queue } from 'bullmq';\nexport const q = Queue;\n", 'bin/commands/x.ts')).join()).toMatch(missing('bullmq'));
    expect((await errors("import Koa from 'koa';\nexport const k = Koa;\n", 'test/x.test.ts')).join()).toMatch(missing('koa'));
    // What the root declares (for bin/) does not leak into a workspace package.
    expect((await errors("import { createHttpApp } from '@framecast/http-server';\nexport const c = createHttpApp;\n", 'bench/src/x.ts')).join()).toMatch(missing('@framecast/http-server'));
    expect((await errors("import { Command } from 'commander';\nexport const c = Command;\n", 'core/src/x.ts')).join()).toMatch(missing('commander'));
    expect((await errors("import { pino } from 'pino';\nexport const p = pino;\n", 'bots/http-server/src/x.ts'))).toEqual([]);
    expect((await errors("import { Queue } from 'bullmq';\nexport const q = Queue;\n", 'bots/wechat/src/x.ts')).join()).toMatch(missing('bullmq'));

    // Declared ones (workspace packages included), Node's builtins, type-only imports.
    expect(await errors("import { Queue } from 'bullmq';\nimport { readFileSync } from 'node:fs';\nexport const q = [Queue, readFileSync];\n", 'core/src/x.ts')).toEqual([]);
    expect(await errors("import Koa from 'koa';\nimport { bootstrap } from '@framecast/core';\nexport const k = [Koa, bootstrap];\n", 'bots/http-server/src/x.ts')).toEqual([]);
    expect(await errors("import { bootstrap } from '@framecast/core';\nimport { Worker } from 'bullmq';\nimport sharp from 'sharp';\nimport { pino } from 'pino';\nexport const w = [bootstrap, Worker, sharp, pino];\n", 'gpu-worker/src/worker/x.ts')).toEqual([]);
    expect(await errors("import type { Redis } from 'ioredis';\nexport type R = Redis;\n", 'gpu-worker/src/worker/x.ts')).toEqual([]);
    // Tests and shared test code may use the tools the workspace root declares.
    expect(await errors("import { describe } from 'vitest';\nimport fc from 'fast-check';\nexport const d = [describe, fc];\n", 'gpu-worker/src/x.test.ts')).toEqual([]);
    expect(await errors("import { describe } from 'vitest';\nexport const d = describe;\n", 'core/src/storage/x-contract.ts')).toEqual([]);
    expect((await errors("import { describe } from 'vitest';\nexport const d = describe;\n", 'core/src/storage/x.ts')).join()).toMatch(missing('vitest'));
    // A devDependency only in tests and tool configs.
    expect((await errors("import S3rver from 's3rver';\nexport const s = S3rver;\n", 'core/src/storage/x.ts')).join()).toMatch(/'s3rver' should be listed in the project's dependencies, not devDependencies/);
    expect(await errors("import S3rver from 's3rver';\nexport const s = S3rver;\n", 'core/src/storage/x.test.ts')).toEqual([]);
  });

  it('allows what the architecture allows', async () => {
    expect(await errors("import { z } from 'zod';\nexport const s = z.string();\n", 'core/src/x.ts')).toEqual([]);
    expect(await errors("import { Client } from 'discord.js';\nexport const c = Client;\n", 'bots/discord/src/x.ts')).toEqual([]);
    expect(await errors("import Koa from 'koa';\nexport const k = Koa;\n", 'bots/http-server/src/x.ts')).toEqual([]);
  });
});

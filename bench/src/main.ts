/**
 * `npm run bench -- <name>`: runs one benchmark and prints its figures as JSON on stdout.
 * Each benchmark module exports `run(): Promise<Record<string, unknown>>` and reports its figures
 * next to a baseline or a peer measured in the same run.
 */
const BENCHES: Record<string, string[]> = {
  cli: ['./cli.ts'],
  evasion: ['./moderation-evasion.ts'],
  intake: ['./intake.ts'],
  load: ['./load.ts'],
  moderation: ['./moderation-keywords.ts', './moderation-nsfw.ts'],
  queue: ['./queue-throughput.ts'],
  worker: ['./worker.ts'],
};

interface BenchModule {
  run(): Promise<Record<string, unknown>>;
}

async function main(): Promise<void> {
  const name = process.argv[2];
  if (name === 'report') {
    // Every bench above (or those named after `report`), each in its own process, into bench/RESULTS.md.
    const { report } = await import('./report.ts');
    console.log(JSON.stringify(await report(Object.keys(BENCHES), process.argv.slice(3)), null, 2));
    process.exit(0);
  }
  if (name === undefined || !(name in BENCHES)) {
    console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}|report [name ...]>`);
    process.exitCode = 2;
    return;
  }
  const out: Record<string, unknown> = { bench: name, node: process.version, at: new Date().toISOString() };
  for (const file of BENCHES[name] ?? []) {
    const mod = (await import(file)) as BenchModule;
    Object.assign(out, await mod.run());
  }
  console.log(JSON.stringify(out, null, 2));
  process.exit(0);
}

await main();

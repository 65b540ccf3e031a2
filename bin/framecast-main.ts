import { Command, CommanderError } from 'commander';

/**
 * `framecast <command>`. Each command lives in bin/commands/ and is loaded only when used, so
 * `framecast parse` does not load ONNX Runtime.
 */
const program = new Command('framecast')
  .description('Framecast: AI video generation in chat')
  .showHelpAfterError()
  .exitOverride();

program
  .command('parse')
  .description('parse a /video command and print the GenerationSpec or the error as JSON')
  .argument('<text>', 'the message text, e.g. "/video a cat --ar 9:16 --draft"')
  .option('--seed-random <n>', 'fixed value in [0,1) for the default seed (for reproducible output)')
  .action(async (text: string, opts: { seedRandom?: string }) => (await import('./commands/parse-command.ts')).parseCommand(text, opts));

const quota = program.command('quota').description('show or grant credits');
quota
  .command('show')
  .argument('<user>', 'platform:userId, e.g. discord:1234')
  .option('--tier <tier>', 'free | pro | admin (default: from config)')
  .action(async (user: string, opts: { tier?: string }) => (await import('./commands/quota-command.ts')).quotaShow(user, opts));
quota
  .command('grant')
  .argument('<user>', 'platform:userId')
  .argument('<credits>', 'credits to add (a positive integer)')
  .action(async (user: string, credits: string) => (await import('./commands/quota-command.ts')).quotaGrant(user, credits));

const settings = program.command('settings').description("a user's own choices (allow-downgrade: a final video that runs out of GPU memory may come at draft size)");
settings
  .command('show')
  .argument('<user>', 'platform:userId')
  .action(async (user: string) => (await import('./commands/settings-command.ts')).settingsShow(user));
settings
  .command('set')
  .argument('<user>', 'platform:userId')
  .argument('<name>', 'allow-downgrade')
  .argument('<value>', 'on | off')
  .action(async (user: string, name: string, value: string) => (await import('./commands/settings-command.ts')).settingsSet(user, name, value));

const jobs = program.command('jobs').description('list, show or cancel jobs');
jobs
  .command('list')
  .argument('<user>', 'platform:userId')
  .option('--limit <n>', 'how many', '20')
  .action(async (user: string, opts: { limit: string }) => (await import('./commands/jobs-command.ts')).jobsList(user, opts));
jobs
  .command('show')
  .argument('<jobId>')
  .action(async (jobId: string) => (await import('./commands/jobs-command.ts')).jobsShow(jobId));
jobs
  .command('cancel')
  .argument('<jobId>')
  .requiredOption('--as <user>', 'who cancels: platform:userId (must own the job unless an admin)')
  .action(async (jobId: string, opts: { as: string }) => (await import('./commands/jobs-command.ts')).jobsCancel(jobId, opts));

for (const decision of ['approve', 'reject'] as const) {
  jobs
    .command(decision)
    .description(`${decision} a video held for human review (admins only)`)
    .argument('<jobId>')
    .requiredOption('--as <user>', 'the admin: platform:userId listed in FRAMECAST_ADMINS')
    .action(async (jobId: string, opts: { as: string }) => (await import('./commands/jobs-command.ts')).jobsReview(jobId, opts, decision));
}

program
  .command('moderate')
  .description('moderate text, an image (path or URL) or a video; prints a JSON verdict and exits 0 allow, 3 review, 4 block')
  .argument('<kind>', 'text | image | video')
  .argument('<input>', 'the text, a file path or an http(s) URL')
  .option('--verbose', 'every crop and window of an image, every sampled frame of a video')
  .action(async (kind: string, input: string, opts: { verbose?: boolean }) => (await import('./commands/moderate-command.ts')).moderateCommand(kind, input, opts));

program
  .command('worker')
  .description('run a GPU worker: takes jobs from the generate queue')
  .action(async () => (await import('./commands/worker-command.ts')).workerCommand());

program
  .command('generate')
  .description('run the whole path locally: intake, queue, worker, delivery to a file')
  .argument('<prompt>', 'the prompt, with optional flags (--seed, --ar, --duration, --style, --neg, --draft)')
  .option('--image <file>', 'reference image for image-to-video')
  .option('--seed <n>', 'seed')
  .option('--draft', 'draft mode')
  .requiredOption('--out <file>', 'where to write the mp4')
  .action(async (prompt: string, opts: { image?: string; seed?: string; draft?: boolean; out: string }) =>
    (await import('./commands/generate-command.ts')).generateCommand(prompt, opts),
  );

program
  .command('bot')
  .description('run one chat platform\'s adapter alone, or register its slash commands: bot discord|slack|wechat|miniprogram, bot discord register [--guild ID]')
  .argument('<platform>', 'discord | slack | wechat | miniprogram')
  .argument('[action]', 'register: register the slash commands with Discord (globally, or in one guild at once)')
  .option('--guild <id>', 'with register: a guild id, where the commands appear at once')
  .action(async (platform: string, action: string | undefined, opts: { guild?: string }) => {
    const m = await import('./commands/bot-command.ts');
    if (action === undefined) return m.botCommand(platform);
    if (action === 'register') return m.botRegisterCommand(platform, opts);
    throw Object.assign(new Error(`unknown action "${action}" (only: register)`), { code: 'usage' });
  });

program
  .command('start')
  .description('run the product: Redis (local unless REDIS_URL), a worker, and the configured bots')
  .action(async () => (await import('./commands/start-command.ts')).startCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else if (err instanceof (await import('@framecast/core')).ConfigError) {
    // Imported here, not at the top, so that `framecast --help` does not load all of the core.
    console.error(err.message);
    process.exitCode = 78;
  } else if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('usage')) {
    console.error(err.message);
    process.exitCode = 2;
  } else {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  }
}

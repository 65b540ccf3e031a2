// Lint for the whole repository, and the architecture's boundaries as rules:
// the core imports no platform library, nothing imports a bot, the worker knows no platform,
// only core/src/jobs/ writes job state or credits, adapters use only a package's public entry,
// and every package declares what it imports.
import js from '@eslint/js';
import { fileURLToPath } from 'node:url';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const ROOT = fileURLToPath(new URL('.', import.meta.url));
const PLATFORM_LIBS = ['discord.js', '@discordjs/*', '@slack/*', 'wechaty', 'wechaty-*', 'koa', 'koa-*', '@koa/*'];
// The HTTP server lives in bots/ too: an adapter, not something the core or the worker may lean on.
const BOTS = ['@framecast/bot-*', '@framecast/http-server', '**/bots/**'];
const PLATFORM_RE = String.raw`discord\.js|@discordjs\/|@slack\/|wechaty|koa|@koa\/`;

// Test files are exempt from the jobs and deep-import rules (they set up and inspect state on purpose).
const TESTS = ['**/*.test.ts', '**/*.test.mts', '**/*.test.mjs', 'test/**'];
// Shared test code that lives next to the sources (contract suites, fakes): it may use the test tools too.
const TEST_SUPPORT = ['**/*-contract.ts', '**/testing/**', '**/*-test-support.ts'];

// Each concern is a list of import patterns and a list of syntax selectors. A file's rules are
// the union of the concerns of its area: flat config replaces a rule's options, it does not merge them,
// so every area below states all that applies to it.

/** Core: no platform library, no other package, statically or dynamically. */
const CORE_ISOLATION = {
  patterns: [
    { group: PLATFORM_LIBS, message: 'core/ must not import a platform library: adapters translate at the edge (bots/*).' },
    { group: [...BOTS, '@framecast/gpu-worker', '@framecast/content-safety', '**/gpu-worker/**', '**/content-safety/**'], message: 'core/ depends on other packages only through the ports it defines.' },
  ],
  syntax: [{
    // Dynamic imports too: `await import('discord.js')` must not slip past the boundary.
    selector: `ImportExpression[source.value=/^(${PLATFORM_RE}|@framecast\\/(bot-|http-server|gpu-worker|content-safety))/]`,
    message: 'core/ must not import a platform library or another package, statically or dynamically.',
  }],
};

/** The worker and content-safety: no platform library, no bot (nor the HTTP server). */
const NO_PLATFORM = {
  patterns: [
    { group: PLATFORM_LIBS, message: 'Only bots/* talk to platforms.' },
    { group: BOTS, message: 'Nothing depends on bots/*.' },
  ],
  syntax: [{
    selector: `ImportExpression[source.value=/^(${PLATFORM_RE}|@framecast\\/(bot-|http-server))/]`,
    message: 'Only bots/* talk to platforms: no platform library or bot, statically or dynamically.',
  }],
};

/** Only core/src/jobs/ writes job state or the credit ledger. */
const JOB_SCRIPTS = 'fcJobCreate|fcJobTransition|fcJobFinish|fcJobDelivered|fcJobUndeliverable|fcLedgerSettle';
// Redis commands that write (or drop) a key, called on a client or a pipeline.
const WRITES = 'hset|hsetnx|hmset|hdel|hincrby|hincrbyfloat|set|setnx|setex|psetex|getset|getdel|del|unlink|incr|incrby|incrbyfloat|decr|decrby|expire|pexpire|expireat|persist|rename|renamenx|zadd|zrem|zincrby|sadd|srem|lpush|rpush|lrem|ltrim|xadd';
// Keys the lifecycle owns: a job's record (and cancel flag), its credit reservation, its delivery record and outbox.
const JOB_KEY_RE = '/:(job|quota:res|delivery):/';
// The same keys built through core's Keys helpers (`this.keys.job(id)`).
const JOB_KEY_HELPERS = 'job|cancelFlag|userJobs|jobStateCounts|quotaReservation|delivery|deliveryOutbox';
const JOB_WRITE = 'Only core/src/jobs/ writes job state or the credit ledger: go through JobLifecycle / core.* instead of writing job, reservation or delivery keys.';
const JOBS_INTERNALS = {
  patterns: [
    { group: ['**/jobs/ledger*', '**/jobs/job-scripts*', '**/jobs/lua/*'], message: 'Only core/src/jobs/ writes job state or the credit ledger: the ledger and the job scripts are its internals.' },
  ],
  syntax: [
    {
      selector: `CallExpression:matches([callee.property.name=/^(${JOB_SCRIPTS})$/], [callee.property.value=/^(${JOB_SCRIPTS})$/])`,
      message: 'Only core/src/jobs/ runs the job and ledger scripts: settle through JobLifecycle.',
    },
    { selector: `CallExpression[callee.property.name=/^(${WRITES})$/] > TemplateLiteral:first-child > TemplateElement[value.raw=${JOB_KEY_RE}]`, message: JOB_WRITE },
    { selector: `CallExpression[callee.property.name=/^(${WRITES})$/] > Literal:first-child[value=${JOB_KEY_RE}]`, message: JOB_WRITE },
    { selector: `CallExpression[callee.property.name=/^(${WRITES})$/] > BinaryExpression:first-child :matches(Literal[value=${JOB_KEY_RE}], TemplateElement[value.raw=${JOB_KEY_RE}])`, message: JOB_WRITE },
    { selector: `CallExpression[callee.property.name=/^(${WRITES})$/] > CallExpression:first-child[callee.property.name=/^(${JOB_KEY_HELPERS})$/]`, message: JOB_WRITE },
  ],
};
/** Only core/src/core.ts constructs the lifecycle (it wires it); elsewhere its type is fine. */
const LIFECYCLE_WIRING = {
  patterns: [
    { group: ['**/jobs/job-lifecycle*'], allowTypeImports: true, message: 'Only core/src/core.ts constructs the JobLifecycle: use core.* (or import its type).' },
  ],
};

/** Adapters and the other packages use another package only through its public entry. */
const PACKAGES = ['core', 'gpu-worker', 'content-safety'];
function publicEntryOnly(own) {
  const otherSources = [...PACKAGES.filter((p) => p !== own).map((p) => `**/${p}/src/**`), ...(own === 'bots' ? [] : ['**/bots/*/src/**'])];
  const message = 'Import a package through its public entry (`@framecast/core`), never a path inside it (src/, dist/).';
  return {
    patterns: [
      { group: ['@framecast/*/**'], message },
      { group: otherSources, message: 'Reach another package through its name and public entry, not a relative path into its src/.' },
    ],
    syntax: [{ selector: 'ImportExpression[source.value=/^@framecast\\/[^/]+\\//]', message }],
  };
}

/** One block giving the files of an area exactly the union of its concerns. */
function area(files, ignores, ...concerns) {
  const patterns = concerns.flatMap((c) => c.patterns ?? []);
  const syntax = concerns.flatMap((c) => c.syntax ?? []);
  return {
    files,
    ignores,
    rules: {
      '@typescript-eslint/no-restricted-imports': patterns.length > 0 ? ['error', { patterns }] : 'off',
      'no-restricted-syntax': syntax.length > 0 ? ['error', ...syntax] : 'off',
    },
  };
}
// The test files under a directory (each entry an AND of two globs).
const tests = (dir) => TESTS.filter((t) => t.startsWith('**/')).map((t) => [`${dir}/**`, t]);

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', 'models/**', 'miniprogram/**/*.js', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      // Input sanitisers match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },

  // Every package declares what it imports: checked against the nearest package.json (test/ and bench/
  // have their own; bin/, scripts/ and root files use the root one). Workspace packages count too
  // (`@framecast/core` resolves to its sources, so the check needs no build); Node's builtins are fine, and
  // so are type-only imports (erased; their @types packages may sit anywhere). Tests may also use
  // the tools the root declares for every package (vitest, fast-check). The workspace root's own
  // dependencies (what bin/ needs) do not count for the packages.
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ conditionNames: ['@framecast/source', 'types', 'import', 'node', 'default'] })],
    },
    rules: {
      'import-x/no-extraneous-dependencies': ['error', {
        includeInternal: true,
        // A devDependency is not there in a production install: only tests and tool configs may use one.
        devDependencies: [...TESTS, ...TEST_SUPPORT, '*.config.{js,ts}'],
      }],
    },
  },
  {
    files: [...TESTS, ...TEST_SUPPORT],
    rules: { 'import-x/no-extraneous-dependencies': ['error', { includeInternal: true, packageDir: [ROOT] }] },
  },

  // Boundaries, area by area (later blocks replace the rules of earlier ones for their files).
  // Everything that is neither a test nor core/src/jobs/ keeps out of the jobs' internals.
  area(['**/*.{ts,mts,cts,js,mjs,cjs}'], [...TESTS, 'core/src/jobs/**'], JOBS_INTERNALS, LIFECYCLE_WIRING),
  area(['core/**'], [...TESTS, 'core/src/jobs/**', 'core/src/core.ts'], CORE_ISOLATION, JOBS_INTERNALS, LIFECYCLE_WIRING),
  area(['core/src/core.ts'], [], CORE_ISOLATION, JOBS_INTERNALS),
  area(['core/src/jobs/**', ...tests('core')], [], CORE_ISOLATION),
  area(['gpu-worker/**'], TESTS, NO_PLATFORM, publicEntryOnly('gpu-worker'), JOBS_INTERNALS, LIFECYCLE_WIRING),
  area(tests('gpu-worker'), [], NO_PLATFORM),
  area(['content-safety/**'], TESTS, NO_PLATFORM, publicEntryOnly('content-safety'), JOBS_INTERNALS, LIFECYCLE_WIRING),
  area(tests('content-safety'), [], NO_PLATFORM),
  area(['bots/**'], TESTS, publicEntryOnly('bots'), JOBS_INTERNALS, LIFECYCLE_WIRING),
  area(['bin/**', 'bench/**'], TESTS, publicEntryOnly(null), JOBS_INTERNALS, LIFECYCLE_WIRING),
);

#!/usr/bin/env node
// Set-up for a fresh Debian/Ubuntu machine with Node.js 20+: system packages (apt-get when root,
// otherwise the exact command to run), npm dependencies, the compiled build (when missing or older
// than the sources), and the generated models.
// Uses nothing but Node itself, since it runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildState } from '../bin/build-state.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const log = (m) => console.error(`[setup] ${m}`);

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
function hasCjkFont() {
  if (!has('fc-list')) return false;
  const out = spawnSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' }).stdout ?? '';
  return /Noto Sans CJK|Noto Serif CJK/.test(out);
}
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    log(`failed: ${cmd} ${argv.join(' ')}`);
    process.exit(r.status ?? 1);
  }
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  log(`Node.js 20 or newer is needed; this is ${process.version}.`);
  process.exit(1);
}

// 1. System packages.
const missing = [];
if (!has('redis-server')) missing.push('redis-server');
if (!has('ffmpeg') || !has('ffprobe')) missing.push('ffmpeg');
if (!hasCjkFont()) missing.push('fonts-noto-cjk', 'fontconfig');
// The browser tests (not the product) drive Debian's chromium: `node scripts/setup.mjs --test`.
if (process.argv.includes('--test') && !has('chromium') && !existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) missing.push('chromium');
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const cmd = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (!isRoot) {
    log(`missing system packages: ${missing.join(', ')}. Install them as root, then run this again:\n\n    sudo sh -c '${cmd}'\n`);
    process.exit(1);
  }
  log(`installing ${missing.join(', ')} with apt-get`);
  run('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${cmd}`]);
}

// 2. npm dependencies (again when package-lock.json changed since the last install).
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
if (!existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs) {
  log('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// 3. The compiled build (what the framecast bin runs), again when a source is newer than it.
const build = buildState(root);
if (!build.fresh) {
  log(`building (${build.reason})`);
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
  // 2: type errors, but the JavaScript was emitted; `npm test` runs the typecheck and fails on them.
  if (r.status === 2) log('the build has type errors (above); carrying on with the JavaScript it emitted');
  else if (r.status !== 0) {
    log('failed: node scripts/build.mjs');
    process.exit(r.status ?? 1);
  }
}

// 4. Models, generated once into ./models (not committed).
if (!args.has('--no-models')) {
  log('preparing models (NSFW classifier converted from nsfwjs, tiny Wan-style test model)');
  run(process.execPath, [path.join(root, 'bin', 'run-ts.mjs'), path.join(root, 'scripts', 'prepare-models.ts')]);
}
log('ready');

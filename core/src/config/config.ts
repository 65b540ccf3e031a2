import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { FramecastError } from '../errors/framecast-error.ts';

const csv = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  );

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);

const bool = (def: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
    .default(def ? 'true' : 'false')
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** `Role=tier` pairs, e.g. `Pro=pro,Moderators=admin`. */
const roleTiers = csv.pipe(
  z.array(
    z.string().regex(/^[^=]+=(free|pro|admin)$/, 'each entry must look like RoleName=free|pro|admin'),
  ),
);

/**
 * Every setting of a Framecast process, read from the environment (and an optional `.env` file).
 * Documented in the README; nothing else reads process.env.
 */
export const EnvSchema = z.object({
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  FRAMECAST_DATA_DIR: z.string().default('./data'),
  FRAMECAST_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - only').default('fc'),
  FRAMECAST_TIMEZONE: z.string().refine(validTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai)').default('Asia/Shanghai'),
  FRAMECAST_DEFAULT_LOCALE: z.enum(['zh-CN', 'en']).default('zh-CN'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The HTTP server (health, readiness, metrics, platform endpoints) of `framecast start`; 0 turns it off. */
  FRAMECAST_HTTP_PORT: int(8080, 0, 65535),
  /** Largest request body the HTTP server takes, in bytes (413 above it). */
  FRAMECAST_HTTP_BODY_LIMIT: int(1_048_576, 1024, 1024 * 1024 * 1024),
  /** Largest body on the routes that take an image upload (mini program, playground). */
  FRAMECAST_UPLOAD_LIMIT: int(10 * 1_048_576, 1024, 1024 * 1024 * 1024),

  FRAMECAST_FREE_DAILY_CREDITS: int(30),
  FRAMECAST_PRO_DAILY_CREDITS: int(300),
  FRAMECAST_ADMIN_DAILY_CREDITS: int(100_000),
  FRAMECAST_FREE_MAX_CONCURRENT: int(1, 1, 1000),
  FRAMECAST_PRO_MAX_CONCURRENT: int(3, 1, 1000),
  FRAMECAST_ADMIN_MAX_CONCURRENT: int(10, 1, 1000),
  FRAMECAST_TENANT_DAILY_CAP: int(5000),
  /** platform:userId entries, e.g. discord:1234,cli:alice */
  FRAMECAST_ADMINS: csv,
  FRAMECAST_PRO_USERS: csv,
  FRAMECAST_ROLE_TIERS: roleTiers,
  /** Let a final job that runs out of GPU memory retry once at draft size. */
  FRAMECAST_OOM_DOWNGRADE: bool(true),

  FRAMECAST_RUNTIME: z.enum(['onnx', 'comfyui', 'dashscope']).default('onnx'),
  FRAMECAST_MODEL_DIR: z.string().default('./models/tiny-wan'),
  FRAMECAST_ORT_PROVIDERS: csv.pipe(z.array(z.enum(['cuda', 'cpu']))),
  FRAMECAST_STEPS: z.coerce.number().int().min(1).max(200).optional(),
  /** Render at this fraction of the requested size; default 0.25 for the tiny CPU model, else 1. */
  FRAMECAST_RENDER_SCALE: z.coerce.number().gt(0).max(1).optional(),
  /** BullMQ lock of a running job (ms); a dead worker's job is taken over after it. */
  FRAMECAST_LOCK_MS: z.coerce.number().int().min(1000).max(3_600_000).optional(),
  FRAMECAST_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).max(600_000).optional(),
  /** A failed generate job is tried 4 times; the first retry waits this long, doubling after. */
  FRAMECAST_RETRY_BACKOFF_MS: int(5_000, 100, 600_000),
  /**
   * Encode and scan job N while job N+1 denoises (a worker then holds one job ahead). Turn off on
   * hosts with many GPUs and short queues, so no job waits for a busy GPU while another is idle.
   */
  FRAMECAST_PIPELINE: bool(true),
  COMFYUI_URL: z.url().optional(),
  COMFYUI_TEMPLATE: z.enum(['t2v-a14b', 'i2v-a14b', 'ti2v-5b']).default('t2v-a14b'),
  DASHSCOPE_API_KEY: z.string().min(8).optional(),
  DASHSCOPE_BASE_URL: z.url().default('https://dashscope.aliyuncs.com'),
  DASHSCOPE_MODEL: z.enum(['wan2.2-t2v-plus', 'wan2.2-i2v-plus', 'wan2.2-i2v-flash']).default('wan2.2-t2v-plus'),

  /** A delivery the platform keeps refusing is retried with capped backoff for this long, then refunded. */
  FRAMECAST_DELIVERY_RETRY_HOURS: z.coerce.number().gt(0).max(168).default(6),
  /** A video that could not be delivered stays readable (jobs show) this many days. */
  FRAMECAST_UNDELIVERABLE_KEEP_DAYS: z.coerce.number().int().min(1).max(365).default(7),

  /** How the outside reaches this machine's HTTP server (links to videos too large to upload, with local storage). */
  FRAMECAST_PUBLIC_URL: z.url().optional(),
  /** Signs those links; default: a random secret kept in FRAMECAST_DATA_DIR/media-secret. */
  FRAMECAST_MEDIA_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  FRAMECAST_STORAGE: z.enum(['local', 's3']).default('local'),
  S3_ENDPOINT: z.url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z.string().optional(),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool(true),

  FRAMECAST_CONTENT_PRODUCER: z.string().max(200).default('Framecast'),
  FRAMECAST_NSFW_BLOCK: z.coerce.number().min(0).max(1).default(0.5),
  FRAMECAST_NSFW_REVIEW: z.coerce.number().min(0).max(1).default(0.7),
  FRAMECAST_KEYWORD_LISTS: z.string().optional(),
  /** Video scan: frames sampled per second (plus the first and last), and at most this many. */
  FRAMECAST_SCAN_FPS: z.coerce.number().gt(0).max(30).default(1),
  FRAMECAST_SCAN_MAX_FRAMES: z.coerce.number().int().min(2).max(1000).default(64),
  /** WeChat's own checks (msgSecCheck text, mediaCheckAsync images) for mini program users. */
  FRAMECAST_WECHAT_CHECKS: bool(false),
  WECHAT_APP_ID: z.string().min(1).optional(),
  WECHAT_APP_SECRET: z.string().min(1).optional(),
  WECHAT_API_BASE_URL: z.url().default('https://api.weixin.qq.com'),
  /** Discord: the bot's token and application; the gateway connects unless DISCORD_GATEWAY=off; DISCORD_PUBLIC_KEY serves HTTP interactions. */
  DISCORD_TOKEN: z.string().min(1).optional(),
  DISCORD_APPLICATION_ID: z.string().regex(/^\d{1,25}$/, 'a Discord snowflake (digits only)').optional(),
  DISCORD_PUBLIC_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/, "the application's Ed25519 public key: 64 hex digits").optional(),
  DISCORD_GATEWAY: bool(true),
  DISCORD_API_BASE_URL: z.url().default('https://discord.com/api'),
  /** Slack: the bot token; SLACK_APP_TOKEN (xapp-…) turns on Socket Mode, else SLACK_SIGNING_SECRET serves POST /slack/events. */
  SLACK_BOT_TOKEN: z.string().regex(/^xoxb-/, 'a bot token (xoxb-…)').optional(),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-/, 'an app-level token (xapp-…) with connections:write').optional(),
  SLACK_API_BASE_URL: z.url().default('https://slack.com/api/'),
  /** WeChat bot (wechaty): the puppet package and its token; it starts when WECHATY_PUPPET is set. */
  WECHATY_PUPPET: z.string().min(1).optional(),
  WECHATY_PUPPET_TOKEN: z.string().min(1).optional(),
  /** Rooms the bot answers in (room ids or exact topics); empty: every room. */
  FRAMECAST_WECHAT_ROOMS: csv,
  /** How long an image a user sent waits for that user's prompt (seconds). */
  FRAMECAST_WECHAT_IMAGE_WINDOW_SECONDS: int(180, 10, 86_400),
  /** Credits one WeChat room may spend a day, on top of each member's own quota (0: no room cap). */
  FRAMECAST_WECHAT_ROOM_DAILY_CREDITS: int(0, 0, 10_000_000),
  /** Mini program: how long a login session token lives (seconds), and the subscription message template sent on completion. */
  FRAMECAST_MP_SESSION_TTL_SECONDS: int(7 * 86_400, 60, 90 * 86_400),
  FRAMECAST_MP_TEMPLATE_ID: z.string().min(1).optional(),
  /** Web: the playground at / (on unless FRAMECAST_WEB=off); the admin console at /admin needs FRAMECAST_ADMIN_PASSWORD. */
  FRAMECAST_WEB: bool(true),
  FRAMECAST_ADMIN_PASSWORD: z.string().min(12, 'at least 12 characters').optional(),
  /** Collaborative storyboards: most shots rendered (the top-voted make the cut), idle hours before a board expires, who pays, the cross-fade between shots (seconds). */
  FRAMECAST_COLLAB_MAX_SHOTS: int(6, 1, 20),
  FRAMECAST_COLLAB_IDLE_HOURS: int(24, 1, 24 * 30),
  FRAMECAST_COLLAB_QUOTA_POLICY: z.enum(['starter', 'split', 'pool']).default('starter'),
  FRAMECAST_COLLAB_TRANSITION_SECONDS: z.coerce.number().min(0).max(2).default(0.5),
  /**
   * Mini program: the Token set in WeChat's console for message push (消息推送, plaintext mode), which
   * signs the `wxa_media_check` verdicts WeChat POSTs to /api/mp/wechat/push; without it no verdict is
   * accepted and every checked image waits for a moderator.
   */
  WECHAT_PUSH_TOKEN: z.string().regex(/^[A-Za-z0-9]{3,32}$/, '3 to 32 letters or digits (as WeChat\'s console takes)').optional(),
});

export type Env = z.infer<typeof EnvSchema>;

export type Tier = 'free' | 'pro' | 'admin';

export interface TierLimits {
  dailyCredits: number;
  maxConcurrent: number;
}

export interface FramecastConfig {
  readonly env: Readonly<Env>;
  readonly redisUrl: string | undefined;
  readonly dataDir: string;
  readonly keyPrefix: string;
  readonly timeZone: string;
  readonly defaultLocale: 'zh-CN' | 'en';
  readonly tiers: Readonly<Record<Tier, TierLimits>>;
  readonly tenantDailyCap: number;
  readonly admins: ReadonlySet<string>;
  readonly proUsers: ReadonlySet<string>;
  readonly roleTiers: ReadonlyMap<string, Tier>;
}

export class ConfigError extends FramecastError {
  declare readonly code: 'invalid_config';
  readonly problems: string[];
  constructor(problems: string[]) {
    // Written for the operator who starts the process, who may read all of it.
    super('invalid_config', `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`, { expose: true });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** Path of an optional .env file; values in `env` win over it. Default: ./.env when present. */
  dotenvPath?: string | false;
}

/** Parses the whole environment at once, listing every problem, and returns a frozen config. */
export function loadConfig(env: Record<string, string | undefined> = process.env, options: LoadConfigOptions = {}): FramecastConfig {
  let fileVars: Record<string, string> = {};
  const dotenvPath = options.dotenvPath === undefined ? path.resolve('.env') : options.dotenvPath;
  if (dotenvPath !== false && existsSync(dotenvPath)) {
    fileVars = parseDotenv(readFileSync(dotenvPath));
  }
  const merged: Record<string, string> = { ...fileVars };
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v !== '') merged[k] = v;
  }
  const result = EnvSchema.safeParse(merged);
  const problems: string[] = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  // Settings that depend on each other, checked on the raw values too, so that one run of the
  // program lists every problem at once.
  const has = (k: string) => merged[k] !== undefined;
  if (merged.FRAMECAST_RUNTIME === 'comfyui' && !has('COMFYUI_URL')) problems.push('COMFYUI_URL: required when FRAMECAST_RUNTIME=comfyui');
  if (merged.FRAMECAST_RUNTIME === 'dashscope' && !has('DASHSCOPE_API_KEY')) problems.push('DASHSCOPE_API_KEY: required when FRAMECAST_RUNTIME=dashscope');
  if (merged.FRAMECAST_RUNTIME === 'dashscope' && /i2v/.test(merged.DASHSCOPE_MODEL ?? '') && merged.FRAMECAST_STORAGE !== 's3') {
    problems.push('FRAMECAST_STORAGE: must be s3 for an image-to-video DASHSCOPE_MODEL (the hosted API fetches the start image from a URL)');
  }
  if (['1', 'true', 'yes', 'on'].includes(merged.FRAMECAST_WECHAT_CHECKS ?? '')) {
    for (const k of ['WECHAT_APP_ID', 'WECHAT_APP_SECRET']) if (!has(k)) problems.push(`${k}: required when FRAMECAST_WECHAT_CHECKS is on`);
    // WeChat downloads the image it checks: it needs a signed link it can reach from outside.
    if (!has('FRAMECAST_PUBLIC_URL')) problems.push('FRAMECAST_PUBLIC_URL: required when FRAMECAST_WECHAT_CHECKS is on (WeChat\'s image check downloads the photo from a signed link under it)');
  }
  if (['DISCORD_TOKEN', 'DISCORD_APPLICATION_ID', 'DISCORD_PUBLIC_KEY'].some(has)) {
    for (const k of ['DISCORD_TOKEN', 'DISCORD_APPLICATION_ID']) if (!has(k)) problems.push(`${k}: required when Discord is configured (DISCORD_TOKEN, DISCORD_APPLICATION_ID or DISCORD_PUBLIC_KEY set)`);
  }
  if (['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN'].some(has)) {
    if (!has('SLACK_BOT_TOKEN')) problems.push('SLACK_BOT_TOKEN: required when Slack is configured (SLACK_SIGNING_SECRET or SLACK_APP_TOKEN set)');
    if (!has('SLACK_SIGNING_SECRET') && !has('SLACK_APP_TOKEN')) problems.push('SLACK_APP_TOKEN or SLACK_SIGNING_SECRET: one is required with SLACK_BOT_TOKEN (Socket Mode, or HTTP mode at POST /slack/events)');
  }
  if (merged.FRAMECAST_STORAGE === 's3') {
    for (const k of ['S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      if (!has(k)) problems.push(`${k}: required when FRAMECAST_STORAGE=s3`);
    }
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const e = result.data;

  const roleTiersMap = new Map<string, Tier>();
  for (const pair of e.FRAMECAST_ROLE_TIERS) {
    const idx = pair.lastIndexOf('=');
    roleTiersMap.set(pair.slice(0, idx), pair.slice(idx + 1) as Tier);
  }
  return Object.freeze({
    env: Object.freeze(e),
    redisUrl: e.REDIS_URL,
    dataDir: path.resolve(e.FRAMECAST_DATA_DIR),
    keyPrefix: e.FRAMECAST_KEY_PREFIX,
    timeZone: e.FRAMECAST_TIMEZONE,
    defaultLocale: e.FRAMECAST_DEFAULT_LOCALE,
    tiers: Object.freeze({
      free: { dailyCredits: e.FRAMECAST_FREE_DAILY_CREDITS, maxConcurrent: e.FRAMECAST_FREE_MAX_CONCURRENT },
      pro: { dailyCredits: e.FRAMECAST_PRO_DAILY_CREDITS, maxConcurrent: e.FRAMECAST_PRO_MAX_CONCURRENT },
      admin: { dailyCredits: e.FRAMECAST_ADMIN_DAILY_CREDITS, maxConcurrent: e.FRAMECAST_ADMIN_MAX_CONCURRENT },
    }),
    tenantDailyCap: e.FRAMECAST_TENANT_DAILY_CAP,
    admins: new Set(e.FRAMECAST_ADMINS),
    proUsers: new Set(e.FRAMECAST_PRO_USERS),
    roleTiers: roleTiersMap,
  });
}

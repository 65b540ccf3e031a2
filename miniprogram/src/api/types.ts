/**
 * The shapes of the mini program API (`/api/mp/*`, served by bots/miniprogram-api), and their
 * parsers: every answer is checked here before a page sees it (the server is a trust boundary too:
 * an older or newer server may answer differently).
 */

export const JOB_STATES = ['queued', 'running', 'held', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export const ASPECTS = ['16:9', '9:16', '1:1'] as const;
export type Aspect = (typeof ASPECTS)[number];

/** The prompt grammar's limits (core: PROMPT_MAX_CHARS, DURATION_LIMITS). */
export const PROMPT_MAX_CHARS = 1500;
export const DURATION_LIMITS = { draft: { min: 1, max: 5, default: 3 }, final: { min: 1, max: 10, default: 5 } } as const;

export interface Session {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface CreateJobInput {
  prompt: string;
  imageId?: string;
  aspect?: Aspect;
  duration?: number;
  style?: string;
  draft?: boolean;
  seed?: number;
  /** One per submission (8–64 of [A-Za-z0-9_-]): the same again answers the same job, never a second one. */
  requestId?: string;
  /** The user allowed the completion message (wx.requestSubscribeMessage). */
  subscribe?: boolean;
}

export interface JobProgress {
  step: number;
  total: number;
}

export interface Job {
  id: string;
  state: JobState;
  prompt?: string;
  position?: number;
  etaSeconds?: number;
  cost?: number;
  progress?: JobProgress;
  /** Why it failed or was refused, already localised by the server. */
  error?: { code: string; message: string };
  createdAt?: number;
  /** Where the finished video and poster are (an API path needing the token, or an absolute link). */
  videoUrl?: string;
  posterUrl?: string;
  published?: boolean;
}

/** Signed links to a finished job's video and poster, for `<video src>` and `<image src>` (no headers). */
export interface Media {
  videoUrl: string;
  posterUrl?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** One progress event of `GET /api/mp/jobs/:id/events` (`event: job` carries the job itself). */
export interface ProgressEvent {
  type: string;
  state?: JobState;
  step?: number;
  totalSteps?: number;
  position?: number;
  etaSeconds?: number;
  /** The job as it ended (on delivered, failed, cancelled) or as it is (`event: job`). */
  job?: Job;
}

export interface GalleryItem {
  id: string;
  jobId?: string;
  /** The caption (by default the prompt). */
  prompt?: string;
  likes: number;
  liked: boolean;
  mine?: boolean;
  createdAt?: number;
  /** Signed links (an API path or absolute), valid until `expiresAt`. */
  videoUrl?: string;
  posterUrl?: string;
  expiresAt?: number;
}

export interface GalleryPage {
  items: GalleryItem[];
  nextCursor?: string;
}

export type GallerySort = 'newest' | 'liked';

export interface Quota {
  available: number;
  dailyCredits?: number;
  spent?: number;
  held?: number;
  bonus?: number;
}

/** A refusal or failure, as `{code, message}` from the server or made here for network trouble. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** HTTP status; 0 when no answer came. */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown, max = 4000): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function time(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** An absolute http(s) link, or a path on the API server (`/api/…`); anything else is dropped. */
function link(value: unknown): string | undefined {
  const s = str(value, 4000);
  return s !== undefined && (/^https?:\/\/[^\s]+$/.test(s) || /^\/[^/\s][^\s]*$/.test(s)) ? s : undefined;
}

/** Copies the defined entries only (exactOptionalPropertyTypes: no `key: undefined`). */
function defined<T extends object>(value: { [K in keyof T]: T[K] | undefined }): T {
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

function invalid(what: string): ApiError {
  return new ApiError(0, 'invalid_response', `invalid ${what} in the server's answer`);
}

export function parseSession(value: unknown): Session {
  if (!isObject(value)) throw invalid('session');
  const token = str(value.token, 512);
  const expiresAt = time(value.expiresAt);
  if (token === undefined || expiresAt === undefined) throw invalid('session');
  return { token, expiresAt };
}

export function parseImageId(value: unknown): string {
  const imageId = isObject(value) ? str(value.imageId, 512) : undefined;
  if (imageId === undefined) throw invalid('upload');
  return imageId;
}

function parseProgress(value: Json): JobProgress | undefined {
  const p = isObject(value.progress) ? value.progress : value;
  const step = num(p.step);
  const total = num(p.total) ?? num(p.totalSteps);
  return step !== undefined && total !== undefined && total > 0 ? { step: Math.min(step, total), total } : undefined;
}

export function parseJob(value: unknown): Job {
  const body = isObject(value) && isObject(value.job) ? value.job : value;
  if (!isObject(body)) throw invalid('job');
  const id = str(body.id, 128);
  const state = body.state;
  if (id === undefined || typeof state !== 'string' || !(JOB_STATES as readonly string[]).includes(state)) throw invalid('job');
  const error = isObject(body.error) ? body.error : undefined;
  const errorCode = error ? str(error.code, 128) : undefined;
  const video = isObject(body.video) ? body.video : undefined;
  return defined<Job>({
    id,
    state: state as JobState,
    prompt: str(body.prompt, 4000),
    position: num(body.position),
    etaSeconds: num(body.etaSeconds),
    cost: num(body.cost),
    progress: parseProgress(body),
    error: error && errorCode ? { code: errorCode, message: str(error.message) ?? errorCode } : undefined,
    createdAt: time(body.createdAt),
    videoUrl: link(video?.url) ?? link(body.videoUrl),
    posterUrl: link(video?.posterUrl) ?? link(body.posterUrl),
    published: typeof body.published === 'boolean' ? body.published : undefined,
  });
}

export function parseMedia(value: unknown): Media {
  if (!isObject(value)) throw invalid('media');
  const videoUrl = link(value.videoUrl);
  const expiresAt = time(value.expiresAt);
  if (videoUrl === undefined || expiresAt === undefined) throw invalid('media');
  return defined<Media>({ videoUrl, posterUrl: link(value.posterUrl), expiresAt });
}

function isState(value: unknown): value is JobState {
  return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
}

/** An SSE frame's data as a JSON object; undefined when it is none. */
function jsonObject(data: string): Json | undefined {
  try {
    const body: unknown = JSON.parse(data);
    return isObject(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

/** One SSE frame: its event name and its JSON data; undefined when it is not one we understand. */
export function parseProgressEvent(event: string, data: string): ProgressEvent | undefined {
  const body = jsonObject(data);
  if (body === undefined) return undefined;
  if (event === 'job') {
    try {
      const job = parseJob(body);
      return { type: 'job', state: job.state, job };
    } catch {
      return undefined;
    }
  }
  let job: Job | undefined;
  try {
    job = body.job === undefined ? undefined : parseJob(body.job);
  } catch {
    job = undefined;
  }
  return defined<ProgressEvent>({
    type: str(body.type, 64) ?? event,
    state: isState(body.state) ? body.state : undefined,
    step: num(body.step),
    totalSteps: num(body.totalSteps),
    position: num(body.position),
    etaSeconds: num(body.etaSeconds),
    job,
  });
}

function listOf(value: unknown, field: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (isObject(value) && Array.isArray(value[field])) return value[field] as unknown[];
  throw invalid(field);
}

export function parseJobs(value: unknown): Job[] {
  return listOf(value, 'jobs').map(parseJob);
}

export function parseGalleryItem(value: unknown): GalleryItem {
  if (!isObject(value)) throw invalid('gallery item');
  const id = str(value.id, 128);
  if (id === undefined) throw invalid('gallery item');
  return defined<GalleryItem>({
    id,
    jobId: str(value.jobId, 128),
    prompt: str(value.caption) ?? str(value.prompt),
    likes: Math.max(0, num(value.likes) ?? 0),
    liked: value.liked === true,
    mine: typeof value.mine === 'boolean' ? value.mine : undefined,
    createdAt: time(value.publishedAt) ?? time(value.createdAt),
    videoUrl: link(value.videoUrl),
    posterUrl: link(value.posterUrl),
    expiresAt: time(value.expiresAt),
  });
}

export function parseGallery(value: unknown): GalleryPage {
  const items = listOf(value, 'items').map(parseGalleryItem);
  const nextCursor = isObject(value) ? str(value.nextCursor, 256) : undefined;
  return nextCursor === undefined ? { items } : { items, nextCursor };
}

export function parseQuota(value: unknown): Quota {
  const body = isObject(value) && isObject(value.quota) ? value.quota : value;
  if (!isObject(body)) throw invalid('quota');
  const available = num(body.available);
  if (available === undefined) throw invalid('quota');
  return defined<Quota>({
    available,
    dailyCredits: num(body.dailyCredits),
    spent: num(body.spent),
    held: num(body.held),
    bonus: num(body.bonus),
  });
}

/** `{code, message}` of an error answer, when it has one. */
export function parseError(value: unknown): { code: string; message?: string } | undefined {
  const body = isObject(value) && isObject(value.error) ? value.error : value;
  if (!isObject(body)) return undefined;
  const code = str(body.code, 128);
  if (code === undefined) return undefined;
  const message = str(body.message, 1000);
  return message === undefined ? { code } : { code, message };
}

/**
 * Credits a job will cost, estimated the way the server counts them (core's costOf: one credit per
 * second of draft video at 848×480, final at 1280×720 twice as dear per pixel). The server's answer
 * is what is charged.
 */
export function estimateCost(durationSeconds: number, draft: boolean): number {
  const REFERENCE = 848 * 480;
  const pixels = draft ? REFERENCE : 1280 * 720;
  return Math.max(1, Math.ceil((durationSeconds * pixels) / REFERENCE * (draft ? 1 : 2) - 1e-9));
}

/** A shot of a storyboard (`GET /api/mp/boards/:id`): the author's display name, never an id. */
export interface BoardShot {
  n: number;
  authorName: string;
  text: string;
  votes: number;
  voted: boolean;
  mine: boolean;
  hasImage: boolean;
  inCut: boolean;
}

export const BOARD_STATES = ['collecting', 'locked', 'rendering', 'done', 'expired', 'cancelled'] as const;
export type BoardState = (typeof BOARD_STATES)[number];

/** A collaborative storyboard as the API shows it to the caller. */
export interface Board {
  id: string;
  theme: string;
  state: BoardState;
  starterName: string;
  style?: string;
  aspect?: string;
  mode?: 'draft' | 'final';
  shots: BoardShot[];
  maxShots: number;
  cost: number;
  /** What the caller pays of `cost`. */
  yourCost: number;
  etaSeconds: number;
  jobId?: string;
  render?: { state: JobState; videoReady: boolean };
  you: { name: string; starter: boolean; contributor: boolean };
}

/** `POST /api/mp/boards`. */
export interface CreateBoardInput {
  theme: string;
  style?: string;
  aspect?: Aspect;
  duration?: number;
  draft?: boolean;
  seed?: number;
  requestId?: string;
}

/** The answer to a change of a board: its message and the board as it now is. */
export interface BoardAnswer {
  boardId: string;
  message?: string;
  board?: Board;
  jobId?: string;
}

/** One event of `GET /api/mp/boards/:id/events`: the board again, or a shot's render progress. */
export interface BoardEvent {
  type: string;
  board?: Board;
  /** The shot's number on the board (segment events). */
  n?: number;
  phase?: string;
  step?: number;
  totalSteps?: number;
  message?: string;
}

function parseBoardShot(value: unknown): BoardShot {
  if (!isObject(value)) throw invalid('shot');
  const n = num(value.n);
  const text = str(value.text, 4000);
  if (n === undefined || text === undefined) throw invalid('shot');
  return {
    n, text, authorName: str(value.authorName, 200) ?? '?', votes: Math.max(0, num(value.votes) ?? 0), voted: value.voted === true,
    mine: value.mine === true, hasImage: value.hasImage === true, inCut: value.inCut !== false,
  };
}

export function parseBoard(value: unknown): Board {
  if (!isObject(value)) throw invalid('board');
  const id = str(value.id, 128);
  const state = value.state;
  if (id === undefined || typeof state !== 'string' || !(BOARD_STATES as readonly string[]).includes(state) || !Array.isArray(value.shots)) throw invalid('board');
  const you = isObject(value.you) ? value.you : {};
  const render = isObject(value.render) && isState(value.render.state) ? { state: value.render.state, videoReady: value.render.videoReady === true } : undefined;
  return defined<Board>({
    id, state: state as BoardState, theme: str(value.theme, 4000) ?? '', starterName: str(value.starterName, 200) ?? '?',
    style: str(value.style, 64), aspect: str(value.aspect, 16), mode: value.mode === 'final' ? 'final' : value.mode === 'draft' ? 'draft' : undefined,
    shots: value.shots.map(parseBoardShot), maxShots: num(value.maxShots) ?? 0, cost: num(value.cost) ?? 0, yourCost: num(value.yourCost) ?? 0,
    etaSeconds: num(value.etaSeconds) ?? 0, jobId: str(value.jobId, 128), render,
    you: { name: str(you.name, 200) ?? '', starter: you.starter === true, contributor: you.contributor === true },
  });
}

export function parseBoardAnswer(value: unknown): BoardAnswer {
  if (!isObject(value)) throw invalid('board answer');
  const boardId = str(value.boardId, 128);
  if (boardId === undefined) throw invalid('board answer');
  return defined<BoardAnswer>({
    boardId, message: str(value.message, 2000), board: value.board === undefined ? undefined : parseBoard(value.board), jobId: str(value.jobId, 128),
  });
}

/** One SSE frame of a board's events; undefined when it is not one we understand. */
export function parseBoardEvent(event: string, data: string): BoardEvent | undefined {
  const body = jsonObject(data);
  if (body === undefined) return undefined;
  if (event === 'board') {
    try {
      return { type: 'board', board: parseBoard(body) };
    } catch {
      return undefined;
    }
  }
  return defined<BoardEvent>({
    type: str(body.type, 64) ?? event, n: num(body.n), phase: str(body.phase, 32), step: num(body.step), totalSteps: num(body.totalSteps), message: str(body.message, 2000),
  });
}

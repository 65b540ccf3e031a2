/**
 * One interface for every way of producing a video: the embedded ONNX Runtime pipeline, a ComfyUI
 * server, the hosted Wan API. Chosen by config; the worker knows nothing else about them.
 */
import { FramecastError, type MessageId, type RuntimeCapabilities } from '@framecast/core';

export interface RuntimeRequest {
  prompt: string;
  negativePrompt?: string;
  width: number;
  height: number;
  /** 4k+1 */
  frames: number;
  fps: number;
  seed: number;
  mode: 'draft' | 'final';
  /** Denoising steps; the runtime's default when absent. */
  steps?: number;
  guidanceScale?: number;
  /** First-frame conditioning image, already decoded safely and resized to width×height, RGB24. */
  image?: { rgb: Uint8Array; width: number; height: number };
}

export interface StepProgress {
  step: number;
  totalSteps: number;
  /** A cheap preview (linear latent→RGB projection of the middle frame), RGB24, when produced. */
  preview?: { rgb: Uint8Array; width: number; height: number };
}

export interface RuntimeHooks {
  onStep?(progress: StepProgress): void;
  /** Checked between steps; an aborted signal ends the run with a RuntimeError code 'cancelled'. */
  signal?: AbortSignal;
  /**
   * For runtimes that start paid work elsewhere (a hosted API task): resume the task an earlier
   * attempt started instead of paying for a second one, and report a new task's id when created.
   */
  providerTask?: { resumeId?: string; onCreated?(id: string): void };
}

export type RuntimeResult =
  /** Raw frames, RGB24, width*height*3 bytes each: the worker encodes them. */
  | { kind: 'frames'; frames: Uint8Array[]; width: number; height: number; fps: number }
  /** A finished video file (ComfyUI, hosted API): the worker re-encodes and labels it. */
  | { kind: 'file'; path: string; width?: number; height?: number; fps?: number };

export type RuntimeErrorCode =
  | 'bad_input' // unrecoverable: tell the user, refund
  | 'moderation' // the provider refused the content: refund, tell the user
  | 'transient' // retry with backoff
  | 'throttled' // provider asked to slow down: retry later
  | 'oom' // out of memory: a final job may retry once as draft
  | 'misconfigured' // the deployment lacks a node, model file or credential: refund, no retry, tell the operator
  | 'cancelled';

/** What a user is told when a runtime fails this way. */
const RUNTIME_MESSAGES: Record<RuntimeErrorCode, MessageId> = {
  bad_input: 'outcome.bad_input',
  moderation: 'outcome.provider_moderation',
  transient: 'outcome.failed',
  throttled: 'outcome.busy',
  oom: 'outcome.out_of_memory',
  misconfigured: 'outcome.unavailable',
  cancelled: 'outcome.cancelled',
};

export class RuntimeError extends FramecastError {
  declare readonly code: RuntimeErrorCode;
  readonly retryAfterMs: number | undefined;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(code, message, { messageId: RUNTIME_MESSAGES[code], ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    this.name = 'RuntimeError';
    this.retryAfterMs = options?.retryAfterMs;
  }
}

export interface VideoRuntime {
  readonly name: string;
  /** Load models / check the server once; kept warm across jobs. */
  load(): Promise<void>;
  generate(request: RuntimeRequest, hooks?: RuntimeHooks): Promise<RuntimeResult>;
  /**
   * What this runtime renders, in its own terms: the sizes its own validation accepts (the sizes of
   * a RuntimeRequest, no render scale), whether it takes a start image, its frame limit and step
   * counts. Read from the model manifest, the workflow template or the provider model: cheap, no
   * model loading and no network. The worker publishes `atRenderScale(caps, renderScale)`, so that
   * intake fits specs to the sizes that render after the worker scales them.
   */
  capabilities(): Promise<RuntimeCapabilities>;
  dispose(): Promise<void>;
}

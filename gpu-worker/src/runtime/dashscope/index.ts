export {
  DASHSCOPE_MAX_NEGATIVE_PROMPT_CHARS,
  DASHSCOPE_MAX_PROMPT_CHARS,
  DASHSCOPE_MAX_SEED,
  DashScopeAuthError,
  DashScopeRuntime,
  I2V_RESOLUTIONS,
  T2V_SIZES,
  TIER_SIZES,
  dashScopeCapabilities,
  mapDashScopeError,
  pickI2vResolution,
  pickT2vSize,
  pollDelayMs,
  safeFetcherDownloader,
} from './dashscope-runtime.ts';
export type { DashScopeModel, DashScopePolling, DashScopeRuntimeOptions } from './dashscope-runtime.ts';

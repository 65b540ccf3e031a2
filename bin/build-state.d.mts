// Types for build-state.mjs (plain JavaScript, since it runs before anything is compiled).
export declare const ROOT: string;
export declare function stampPath(root?: string): string;
export interface BuildProject {
  config: string;
  dir: string;
  rootDir: string;
  outDir: string;
  inputs: string[];
}
export declare function buildProjects(root?: string): BuildProject[];
export type BuildState = { fresh: true } | { fresh: false; reason: string };
export declare function buildState(root?: string): BuildState;

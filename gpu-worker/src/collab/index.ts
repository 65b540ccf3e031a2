export * from './collab-worker.ts';
export { planStitch, stitchVideo, writeClip, type StitchClip, type StitchOptions, type StitchPlan } from '../video/stitch-video.ts';

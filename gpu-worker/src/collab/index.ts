export * from './collab-worker.ts';
export {
  planStitch, stitchLabelledVideo, stitchVideo, writeClip, type StitchClip, type StitchLabels, type StitchOptions, type StitchPlan,
} from '../video/stitch-video.ts';

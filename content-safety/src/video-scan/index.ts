export * from './video-scan.ts';
export { VideoScanError, probeVideo, sampleFrames, frameSize, type VideoScanErrorCode, type VideoProbe, type SampledFrame } from './video-frame-sampler.ts';
export { frameDHash, dHashDistance, DHASH_SIDE, DHASH_SAME_MAX_DISTANCE } from './frame-dhash.ts';

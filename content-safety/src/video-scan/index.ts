export * from './video-scan.ts';
export { VideoScanError, probeVideo, sampleFrames, frameSize, type VideoScanErrorCode, type VideoProbe, type SampledFrame } from './video-frame-sampler.ts';

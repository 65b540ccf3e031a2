/**
 * The smallest H.264 level from 4.1 up whose frame-size and macroblock-rate limits (ITU-T H.264
 * Table A-1) fit a size and frame rate. 4.1 is the floor on purpose: it is what Discord, Slack and
 * WeChat's players (and every phone since ~2012) decode, and it covers everything up to 1080p30.
 */
const LEVELS: { level: string; maxFs: number; maxMbps: number }[] = [
  { level: '4.1', maxFs: 8192, maxMbps: 245_760 },
  { level: '4.2', maxFs: 8704, maxMbps: 522_240 },
  { level: '5.0', maxFs: 22_080, maxMbps: 589_824 },
  { level: '5.1', maxFs: 36_864, maxMbps: 983_040 },
  { level: '5.2', maxFs: 36_864, maxMbps: 2_073_600 },
];

export function h264LevelFor(width: number, height: number, fps: number): string {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const rate = mbs * fps;
  const found = LEVELS.find((l) => mbs <= l.maxFs && rate <= l.maxMbps);
  return (found ?? LEVELS[LEVELS.length - 1]!).level;
}

export * from './generate-worker.ts';
export * from './gpu-gate.ts';
export * from './output-scanner.ts';
export * from './conditioning-image.ts';
export * from './from-config.ts';
export * from './scan-report.ts';

export * from './ip-address-policy.ts';
export * from './safe-fetch-error.ts';
export * from './safe-fetcher.ts';

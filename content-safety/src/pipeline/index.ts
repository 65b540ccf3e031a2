export * from './reference-image-intake.ts';
export * from './combined-moderator.ts';
export * from './product-moderator.ts';
export * from './category-labels.ts';

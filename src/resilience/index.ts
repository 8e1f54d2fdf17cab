export * from './plan.ts';
export * from './policy.ts';
export * from './resilient-stream.ts';
export * from './splice.ts';

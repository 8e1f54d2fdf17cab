export * from './anthropic.ts';
export * from './openai/from-openai.ts';
export * from './openai/provider.ts';
export * from './openai/to-openai.ts';
export * from './registry.ts';
export * from './simulated/faults.ts';
export * from './simulated/provider.ts';
export * from './types.ts';

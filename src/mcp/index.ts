export * from './client.ts';
export * from './command-line.ts';
export * from './sampling.ts';
export * from './tools.ts';

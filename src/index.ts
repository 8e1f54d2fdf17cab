/**
 * Sluice: asynchronous, streaming LLM chat for TypeScript.
 * The public API: the protocol types and errors, and the stream engine.
 */

export * from './client/index.ts';
export * from './mcp/index.ts';
export * from './protocol/index.ts';
export * from './providers/index.ts';
export * from './resilience/index.ts';
export * from './stream/index.ts';

export * from './chat.ts';
export * from './client.ts';
export * from './content.ts';
export * from './messages.ts';
export * from './structured.ts';
export * from './tools.ts';
export * from './usage.ts';

export * from './assemble.ts';
export * from './decode-events.ts';
export * from './measure.ts';
export * from './message-stream.ts';
export * from './partial-json.ts';
export * from './print.ts';
export * from './sse.ts';
export * from './watchdog.ts';

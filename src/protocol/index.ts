export * from './content.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './http-errors.ts';
export * from './message.ts';
export * from './models.ts';
export * from './request.ts';
export * from './zod-errors.ts';

/**
 * `sluice/server`: the streaming gateway as a library. Needs the gateway's optional peer
 * dependencies: `npm install fastify @fastify/cors pino prom-client`.
 */

export { createServer, type GatewayOptions } from '../server/app.ts';
export { ConfigError } from '../server/config/errors.ts';
export { type LoadConfigOptions, type LoadedConfig, loadConfig } from '../server/config/load.ts';
export type { ConfigOverrides } from '../server/config/overrides.ts';
export type { GatewayConfig, GatewayConfigFile } from '../server/config/schema.ts';
export type { RouteHandler } from '../server/dispatcher.ts';
export type { RouterOptions } from '../server/router.ts';
export { type RunningGateway, type StartOptions, startGateway } from '../server/start.ts';

import type { ProviderDescriptor } from '../descriptor.ts';
import { runtimeEnv } from '../runtime-env.ts';
import { createSimulatedProvider, type Pacing, SIMULATED_CAPABILITIES } from './provider.ts';

type Env = Record<string, string | undefined>;

/** Simulator pacing from `SLUICE_SIM_TTFT_MS` and `SLUICE_SIM_TPS` (0 = as fast as possible). */
export function pacingFromEnv(env: Env = runtimeEnv()): Partial<Pacing> {
  const pacing: Partial<Pacing> = {};
  if (env.SLUICE_SIM_TTFT_MS !== undefined) pacing.ttftMs = Number(env.SLUICE_SIM_TTFT_MS) || 0;
  if (env.SLUICE_SIM_TPS !== undefined) pacing.tokensPerSecond = Number(env.SLUICE_SIM_TPS) || 0;
  return pacing;
}

/**
 * The `sim` kind: the simulated model, in-process, as the built-in `sim:` provider and
 * `"type": "sim"` in a configuration. A gateway offers the built-in one only when its
 * configuration names no provider or names one `sim`: it answers anyone for free.
 */
export const simulatedDescriptor: ProviderDescriptor = {
  kind: 'sim',
  aliases: ['simulated'],
  description: "Sluice's simulated model (deterministic, no network, no key)",
  capabilities: SIMULATED_CAPABILITIES,
  env: {},
  settings: ['pacing'],
  gatewayBuiltIn: 'unconfigured',
  fromEnv: (env) => createSimulatedProvider({ pacing: pacingFromEnv(env) }),
  fromSettings: ({ pacing }, env) =>
    createSimulatedProvider({ pacing: { ...pacingFromEnv(env), ...pacing } }),
};

import { afterAll, beforeAll } from 'vitest';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { NO_PACING } from '../../src/providers/simulated/provider.ts';
import type { Provider } from '../../src/providers/types.ts';
import { Simulator, type SimulatorOptions } from '../../src/server/simulator/simulator.ts';

/** A real simulator on 127.0.0.1 (port 0) for the tests of one file, unpaced unless asked. */
export function useSimulator(options: SimulatorOptions = {}): {
  readonly simulator: Simulator;
  readonly url: string;
} {
  let simulator: Simulator | undefined;
  beforeAll(async () => {
    simulator = await Simulator.start({ pacing: NO_PACING, ...options });
  });
  afterAll(async () => {
    await simulator?.close();
  });
  return {
    get simulator() {
      return simulator!;
    },
    get url() {
      return simulator!.url;
    },
  };
}

/** The fetch-based Anthropic provider pointed at a simulator, sending a fault script header. */
export function anthropicAt(url: string, fault?: unknown): Provider {
  return createAnthropicProvider({
    apiKey: 'sk-test-not-a-real-key',
    baseURL: url,
    headers: fault === undefined ? {} : { 'x-sluice-fault': JSON.stringify(fault) },
  });
}

let scripts = 0;

/**
 * A fault script for the x-sluice-fault header. The simulator counts requests per header
 * value, so each script gets a unique label: tests never share a counter.
 */
export function script(...faults: object[]): object[] {
  scripts++;
  return faults.map((fault) => ({ ...fault, label: `script-${scripts}` }));
}

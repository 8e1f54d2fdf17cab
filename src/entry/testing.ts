/**
 * `sluice/testing`: deterministic models for your own tests. The simulated model in-process
 * (`createSimulatedProvider`) or over HTTP with scripted faults (`Simulator`, what `sluice
 * simulate` runs), and `ScriptedProvider`, which plays exactly the events you give it.
 */

export { ScriptedProvider, type ScriptedStep } from '../providers/scripted.ts';
export { type Fault, type FaultScript, parseFaultScript } from '../providers/simulated/faults.ts';
export {
  createSimulatedProvider,
  DEMO_PACING,
  NO_PACING,
  type Pacing,
  type SimulatedProviderOptions,
} from '../providers/simulated/provider.ts';
export { Simulator, type SimulatorOptions, type SimulatorRequest } from '../providers/simulated/server.ts';

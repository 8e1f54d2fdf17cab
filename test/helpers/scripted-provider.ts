// The scripted provider is public (`sluice/testing`); the tests use the same one.
export { ScriptedProvider, type ScriptedStep as Step } from '../../src/providers/scripted.ts';

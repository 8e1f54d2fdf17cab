import { cpus } from 'node:os';

/** What every benchmark reports of the machine it ran on. */
export function machine(): { node: string; platform: string; cpu: string } {
  const processors = cpus();
  return {
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    cpu: `${processors.length} × ${processors[0]?.model ?? 'unknown'}`,
  };
}

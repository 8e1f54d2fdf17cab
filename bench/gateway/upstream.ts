/**
 * The upstream of every path: `sluice simulate`'s Simulator in a process of its own, so its CPU
 * is billed neither to a gateway nor to the load generator. Arguments: ttftMs tokensPerSecond.
 * Tells its parent the URL over IPC and exits with it.
 */
import { Simulator } from '../../src/server/simulator/simulator.ts';

if (process.send === undefined) throw new Error('upstream.ts runs as a forked child of the gateway bench');

const [ttftMs = '0', tokensPerSecond = '50'] = process.argv.slice(2);
const simulator = await Simulator.start({
  port: 0,
  pacing: { ttftMs: Number(ttftMs), tokensPerSecond: Number(tokensPerSecond) },
});
process.on('disconnect', () => void simulator.close().finally(() => process.exit(0)));
process.send({ url: simulator.url });

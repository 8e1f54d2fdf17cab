import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSimulatedProvider, NO_PACING } from '../../src/providers/simulated/provider.ts';
import { loadConfig } from '../../src/server/config.ts';
import { type RunningGateway, startGateway } from '../../src/server/start.ts';
import { assembleMessage } from '../../src/stream/assemble.ts';
import { serveProcess } from '../helpers/serve-process.ts';

// The simulated model must not hold the gateway's event loop: a huge prompt is parsed, counted
// and answered while /healthz keeps answering at once. These run the real gateway on 127.0.0.1.

const scratch = mkdtempSync(join(tmpdir(), 'sluice-abuse-sim-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const TEN_MB = 10 * 1024 * 1024;
// The bound. The gateway itself parses each 10 MB body (JSON.parse, the request schema)
// in one go, some tens of ms on a loaded 2-core machine; the simulator's own work is sliced into
// pieces of a few ms, so the worst /healthz wait stays well inside it.
const HEALTHZ_BOUND_MS = 100;

async function gatewayWith(file: Record<string, unknown>): Promise<RunningGateway> {
  const path = join(scratch, `config-${Math.random().toString(36).slice(2)}.json`);
  // Room for the JSON of a 10 MB prompt: escaped line breaks take two bytes, an emoji four.
  writeFileSync(path, JSON.stringify({ server: { bodyLimitBytes: 3 * TEN_MB }, ...file }));
  const { config } = loadConfig({ env: {}, path, overrides: { port: 0 } });
  return startGateway(config, { env: {}, telemetry: undefined });
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'unused' },
    body: JSON.stringify(body),
  });
}

/** What the tests read of a /v1/messages answer. */
interface AnswerBody {
  type: string;
  usage: { input_tokens: number };
  content: { text: string }[];
  error?: { type: string; message: string };
}

/** The CPU time, in ms, the main thread of process `pid` has used (Linux: /proc, in clock ticks). */
function mainThreadCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * One GET /healthz: how long it took, and how much CPU the gateway's main thread (its event
 * loop) used meanwhile. A wait longer than that CPU time is the machine serving other processes.
 */
function probe(url: string, agent: Agent, pid: number): Promise<{ waitMs: number; busyMs: number }> {
  const start = performance.now();
  const cpuBefore = mainThreadCpuMs(pid);
  return new Promise((resolve, reject) => {
    get(`${url}/healthz`, { agent }, (response) => {
      response.resume();
      response.once('end', () => {
        const waitMs = performance.now() - start;
        const busyMs = mainThreadCpuMs(pid) - cpuBefore;
        if (response.statusCode === 200) resolve({ waitMs, busyMs });
        else reject(new Error(`/healthz answered ${response.statusCode}`));
      });
    }).once('error', reject);
  });
}

function postBytes(url: string, body: Buffer): Promise<{ status: number; body: AnswerBody }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-api-key': 'unused' },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as AnswerBody,
          }),
        );
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

function hugePrompt(lead = ''): string {
  // Words, digits, punctuation and line breaks: every tokenizer path, 10 MB of it.
  const unit = `${lead}Lorem ipsum dolor sit amet, 12345 consectetur; adipiscing elit.\n`;
  return unit.repeat(Math.ceil(TEN_MB / unit.length)).slice(0, TEN_MB);
}

const FAST_SIM = { sim: { type: 'sim', pacing: { ttftMs: 0, tokensPerSecond: 0 } } };

/** The /healthz probes, one after another, while two 10 MB prompts to `model` are in flight. */
async function probesDuring(
  url: string,
  agent: Agent,
  pid: number,
  model: string,
  prompt: string,
): Promise<{
  probes: { waitMs: number; busyMs: number }[];
  answers: { status: number; body: AnswerBody }[];
}> {
  // Built before timing starts, as bytes: writing them costs this process's loop nothing.
  const bodies = [0, 1].map((n) =>
    Buffer.from(
      JSON.stringify({
        model,
        max_tokens: 64,
        messages: [{ role: 'user', content: `${n} ${prompt}` }],
      }),
    ),
  );
  const answers = Promise.all(bodies.map((body) => postBytes(`${url}/v1/messages`, body)));
  let done = false;
  void answers.finally(() => {
    done = true;
  });
  const probes: { waitMs: number; busyMs: number }[] = [];
  while (!done) probes.push(await probe(url, agent, pid));
  return { probes, answers: await answers };
}

describe('a 10 MB prompt to sim:', () => {
  it('never holds the event loop for long: the simulator alone, in this process', async () => {
    const provider = createSimulatedProvider({ pacing: NO_PACING });
    // Two different flat strings, made before timing starts.
    const prompts = [hugePrompt('First. '), hugePrompt('Second. ')];
    // The most CPU time this thread spent between two runs of a 1 ms timer: how long the loop
    // was held by work. Wall time would also count the time a loaded machine gave other
    // processes, which says nothing about the simulator.
    const cpuMs = () => {
      const { user, system } = process.threadCpuUsage();
      return (user + system) / 1000;
    };
    let last = cpuMs();
    let longest = 0;
    const timer = setInterval(() => {
      const now = cpuMs();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    try {
      const messages = await Promise.all(
        prompts.map((prompt) =>
          assembleMessage(
            provider.stream({
              model: 'default',
              max_tokens: 64,
              messages: [{ role: 'user', content: prompt }],
            }),
          ),
        ),
      );
      for (const message of messages) expect(message.usage.input_tokens).toBeGreaterThan(TEN_MB / 8);
    } finally {
      clearInterval(timer);
    }
    // A block that lasted to the end was not seen by the timer.
    longest = Math.max(longest, cpuMs() - last);
    expect(longest).toBeLessThan(HEALTHZ_BOUND_MS);
  }, 60_000);

  it.runIf(process.platform === 'linux')(
    'through the real gateway: /healthz waits no more than 100 ms beyond what reading the bodies costs',
    async () => {
      // The gateway in a process of its own, so the probes time its event loop, not this one.
      const path = join(scratch, 'healthz.json');
      writeFileSync(
        path,
        JSON.stringify({ server: { bodyLimitBytes: 3 * TEN_MB, logLevel: 'warn' }, providers: FAST_SIM }),
      );
      const gateway = await serveProcess(['--config', path], {});
      const pid = gateway.child.pid!;
      const agent = new Agent({ keepAlive: true });
      try {
        // A first probe opens the keep-alive connection the others reuse.
        await probe(gateway.url, agent, pid);
        const prompt = hugePrompt();
        // The control: the same bodies, read and parsed by the gateway, then refused (an unknown
        // provider): what reading them costs the gateway, the simulator apart.
        const control = await probesDuring(gateway.url, agent, pid, 'nope:default', prompt);
        for (const { status } of control.answers) expect(status).toBe(404);
        const { probes, answers } = await probesDuring(gateway.url, agent, pid, 'sim:default', prompt);
        for (const { status, body } of answers) {
          expect(status).toBe(200);
          expect(body.usage.input_tokens).toBeGreaterThan(TEN_MB / 8);
          expect(body.content[0]?.text.length).toBeGreaterThan(0);
        }
        // Several probes ran during the work, not just one before it and one after.
        expect(probes.length).toBeGreaterThanOrEqual(5);
        // A probe's delay is the gateway's own work only up to the CPU its loop used meanwhile;
        // on a loaded 2-core machine the rest is other processes' turn.
        const held = (list: typeof probes) => Math.max(...list.map((p) => Math.min(p.waitMs, p.busyMs)));
        // Fastify reads each JSON body in one synchronous step (Buffer.concat, UTF-8 decoding,
        // JSON.parse): for 10 MB about 50 ms of CPU on an idle core and up to 200 ms on a loaded
        // one, the same with or without the simulator, which the control measures. The two
        // bodies may be parsed back to back within one probe's wait (hence twice the control's
        // worst), and the simulator may add no more than the 100 ms to that. Before it
        // was sliced, one probe waited 5 s, all of it the simulator's work.
        expect(held(probes)).toBeLessThan(2 * held(control.probes) + HEALTHZ_BOUND_MS);
      } finally {
        agent.destroy();
        gateway.child.kill('SIGTERM');
        await gateway.exited;
      }
    },
    60_000,
  );

  it('one unbroken run of one character gets a proper answer, not a 500', async () => {
    const gateway = await gatewayWith({ providers: FAST_SIM });
    try {
      for (const char of ['a', '\u0301', '7', '.', ' ', '\n', 'é', '😀']) {
        const run = char.repeat(Math.floor(TEN_MB / Buffer.byteLength(char)));
        const response = await post(gateway.url, {
          model: 'sim:default',
          max_tokens: 32,
          messages: [{ role: 'user', content: run }],
        });
        const body = await response.json();
        expect({ char, status: response.status }).toEqual({ char, status: 200 });
        expect(body.type).toBe('message');
        expect(body.usage.input_tokens).toBeGreaterThan(0);
      }
    } finally {
      await gateway.close(0);
    }
  }, 60_000);
});

describe('sim: in the gateway', () => {
  const ask = (url: string, model: string) =>
    post(url, { model, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] });

  it('is refused with a 404 naming the configured providers when only real ones are configured', async () => {
    const gateway = await gatewayWith({
      defaultModel: 'work:gpt-4o-mini',
      providers: { work: { type: 'openai', baseURL: 'http://127.0.0.1:9/v1' } },
    });
    try {
      const response = await ask(gateway.url, 'sim:default');
      expect(response.status).toBe(404);
      const body = await response.json();
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('not_found_error');
      expect(body.error.message).toMatch(/sim:/);
      expect(body.error.message).toMatch(/\bwork\b/);
    } finally {
      await gateway.close(0);
    }
  });

  it('is allowed when no provider is configured', async () => {
    const gateway = await gatewayWith({});
    try {
      const response = await ask(gateway.url, 'sim:default');
      expect(response.status).toBe(200);
      expect((await response.json()).type).toBe('message');
    } finally {
      await gateway.close(0);
    }
  });

  it('is allowed beside real providers when configured', async () => {
    const gateway = await gatewayWith({
      providers: { ...FAST_SIM, work: { type: 'openai', baseURL: 'http://127.0.0.1:9/v1' } },
    });
    try {
      const response = await ask(gateway.url, 'sim:default');
      expect(response.status).toBe(200);
      expect((await response.json()).type).toBe('message');
    } finally {
      await gateway.close(0);
    }
  });
});

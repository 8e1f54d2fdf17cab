import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** Milliseconds from sending GET /healthz to its whole answer. */
function probe(url: string, agent: Agent): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    get(`${url}/healthz`, { agent }, (response) => {
      response.resume();
      response.once('end', () => {
        if (response.statusCode === 200) resolve(performance.now() - start);
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

/** The /healthz waits, probed one after another, while two 10 MB prompts to `model` are in flight. */
async function healthzWaitsDuring(
  url: string,
  agent: Agent,
  model: string,
  prompt: string,
): Promise<{ waits: number[]; answers: { status: number; body: AnswerBody }[] }> {
  // Built before timing starts, as bytes: writing them costs this process's loop nothing.
  const bodies = [0, 1].map((n) =>
    Buffer.from(
      JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: `${n} ${prompt}` }] }),
    ),
  );
  const answers = Promise.all(bodies.map((body) => postBytes(`${url}/v1/messages`, body)));
  let done = false;
  void answers.finally(() => {
    done = true;
  });
  const waits: number[] = [];
  while (!done) waits.push(await probe(url, agent));
  return { waits, answers: await answers };
}

describe('a 10 MB prompt to sim:', () => {
  it('never holds the event loop for long: the simulator alone, in this process', async () => {
    const provider = createSimulatedProvider({ pacing: NO_PACING });
    // Two different flat strings, made before timing starts.
    const prompts = [hugePrompt('First. '), hugePrompt('Second. ')];
    // The longest time the loop went without running a 1 ms timer, less the timer's own period.
    let last = performance.now();
    let longest = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last - 1);
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
    longest = Math.max(longest, performance.now() - last - 1);
    expect(longest).toBeLessThan(HEALTHZ_BOUND_MS);
  }, 60_000);

  it('does not delay /healthz beyond what parsing the 10 MB bodies costs the gateway', async () => {
    // The gateway in a process of its own, so the probes time its event loop, not this one.
    const path = join(scratch, 'healthz.json');
    writeFileSync(
      path,
      JSON.stringify({ server: { bodyLimitBytes: 3 * TEN_MB, logLevel: 'warn' }, providers: FAST_SIM }),
    );
    const gateway = await serveProcess(['--config', path], {});
    const agent = new Agent({ keepAlive: true });
    try {
      const prompt = hugePrompt();
      // A first probe opens the keep-alive connection the others reuse.
      await probe(gateway.url, agent);
      // The control: the same bodies, read and parsed by the gateway, then refused (an unknown
      // provider). Fastify reads a JSON body in one synchronous step (Buffer.concat, UTF-8
      // decoding, JSON.parse and its prototype scans): about 50 ms of CPU for 10 MB on an idle
      // core, several times that on a loaded one. That step is the gateway's body handling, not
      // the simulator's, so the bound below is what the simulator may add over it.
      const control = await healthzWaitsDuring(gateway.url, agent, 'nope:default', prompt);
      for (const { status } of control.answers) expect(status).toBe(404);
      const simulated = await healthzWaitsDuring(gateway.url, agent, 'sim:default', prompt);
      for (const { status, body } of simulated.answers) {
        expect(status).toBe(200);
        expect(body.usage.input_tokens).toBeGreaterThan(TEN_MB / 8);
        expect(body.content[0]?.text.length).toBeGreaterThan(0);
      }
      // Several probes ran during the work, not just one before it and one after.
      expect(simulated.waits.length).toBeGreaterThanOrEqual(5);
      // Before the simulator was sliced, one probe waited 5 s here; with it, the longest wait is
      // the parsing's, measured in the control, and the noise of a loaded machine.
      expect(Math.max(...simulated.waits)).toBeLessThan(Math.max(...control.waits) * 2 + HEALTHZ_BOUND_MS);
    } finally {
      agent.destroy();
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  }, 60_000);

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

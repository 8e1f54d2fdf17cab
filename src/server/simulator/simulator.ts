import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IncompleteStreamError, SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import { modelEntry, modelList } from '../../protocol/models.ts';
import { MessageCountTokensParamsSchema, MessageCreateParamsSchema } from '../../protocol/request.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import { fromOpenAIRequest } from '../../providers/openai/server/request.ts';
import { messageToOpenAIResponse } from '../../providers/openai/server/response.ts';
import { ChunkWriter, encodeOpenAIChunk, OPENAI_STREAM_DONE } from '../../providers/openai/server/stream.ts';
import { sharedSimulatedEvents, simulatedEventsSliced } from '../../providers/simulated/answer-events.ts';
import {
  type Fault,
  FaultPlayer,
  type FaultScript,
  parseFaultScript,
} from '../../providers/simulated/faults.ts';
import { DEMO_PACING, type Pacing, playbackSteps } from '../../providers/simulated/provider.ts';
import { simulatedTokenCount } from '../../providers/simulated/request-tokens.ts';
import { assembleMessage } from '../../stream/assemble.ts';
import { anthropicFrames, encodeAnthropicFrame, withCrlf } from './anthropic-frames.ts';
import { BodyWriter } from './body-writer.ts';
import { errorBodyFor, readJson, sendError, sendFault, sendJson } from './http.ts';
import { PacingWheel, StreamPause } from './pacing-wheel.ts';

/** Options of `Simulator.start`: host, port (0: a free one), pacing, and faults for every request. */
export interface SimulatorOptions {
  port?: number;
  host?: string;
  /** Faults for every request (a script plays one entry per request). */
  faults?: FaultScript;
  pacing?: Partial<Pacing>;
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
  /** Connections the kernel queues while the simulator is busy (default 4096, capped at somaxconn). */
  backlog?: number;
}

// A load test opens thousands of streams within seconds; with Node's 511, connections beyond
// the accept queue lose their SYN and wait a second or more for the retry, which a
// benchmark would then blame on whatever sits in front of the simulator.
const DEFAULT_BACKLOG = 4096;

/** What the simulator saw of one request, for tests and the CLI's log. */
export interface SimulatorRequest {
  id: string;
  method: string;
  path: string;
  body: unknown;
  headers: IncomingMessage['headers'];
  receivedAt: number;
  closedAt?: number;
  /** Whether the response was sent to its end (false when the client left or a fault dropped it). */
  completed?: boolean;
}

const FAULT_HEADER = 'x-sluice-fault';
const MAX_RECORDS = 1000;

/**
 * The simulated model over HTTP, speaking the Anthropic Messages protocol and the OpenAI
 * Chat Completions protocol, with scripted faults at the HTTP, event and byte level.
 * Emits `request` and `close` with a `SimulatorRequest`.
 */
export class Simulator extends EventEmitter {
  readonly requests: SimulatorRequest[] = [];
  private readonly server: Server;
  private readonly options: SimulatorOptions;
  private readonly pacing: Pacing;
  private readonly player = new FaultPlayer();
  /** One timer per millisecond for the tokens of every stream, not one per stream and token. */
  private readonly wheel = new PacingWheel();
  private counter = 0;

  private constructor(options: SimulatorOptions) {
    super();
    this.options = options;
    this.pacing = { ...DEMO_PACING, ...options.pacing };
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(options: SimulatorOptions = {}): Promise<Simulator> {
    const simulator = new Simulator(options);
    await new Promise<void>((resolve, reject) => {
      simulator.server.once('error', reject);
      simulator.server.listen(
        {
          port: options.port ?? 0,
          host: options.host ?? '127.0.0.1',
          backlog: options.backlog ?? DEFAULT_BACKLOG,
        },
        () => resolve(),
      );
    });
    return simulator;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    const host = this.options.host ?? '127.0.0.1';
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  /** Stops listening and closes every connection, streams in flight included. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: SimulatorRequest = {
      id: `req_sim_${++this.counter}`,
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0]!,
      body: undefined,
      headers: req.headers,
      receivedAt: performance.now(),
    };
    this.requests.push(record);
    if (this.requests.length > MAX_RECORDS) this.requests.shift();
    res.setHeader('request-id', record.id);
    res.on('close', () => {
      record.closedAt = performance.now();
      record.completed = res.writableFinished;
      this.emit('close', record);
    });
    const openai = record.path === '/v1/chat/completions';
    try {
      if (record.method === 'GET' && (record.path === '/healthz' || record.path === '/v1/models')) {
        return sendJson(res, 200, record.path === '/healthz' ? { ok: true } : simulatorModels());
      }
      const counting = record.path === '/v1/messages/count_tokens';
      if (record.method !== 'POST' || (record.path !== '/v1/messages' && !openai && !counting)) {
        return sendError(
          res,
          new SluiceError('not_found_error', `No route ${record.method} ${record.path}.`),
          openai,
        );
      }
      record.body = await readJson(req, this.options.bodyLimit ?? 32 * 1024 * 1024);
      this.emit('request', record);
      const fault = this.faultFor(req);
      if (fault?.status !== undefined) return sendFault(res, fault, openai);
      if (counting) {
        const request = parseRequestBody(MessageCountTokensParamsSchema, record.body);
        return sendJson(res, 200, await simulatedTokenCount(request, abortOnClose(res)));
      }
      if (openai) await this.serveOpenAI(record.body, fault, res);
      else await this.serveAnthropic(record.body, fault, res);
    } catch (error) {
      if (!res.headersSent) sendError(res, error, openai);
      else res.destroy();
    }
  }

  private faultFor(req: IncomingMessage): Fault | undefined {
    const header = req.headers[FAULT_HEADER];
    if (typeof header === 'string' && header !== '') {
      return this.player.next(parseFaultScript(header, `The ${FAULT_HEADER} header`), header);
    }
    return this.player.next(this.options.faults, '(server)');
  }

  private async serveAnthropic(body: unknown, fault: Fault | undefined, res: ServerResponse): Promise<void> {
    const request = parseRequestBody(MessageCreateParamsSchema, body);
    const signal = abortOnClose(res);
    if (!request.stream) {
      return sendJson(res, 200, await assembleMessage(await simulatedEventsSliced(request, signal)));
    }
    const events = await sharedSimulatedEvents(request, signal);
    const frames = anthropicFrames(events);
    const out = new BodyWriter(res, fault);
    const pause = new StreamPause(this.wheel, signal);
    let last: StreamEvent | undefined;
    for (const step of playbackSteps(events, fault, this.pacing)) {
      if (step.kind === 'stall') {
        if (await pause.for(step.ms)) out.finish(false);
        return;
      }
      if (step.kind === 'event' && step.delayMs > 0 && !(await pause.for(step.delayMs))) return;
      last = step.kind === 'event' ? events[step.index]! : step.event;
      const frame = step.kind === 'event' ? frames[step.index]! : encodeAnthropicFrame(step.event);
      if (!(await out.write(fault?.crlf ? withCrlf(frame) : frame))) return;
    }
    out.finish(last?.type === 'message_stop' || last?.type === 'error');
  }

  private async serveOpenAI(body: unknown, fault: Fault | undefined, res: ServerResponse): Promise<void> {
    const { request, includeUsage } = fromOpenAIRequest(body);
    const signal = abortOnClose(res);
    const id = `chatcmpl-sim${this.counter}`;
    const created = Math.floor(Date.now() / 1000);
    if (!request.stream) {
      const message = await assembleMessage(await simulatedEventsSliced(request, signal));
      return sendJson(res, 200, messageToOpenAIResponse(message, { id, created }));
    }
    const events = await sharedSimulatedEvents(request, signal);
    const out = new BodyWriter(res, fault);
    const pause = new StreamPause(this.wheel, signal);
    const writer = new ChunkWriter({ id, model: request.model, created, includeUsage });
    let finished = false;
    try {
      for (const step of playbackSteps(events, fault, this.pacing)) {
        if (step.kind === 'stall' && !(await pause.for(step.ms))) return;
        if (step.kind === 'stall') break;
        if (step.kind === 'event' && step.delayMs > 0 && !(await pause.for(step.delayMs))) return;
        for (const chunk of writer.apply(step.kind === 'event' ? events[step.index]! : step.event)) {
          if (chunk.choices.some((choice) => choice.finish_reason)) finished = true;
          if (!(await out.write(encodeOpenAIChunk(chunk)))) return;
        }
        if (writer.isDone) break;
      }
      if (!writer.isDone) {
        throw new IncompleteStreamError(
          'The upstream stream ended before message_stop; the answer is incomplete.',
        );
      }
    } catch (error) {
      // OpenAI-compatible servers report a mid-stream failure as a data line with an error object.
      const detail = error instanceof SluiceError ? error : new SluiceError('api_error', String(error));
      await out.write(`data: ${JSON.stringify(errorBodyFor(detail, true))}\n\n`);
      return out.finish(true);
    }
    if (finished && !(await out.write(OPENAI_STREAM_DONE))) return;
    out.finish(finished);
  }
}

function abortOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  // Only a response cut short aborts: the abort's DOMException (with its stack) is measurable
  // work on every stream of a load test, and nothing waits on a finished one.
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Its one model, in the shape both official SDKs read. */
function simulatorModels(): unknown {
  return modelList([modelEntry('default', 'sluice-simulator', new Date(0))]);
}

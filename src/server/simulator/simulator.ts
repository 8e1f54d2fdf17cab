import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import { modelEntry, modelList } from '../../protocol/models.ts';
import { MessageCountTokensParamsSchema, MessageCreateParamsSchema } from '../../protocol/request.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import { fromOpenAIRequest } from '../../providers/openai/server/request.ts';
import { messageToOpenAIResponse } from '../../providers/openai/server/response.ts';
import {
  encodeOpenAIChunk,
  eventsToOpenAIChunks,
  OPENAI_STREAM_DONE,
} from '../../providers/openai/server/stream.ts';
import { simulatedEventsSliced } from '../../providers/simulated/answer-events.ts';
import {
  type Fault,
  FaultPlayer,
  type FaultScript,
  parseFaultScript,
} from '../../providers/simulated/faults.ts';
import { DEMO_PACING, type Pacing, playEvents } from '../../providers/simulated/provider.ts';
import { simulatedTokenCount } from '../../providers/simulated/request-tokens.ts';
import { assembleMessage } from '../../stream/assemble.ts';
import { encodeSSE } from '../../stream/sse.ts';
import { BodyWriter } from './body-writer.ts';
import { errorBodyFor, readJson, sendError, sendFault, sendJson } from './http.ts';

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
    const events = await simulatedEventsSliced(request, signal);
    if (!request.stream) return sendJson(res, 200, await assembleMessage(events));
    const out = new BodyWriter(res, fault);
    let last: StreamEvent | undefined;
    for await (const event of playEvents(events, { fault, pacing: this.pacing, signal })) {
      last = event;
      const text = encodeSSE({ event: event.type, data: JSON.stringify(event) });
      if (!(await out.write(fault?.crlf ? text.replaceAll('\n', '\r\n') : text))) return;
    }
    out.finish(last?.type === 'message_stop' || last?.type === 'error');
  }

  private async serveOpenAI(body: unknown, fault: Fault | undefined, res: ServerResponse): Promise<void> {
    const { request, includeUsage } = fromOpenAIRequest(body);
    const signal = abortOnClose(res);
    const events = await simulatedEventsSliced(request, signal);
    const id = `chatcmpl-sim${this.counter}`;
    const created = Math.floor(Date.now() / 1000);
    if (!request.stream) {
      return sendJson(res, 200, messageToOpenAIResponse(await assembleMessage(events), { id, created }));
    }
    const out = new BodyWriter(res, fault);
    const played = playEvents(events, { fault, pacing: this.pacing, signal });
    let finished = false;
    try {
      for await (const chunk of eventsToOpenAIChunks(played, {
        id,
        model: request.model,
        created,
        includeUsage,
      })) {
        if (chunk.choices.some((choice) => choice.finish_reason)) finished = true;
        if (!(await out.write(encodeOpenAIChunk(chunk)))) return;
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
  res.once('close', () => controller.abort());
  return controller.signal;
}

/** Its one model, in the shape both official SDKs read. */
function simulatorModels(): unknown {
  return modelList([modelEntry('default', 'sluice-simulator', new Date(0))]);
}

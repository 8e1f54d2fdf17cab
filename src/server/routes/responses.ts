import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../../protocol/errors.ts';
import { responsesErrorBody } from '../../providers/openai-responses/server/error-body.ts';
import { inputItemsOf, type ListedInputItem } from '../../providers/openai-responses/server/input-items.ts';
import type { ResponsesWireOptions } from '../../providers/openai-responses/server/output.ts';
import {
  fromResponsesRequest,
  parseResponsesRequest,
} from '../../providers/openai-responses/server/request.ts';
import type { ResponsesRequest } from '../../providers/openai-responses/wire.ts';
import type { GatewayContext } from '../context.ts';
import { resumeSse } from '../durable/resume-sse.ts';
import { responsesWire } from '../durable/wire.ts';
import { beginModelCall, cutReason, failModelCall } from './model-call.ts';
import { answerWhole, startInBackground, streamResponse } from './responses-generate.ts';
import { historyOf, requireStoredResponse, storedResponseObject } from './responses-store.ts';

const PATH = '/v1/responses';
// Replaced by the generation's signal before the model is called.
const NOT_YET = new AbortController().signal;

/**
 * The OpenAI Responses API in front of any Sluice model, translated at this edge like the chat
 * completions route: `POST /v1/responses` (streaming and not), and the stored responses
 * (`GET`, `DELETE`, `POST …/cancel`), which are durable streams of the `responses` wire: a
 * stored response is its logged canonical events, its Responses events derived from them.
 */
export function registerResponsesRoutes(api: FastifyInstance, gateway: GatewayContext): void {
  gateway.errorShapes.register(PATH, responsesErrorBody);
  api.post(PATH, async (request, reply) => {
    const streaming = (request.body as { stream?: unknown } | null)?.stream === true;
    const call = beginModelCall(gateway, PATH, request, reply, streaming, streaming ? NOT_YET : undefined);
    try {
      const body = parseResponsesRequest(request.body);
      const { params, structuredTool } = fromResponsesRequest(body, await historyOf(gateway, request, body));
      const options: ResponsesWireOptions = {
        id: `resp_${randomUUID().replaceAll('-', '')}`,
        createdAt: Math.floor(Date.now() / 1000),
        model: body.model,
        echo: echoOf(body),
      };
      if (structuredTool) options.structuredTool = structuredTool;
      if (body.background === true) {
        // The generation finishes the request's telemetry when it ends.
        await startInBackground(gateway, request, reply, call, params, options, streaming);
        return reply;
      }
      if (streaming) await streamResponse(gateway, request, reply, call, params, options);
      else await answerWhole(gateway, request, reply, call, params, options);
      call.telemetry.finish(cutReason(call) === 'client' ? 499 : 200);
      return reply;
    } catch (error) {
      return failModelCall(call, reply, error);
    }
  });

  api.get(`${PATH}/:id`, async (request, reply) => {
    const stored = await requireStoredResponse(gateway, request, idOf(request));
    const query = request.query as { stream?: string; starting_after?: string };
    if (query.stream !== 'true') return reply.send(await storedResponseObject(gateway, stored));
    const startingAfter = sequenceNumber(query.starting_after);
    return resumeSse(reply, gateway, stored.info, 0, responsesWire(stored.options, startingAfter));
  });

  api.get(`${PATH}/:id/input_items`, async (request, reply) => {
    const stored = await requireStoredResponse(gateway, request, idOf(request));
    const items = inputItemsOf(stored.params, stored.info.id);
    return reply.send(pageOf(items, request.query as InputItemsQuery));
  });

  api.post(`${PATH}/:id/cancel`, async (request, reply) => {
    const stored = await requireStoredResponse(gateway, request, idOf(request));
    const running = await cancel(gateway, stored.info.id, stored.info.status);
    const response = await storedResponseObject(gateway, stored);
    // The generation stops at its next event; the response is cancelled from now on.
    return reply.send(running ? { ...response, status: 'cancelled' } : response);
  });

  api.delete(`${PATH}/:id`, async (request, reply) => {
    const stored = await requireStoredResponse(gateway, request, idOf(request));
    await cancel(gateway, stored.info.id, stored.info.status);
    await gateway.streams.log.delete(stored.info.id);
    return reply.send({ id: stored.info.id, object: 'response', deleted: true });
  });
}

/** Cancels a running response wherever it generates; whether it was running. */
async function cancel(gateway: GatewayContext, id: string, status: string): Promise<boolean> {
  if (status !== 'running') return false;
  gateway.streams.producer(id)?.cancel();
  await gateway.streams.log.requestCancel(id);
  return true;
}

/** The request's fields a response reports back, with OpenAI's defaults. */
function echoOf(body: ResponsesRequest): Record<string, unknown> {
  return {
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    background: body.background ?? false,
  };
}

interface InputItemsQuery {
  order?: string;
  limit?: string;
  after?: string;
}

/** A page of input items as the API lists them: newest first unless `order=asc`, `limit` (20) after the item `after`. */
function pageOf(items: ListedInputItem[], query: InputItemsQuery): Record<string, unknown> {
  const ordered = query.order === 'asc' ? items : [...items].reverse();
  const limit = query.limit === undefined ? 20 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new InvalidRequestError('limit: expected an integer from 1 to 100.');
  }
  const start = query.after === undefined ? 0 : ordered.findIndex((item) => item.id === query.after) + 1;
  if (query.after !== undefined && start === 0) {
    throw new InvalidRequestError(`after: ${query.after} is not an input item of this response.`);
  }
  const data = ordered.slice(start, start + limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < ordered.length,
  };
}

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

function sequenceNumber(value: string | undefined): number {
  if (value === undefined || value === '') return -1;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidRequestError(
      'starting_after: expected a non-negative integer, the sequence_number of the last event received.',
    );
  }
  return Number(value);
}

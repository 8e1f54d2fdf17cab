import type { FastifyRequest } from 'fastify';
import { InvalidRequestError, NotFoundError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { Message } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { ResponsesEncoder } from '../../providers/openai-responses/server/events.ts';
import {
  outputOf,
  parseItemId,
  type ResponsesWireOptions,
} from '../../providers/openai-responses/server/output.ts';
import { type ResponsesHistory, referencedItemIds } from '../../providers/openai-responses/server/request.ts';
import type {
  ResponsesOutputItem,
  ResponsesRequest,
  ResponsesResponse,
} from '../../providers/openai-responses/wire.ts';
import { ownerOf } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import { recordOf } from '../durable/stream-record.ts';
import { decodeEntries } from '../streams/entry.ts';
import type { LogEntry, StreamInfo } from '../streams/types.ts';

/** A stored response as the log keeps it: its stream, and how its events are encoded. */
export interface StoredResponse {
  info: StreamInfo;
  options: ResponsesWireOptions;
  params: MessageCreateParams;
}

/**
 * The stored response `id`, if the caller may see it: a Responses stream, stored (`store` not
 * false), started with the caller's key. Anything else is undefined, one and the same for an
 * unknown, expired, unstored or another key's response.
 */
export async function findStoredResponse(
  gateway: GatewayContext,
  request: FastifyRequest,
  id: string,
): Promise<StoredResponse | undefined> {
  const info = await gateway.streams.log.lookup(id);
  const record = info && recordOf(info.request);
  const options = record?.responses;
  if (!info || !options || info.ownerKeyHash !== ownerOf(request)) return undefined;
  if (options.echo.store === false) return undefined;
  return { info, options, params: record.params as MessageCreateParams };
}

/** The stored response `id`, or the NotFoundError a `GET /v1/responses/{id}` answers with. */
export async function requireStoredResponse(
  gateway: GatewayContext,
  request: FastifyRequest,
  id: string,
): Promise<StoredResponse> {
  const stored = await findStoredResponse(gateway, request, id);
  if (stored) return stored;
  throw new NotFoundError(
    `No response ${id}: it may never have existed, have expired, have been stored with store: false, or belong to another key.`,
  );
}

/** The canonical events logged for a stored response, as they are now. */
export async function loggedEvents(gateway: GatewayContext, id: string): Promise<StreamEvent[]> {
  const entries: LogEntry[] = [];
  for await (const entry of gateway.streams.log.read(id, { follow: false })) entries.push(entry);
  return decodeEntries(entries);
}

/** The response object of a stored response as it stands, from its logged events. */
export async function storedResponseObject(
  gateway: GatewayContext,
  stored: StoredResponse,
): Promise<ResponsesResponse> {
  const encoder = new ResponsesEncoder(stored.options);
  for (const event of await loggedEvents(gateway, stored.info.id)) encoder.apply(event);
  // A stream failed without its error event logged (its log broke): the failure still shows.
  if (stored.info.status === 'failed' && !encoder.isDone && stored.info.error)
    encoder.fail(stored.info.error);
  return encoder.response;
}

/**
 * What a request needs from the stored responses: the conversation `previous_response_id`
 * continues, and the items its `item_reference`s name (an item's id names its response and
 * its place in that response's output).
 */
export async function historyOf(
  gateway: GatewayContext,
  request: FastifyRequest,
  body: ResponsesRequest,
): Promise<ResponsesHistory> {
  const completed = new Map<string, Promise<{ stored: StoredResponse; message: Message } | undefined>>();
  const load = (id: string) => {
    let loading = completed.get(id);
    if (!loading) {
      loading = completedResponse(gateway, request, id);
      completed.set(id, loading);
    }
    return loading;
  };
  const history: { previous?: ResponsesHistory['previous']; references: Map<string, ResponsesOutputItem> } = {
    references: new Map(),
  };
  if (body.previous_response_id) {
    const previous = await load(body.previous_response_id);
    if (!previous) {
      throw new InvalidRequestError(
        `previous_response_id: no completed stored response ${body.previous_response_id}; it may still be generating, have failed, have expired, or have been stored with store: false. Send the conversation as input items instead.`,
      );
    }
    history.previous = {
      params: previous.stored.params,
      message: asAnswered(previous.message, previous.stored.options.structuredTool),
    };
  }
  for (const itemId of referencedItemIds(body)) {
    const place = parseItemId(itemId);
    const found = place && (await load(place.responseId));
    const item =
      found &&
      outputOf(found.message, found.stored.options.id, found.stored.options.structuredTool)[
        place.outputIndex
      ];
    if (item) history.references.set(itemId, item);
  }
  return history;
}

async function completedResponse(
  gateway: GatewayContext,
  request: FastifyRequest,
  id: string,
): Promise<{ stored: StoredResponse; message: Message } | undefined> {
  const stored = await findStoredResponse(gateway, request, id);
  const message =
    stored?.info.status === 'finished' ? (stored.info.final?.message as Message | undefined) : undefined;
  return stored && message ? { stored, message } : undefined;
}

/**
 * A stored answer as the conversation goes on from it: a json_schema answer tool's call is
 * the text it stood for (a tool call left without its result would be refused upstream).
 */
function asAnswered(message: Message, structuredTool: string | undefined): Message {
  if (!structuredTool) return message;
  return {
    ...message,
    content: message.content.map((block) =>
      block.type === 'tool_use' && (block as { name: string }).name === structuredTool
        ? { type: 'text', text: JSON.stringify((block as { input: unknown }).input ?? {}) }
        : block,
    ),
  };
}

import type { MessageCreateParams } from '../../../protocol/request.ts';
import { toResponsesRequest } from '../client/request.ts';

// Server side: a stored response's conversation as the API's input items
// (`GET /v1/responses/{id}/input_items`).

/** One input item as listed: the request's item with an id and, for messages, a status. */
export type ListedInputItem = Record<string, unknown> & { id: string; type: string };

/**
 * The conversation a response was generated from (its history included) as input items, in
 * order, each with an id naming its response and place (`in_<response>_<index>`). Messages
 * list their content as parts (`input_text`, or `output_text` for the assistant's), as the
 * API lists them whatever form they were sent in.
 */
export function inputItemsOf(params: MessageCreateParams, responseId: string): ListedInputItem[] {
  const input = toResponsesRequest({ ...params, stop_sequences: [], tools: [] }).input as Record<
    string,
    unknown
  >[];
  return input.map((item, index) => {
    const id = `in_${responseId.replace(/^resp_/, '')}_${index}`;
    if (item.type !== undefined) return { ...item, id, type: String(item.type) };
    const assistant = item.role === 'assistant';
    const content =
      typeof item.content === 'string'
        ? [
            assistant
              ? { type: 'output_text', text: item.content, annotations: [] }
              : { type: 'input_text', text: item.content },
          ]
        : item.content;
    return { id, type: 'message', role: item.role, status: 'completed', content };
  });
}

import type { ContentBlockParam } from '../../protocol/content.ts';
import { InvalidRequestError } from '../../protocol/errors.ts';
import { type MessageCreateParams, type MessageParam, thinkingRequested } from '../../protocol/request.ts';
import type { SimulatedAnswer, SimulatedBlock } from './answer-types.ts';
import { blocksOf, type Context, restate } from './conversation.ts';
import { simulatedId } from './ids.ts';
import { redactedData, signThinking } from './signatures.ts';
import { countTokens } from './tokens.ts';

// The Messages API's newer shapes, produced on request so that every path above the simulator
// (assembly, resume, gateway, Chat) can be exercised end to end:
// - thinking (`thinking` in the request) with a signature, and redacted thinking when the
//   prompt says "redacted"; both are checked when sent back (signatures.ts);
// - a web search server tool (a `web_search_*` tool in the request): the search and its
//   results, then `pause_turn`; sent back, the paused turn continues with cited text;
// - a refusal, with `stop_details`, for a prompt containing REFUSAL_TRIGGER.

/** A prompt containing this phrase is refused, like a policy refusal from the API. */
export const REFUSAL_TRIGGER = 'please refuse';
const REDACTED_TRIGGER = 'redacted';

/** The answer with the features the request asks for; unchanged when it asks for none. */
export function withFeatures(
  request: MessageCreateParams,
  context: Context,
  answer: SimulatedAnswer,
): SimulatedAnswer {
  const trailing = request.messages.at(-1)?.role === 'assistant' ? request.messages.at(-1) : undefined;
  if (thinkingRequested(request) && trailing !== undefined && !startsWithThinking(trailing)) {
    // What the API answers a prefill when thinking is on.
    throw new InvalidRequestError(
      'Expected `thinking` or `redacted_thinking`, but found `text`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.',
    );
  }
  if (context.prompt.toLowerCase().includes(REFUSAL_TRIGGER)) return refusal(answer);
  const search = webSearchTool(request);
  if (search !== undefined && answersPrompt(context)) {
    const paused = trailing === undefined ? undefined : searchResultsIn(trailing);
    // The paused turn sent back: the model continues it with what the search found.
    if (paused !== undefined) return citedAnswer(answer, paused, context);
    return withThinking(request, context, searchAndPause(answer, search, context));
  }
  if (trailing !== undefined) return answer;
  return withThinking(request, context, answer);
}

/** Whether the last user turn is a prompt (not tool results): where the model thinks first. */
function answersPrompt(context: Context): boolean {
  return !blocksOf(context.lastUser?.content ?? []).some((block) => block.type === 'tool_result');
}

function startsWithThinking(turn: MessageParam): boolean {
  const first = typeof turn.content === 'string' ? undefined : turn.content[0];
  return first?.type === 'thinking' || first?.type === 'redacted_thinking';
}

function withThinking(
  request: MessageCreateParams,
  context: Context,
  answer: SimulatedAnswer,
): SimulatedAnswer {
  if (!thinkingRequested(request) || !answersPrompt(context)) return answer;
  const plan = answer.blocks.some((block) => block.type === 'tool_use' || block.type === 'server_tool_use')
    ? 'A tool can answer this; I will call it.'
    : 'I can answer this directly.';
  const thinking = `The user asks: "${restate(context.prompt, 60)}". ${plan}`;
  const blocks: SimulatedBlock[] = [{ type: 'thinking', thinking, signature: signThinking(thinking) }];
  if (context.prompt.toLowerCase().includes(REDACTED_TRIGGER)) {
    blocks.push({
      type: 'whole',
      block: { type: 'redacted_thinking', data: redactedData(simulatedId('', context.key, 32)) },
    });
  }
  return {
    ...answer,
    blocks: [...blocks, ...answer.blocks],
    outputTokens: answer.outputTokens + countTokens(thinking),
  };
}

function refusal(answer: SimulatedAnswer): SimulatedAnswer {
  const text = "I can't help with that.";
  return {
    ...answer,
    blocks: [{ type: 'text', text }],
    stopReason: 'refusal',
    stopSequence: null,
    stopDetails: {
      type: 'refusal',
      category: null,
      explanation: `The simulated model refuses any prompt containing "${REFUSAL_TRIGGER}".`,
    },
    outputTokens: countTokens(text),
  };
}

function webSearchTool(request: MessageCreateParams): { name: string } | undefined {
  const found = request.tools?.find(
    (tool) => typeof tool.type === 'string' && tool.type.startsWith('web_search'),
  );
  return found === undefined ? undefined : { name: found.name };
}

interface SearchResult {
  title: string;
  url: string;
  encrypted_content: string;
  page_age: string | null;
}

function searchAndPause(answer: SimulatedAnswer, tool: { name: string }, context: Context): SimulatedAnswer {
  const query = restate(context.prompt, 60);
  const id = simulatedId('srvtoolu_sim_', `${context.key}\u0000search`);
  const results: SearchResult[] = [1, 2].map((n) => ({
    title: `Result ${n} for ${query}`,
    url: `https://search.example/${simulatedId('', `${query}\u0000${n}`, 8)}`,
    encrypted_content: simulatedId('Eq', `${context.key}\u0000result\u0000${n}`, 40),
    page_age: null,
  }));
  return {
    ...answer,
    blocks: [
      { type: 'text', text: 'Let me search for that.' },
      { type: 'server_tool_use', id, name: tool.name, input: { query } },
      {
        type: 'whole',
        block: {
          type: 'web_search_tool_result',
          tool_use_id: id,
          content: results.map((r) => ({ type: 'web_search_result', ...r })),
        },
      },
    ],
    // The server paused the turn after its tool ran: the client sends it back to continue.
    stopReason: 'pause_turn',
    stopSequence: null,
    outputTokens: countTokens('Let me search for that.') + countTokens(JSON.stringify({ query })),
    serverToolUse: { web_search_requests: 1 },
  };
}

/** The results of a web search in a paused assistant turn, if it holds one. */
function searchResultsIn(turn: MessageParam): SearchResult[] | undefined {
  const result = blocksOf(turn.content).find(
    (block: ContentBlockParam) => block.type === 'web_search_tool_result',
  ) as { content?: unknown } | undefined;
  return Array.isArray(result?.content) ? (result.content as SearchResult[]) : undefined;
}

function citedAnswer(answer: SimulatedAnswer, results: SearchResult[], context: Context): SimulatedAnswer {
  const first = results[0];
  const text = `According to the search, ${restate(context.prompt, 80)} is covered by ${first?.title ?? 'no result'}.`;
  const citations =
    first === undefined
      ? []
      : [
          {
            type: 'web_search_result_location',
            url: first.url,
            title: first.title,
            encrypted_index: simulatedId('Eo', first.url, 24),
            cited_text: `${first.title}.`,
          },
        ];
  return {
    ...answer,
    blocks: [{ type: 'text', text, citations }],
    stopReason: 'end_turn',
    stopSequence: null,
    outputTokens: countTokens(text),
  };
}

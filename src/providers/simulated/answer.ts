import type { MessageCreateParams } from '../../protocol/request.ts';
import type { SimulatedAnswer, SimulatedBlock, SimulatedStopReason } from './answer-types.ts';
import { piecesAfter, scriptFor } from './continuation.ts';
import { blocksOf, boundedForReading, type Context, contextOf, splitPrefill } from './conversation.ts';
import { withFeatures } from './features.ts';
import { simulatedId, stableStringify } from './ids.ts';
import { applyLimits } from './limits.ts';
import { proseAnswer } from './prose.ts';
import { countRequestTokens } from './request-tokens.ts';
import { verifyThinkingBlocks } from './signatures.ts';
import { countTokens } from './tokens.ts';
import { fillArguments } from './tool-arguments.ts';
import { chooseTool } from './tool-choice.ts';
import { toolResultAnswer } from './tool-results.ts';

/**
 * What the simulated model says. Pure and deterministic: the answer is a function of the
 * request alone. The prose depends only on the conversation before any trailing assistant
 * turn, and a prefill only chooses where in that prose the reply starts, which is what lets
 * Sluice resume a dropped stream by prefilling the text it has and get back exactly the rest.
 */

export type { SimulatedAnswer, SimulatedBlock, SimulatedStopReason } from './answer-types.ts';

export interface SimulateOptions {
  /**
   * The request's input tokens when the caller has counted them already (a slice at a time,
   * for a huge prompt); else they are counted here.
   */
  inputTokens?: number;
}

/**
 * The answer to `request`. Its work is bounded whatever the prompt's size (the model reads at
 * most READ_LIMIT of each text) except the input token count, which `options` can bring.
 */
export function simulateAnswer(request: MessageCreateParams, options: SimulateOptions = {}): SimulatedAnswer {
  // As the API does: a thinking block sent back must carry the signature it was given.
  verifyThinkingBlocks(request.messages);
  const { conversation, prefill } = splitPrefill(request.messages);
  const context = contextOf(request, conversation);
  const intended = intendedAnswer(request, context);
  const script = scriptFor(intended.text, prefill, context);
  const limited = applyLimits(piecesAfter(script), request.stop_sequences ?? [], request.max_tokens);

  const blocks: SimulatedBlock[] = [];
  if (limited.pieces.length > 0)
    blocks.push({ type: 'text', text: limited.pieces.join(''), tokens: limited.pieces });
  let stopReason: SimulatedStopReason = limited.stopReason;
  let outputTokens = limited.pieces.length;
  // A tool is called only once the text before it has been said in full, within budget.
  if (intended.toolUse && stopReason === 'end_turn') {
    const inputTokens = countTokens(JSON.stringify(intended.toolUse.input));
    if (outputTokens + inputTokens <= request.max_tokens) {
      blocks.push(intended.toolUse);
      outputTokens += inputTokens;
      stopReason = 'tool_use';
    } else {
      stopReason = 'max_tokens';
    }
  }
  return withFeatures(request, context, {
    blocks,
    stopReason,
    stopSequence: stopReason === 'stop_sequence' ? limited.stopSequence : null,
    inputTokens: options.inputTokens ?? countRequestTokens(request),
    outputTokens,
    messageId: simulatedId('msg_sim_', stableStringify(boundedForReading(request))),
  });
}

// The intended answer: what the model says when nothing is prefilled.

interface ToolCall {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

interface Intended {
  text: string;
  toolUse: ToolCall | undefined;
}

function intendedAnswer(request: MessageCreateParams, context: Context): Intended {
  const results = blocksOf(context.lastUser?.content ?? []).filter((block) => block.type === 'tool_result');
  // After tool results the model answers from them, unless tool_choice still forces a call (as the API does).
  const forcing = request.tool_choice?.type === 'tool' || request.tool_choice?.type === 'any';
  if (results.length > 0 && !forcing) return { text: toolResultAnswer(results, context), toolUse: undefined };
  const choice = chooseTool(request, context.prompt);
  if (choice === undefined) return { text: proseAnswer(context), toolUse: undefined };
  const { tool, forced } = choice;
  return {
    // A forced tool call comes without preamble, as from the real API.
    text: forced ? '' : `I'll use the ${tool.name} tool.`,
    toolUse: {
      type: 'tool_use',
      id: simulatedId('toolu_sim_', `${context.key}\u0000${tool.name}`),
      name: tool.name,
      input: fillArguments(tool.input_schema, tool.name, context.prompt),
    },
  };
}

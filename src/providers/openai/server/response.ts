import { isBlock } from '../../../protocol/content.ts';
import type { SluiceError } from '../../../protocol/errors.ts';
import type { Message, StopReason, Usage } from '../../../protocol/message.ts';
import type { OpenAIChatCompletion, OpenAIErrorBody, OpenAIFunctionToolCall, OpenAIUsage } from '../wire.ts';

// Server side (the gateway and the simulator speaking OpenAI to their callers): a message as a
// Chat Completions response, and the stop reason, usage and error mappings it shares with the stream.

export function finishReasonFromStopReason(stopReason: StopReason | null | undefined): string {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn, and reasons added after this version.
      return 'stop';
  }
}

/** OpenAI's prompt_tokens counts cached tokens too; Anthropic counts them apart. */
export function usageToOpenAI(usage: Usage): OpenAIUsage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const prompt = usage.input_tokens + cacheRead + cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output_tokens,
    total_tokens: prompt + usage.output_tokens,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
}

export function messageToOpenAIResponse(
  message: Message,
  options: { id?: string; created: number },
): OpenAIChatCompletion {
  let text = '';
  let reasoning = '';
  const toolCalls: OpenAIFunctionToolCall[] = [];
  for (const block of message.content) {
    if (isBlock(block, 'text')) text += block.text;
    else if (isBlock(block, 'thinking')) reasoning += block.thinking;
    else if (isBlock(block, 'tool_use')) {
      const use = block;
      toolCalls.push({
        id: use.id,
        type: 'function',
        function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) },
      });
    }
  }
  const responseMessage: OpenAIChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
    refusal: null,
  };
  if (toolCalls.length > 0) responseMessage.tool_calls = toolCalls;
  // The field vLLM, DeepSeek and llama.cpp answer with; OpenAI's own clients ignore it.
  if (reasoning !== '') responseMessage.reasoning_content = reasoning;
  return {
    id: options.id ?? completionId(message.id),
    object: 'chat.completion',
    created: options.created,
    model: message.model,
    choices: [
      {
        index: 0,
        message: responseMessage,
        logprobs: null,
        finish_reason: finishReasonFromStopReason(message.stop_reason),
      },
    ],
    usage: usageToOpenAI(message.usage),
  };
}

/** `msg_chatcmpl-abc` (an id this module made from an OpenAI one) back to `chatcmpl-abc`. */
function completionId(messageId: string): string {
  const bare = messageId.startsWith('msg_') ? messageId.slice(4) : messageId;
  return bare.startsWith('chatcmpl-') ? bare : `chatcmpl-${bare}`;
}

/** The OpenAI error body for a Sluice error: what an OpenAI client expects on failure. */
export function openAIErrorBody(error: SluiceError): OpenAIErrorBody {
  // A gateway refusal names its reason as OpenAI does (`budget_exceeded`); other errors have no code.
  const code = (error as { code?: unknown }).code;
  return {
    error: {
      message: error.message,
      type: error.type,
      param: null,
      code: typeof code === 'string' ? code : null,
    },
  };
}

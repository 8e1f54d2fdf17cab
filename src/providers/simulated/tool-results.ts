import type { ContentBlockParam } from '../../protocol/content.ts';
import type { MessageParam } from '../../protocol/request.ts';
import { blocksOf, type Context, restate, textOf } from './conversation.ts';

/** After tool results, the simulated model answers from them, quoting each result. */

export function toolResultAnswer(results: ContentBlockParam[], context: Context): string {
  const names = toolNamesById(context.conversation);
  const sentences = results.map((block) => {
    const result = block as { tool_use_id: string; content?: unknown; is_error?: boolean };
    const name = names.get(result.tool_use_id);
    const tool = name === undefined ? 'The tool' : `The ${name} tool`;
    const content = toolResultText(result.content);
    if (result.is_error)
      return `${tool} failed with the error “${content}”, so I can't give the answer it was for.`;
    if (content === '') return `${tool} returned nothing.`;
    if (content.length <= 120 && !content.includes('\n'))
      return `${tool} returned ${content}, so the answer is ${content}.`;
    return `${tool} returned:\n\n${content}\n\n`;
  });
  const question = originalQuestion(context.conversation);
  const closing =
    question === undefined
      ? "This is Sluice's simulated model, answering from the tool result."
      : `This is Sluice's simulated model answering “${restate(question)}” from the tool result.`;
  return joinSentences([...sentences, closing]);
}

/** Sentences joined by a space, except after one that ends with a line break. */
function joinSentences(sentences: string[]): string {
  return sentences.reduce(
    (text, sentence) => (text === '' || text.endsWith('\n') ? text + sentence : `${text} ${sentence}`),
    '',
  );
}

function toolNamesById(conversation: MessageParam[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of conversation) {
    if (message.role !== 'assistant') continue;
    for (const block of blocksOf(message.content)) {
      if (block.type === 'tool_use') names.set(block.id as string, block.name as string);
    }
  }
  return names;
}

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content.trim();
  if (!Array.isArray(content)) return '';
  return content
    .map((block: { type?: unknown; text?: unknown }) =>
      block.type === 'text' && typeof block.text === 'string' ? block.text : `[${String(block.type)}]`,
    )
    .join('\n')
    .trim();
}

/** The last user text before the tool results: the question the tools were called for. */
function originalQuestion(conversation: MessageParam[]): string | undefined {
  for (let i = conversation.length - 2; i >= 0; i--) {
    const message = conversation[i]!;
    if (message.role !== 'user') continue;
    const text = textOf(message.content);
    if (text.trim() !== '') return text;
  }
  return undefined;
}

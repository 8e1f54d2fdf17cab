import { Chat, type ChatCallOptions, type ChatOptions, type Prompt } from '../client/chat.ts';
import { costOf, DEFAULT_PRICES, priceOf } from '../client/usage.ts';
import type { MessageStream } from '../stream/message-stream.ts';
import { errorLine } from './chat-session.ts';
import { type LogStore, newConversationId } from './log-store.ts';

/** Where a `LoggingChat` writes: the open log, the conversation and what to note with each answer. */
export interface ChatLog {
  store: LogStore;
  conversationId: string;
  /** Noted with every entry: `-o` options, attachments, schema, template. */
  options: Record<string, unknown>;
}

/**
 * The CLI's chat: every call gets the command's request options (`-o`, `--schema`), and,
 * with a log, every answer (interactive turns and tool loop steps too) is written to it
 * when its stream ends, failures with their error.
 */
export class LoggingChat extends Chat {
  declare callDefaults: ChatCallOptions;
  declare chatLog: ChatLog | undefined;
  declare private writes: Promise<void>[];

  constructor(options: ChatOptions, callDefaults: ChatCallOptions, chatLog?: ChatLog) {
    super(options);
    Object.assign(this, { callDefaults, chatLog, writes: [] });
  }

  override stream(prompt?: Prompt, options: ChatCallOptions = {}): MessageStream {
    const stream = super.stream(prompt, { ...this.callDefaults, ...options });
    const log = this.chatLog;
    if (log) {
      const text = promptText(prompt);
      stream.observe('end', () => this.record(log, stream, text));
    }
    return stream;
  }

  /** Forgetting the conversation starts a new one in the log too, so that `-c` does not bring it back. */
  override reset(): void {
    super.reset();
    if (this.chatLog) this.chatLog.conversationId = newConversationId();
  }

  /** Resolves when every answer so far is in the log: before the log is closed. */
  async flushLog(): Promise<void> {
    await Promise.allSettled(this.writes);
  }

  private record(log: ChatLog, stream: MessageStream, prompt: string): void {
    const write = stream.finalMessage().then(
      () => null,
      (failure: unknown) => (stream.aborted ? 'stopped' : errorLine(failure)),
    );
    this.writes.push(
      write.then((error) => {
        const message = stream.currentMessage;
        const usage = message?.usage;
        const price = priceOf(this.client.model, DEFAULT_PRICES);
        const { timing } = stream;
        log.store.add({
          conversationId: log.conversationId,
          model: this.client.model,
          prompt,
          system: this.system ?? null,
          response: message ? textOf(message.content) : '',
          options: log.options,
          inputTokens: usage?.input_tokens ?? null,
          outputTokens: usage?.output_tokens ?? null,
          cost: usage && price ? costOf(usage, price) : null,
          ttftMs: timing.firstTokenAt === undefined ? null : timing.firstTokenAt - timing.startedAt,
          durationMs: timing.endedAt === undefined ? null : timing.endedAt - timing.startedAt,
          stopReason: message?.stop_reason ?? null,
          error,
        });
      }),
    );
  }
}

/** The answer's text; an answer that is only a tool call (`--schema`) is logged as its JSON. */
function textOf(content: ReadonlyArray<{ type: string; text?: unknown; input?: unknown }>): string {
  const text = content
    .map((block) => (block.type === 'text' && typeof block.text === 'string' ? block.text : ''))
    .join('');
  if (text !== '') return text;
  const call = content.find((block) => block.type === 'tool_use');
  return call ? JSON.stringify(call.input) : '';
}

/** The text of a prompt; attachments are noted in the entry's options. */
function promptText(prompt: Prompt): string {
  if (prompt === undefined) return '';
  if (typeof prompt === 'string') return prompt;
  const blocks = Array.isArray(prompt) ? prompt : [prompt];
  return blocks.map((block) => (block.type === 'text' ? block.text : '')).join('\n\n');
}

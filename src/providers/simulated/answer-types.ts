import type { Citation, ContentBlock } from '../../protocol/content.ts';
import type { StopDetails } from '../../protocol/message.ts';

/** What the simulated model says, block by block, before it becomes events (events.ts). */

export type SimulatedBlock =
  | {
      type: 'text';
      text: string;
      /**
       * The tokens the text was generated as (their concatenation is `text`). After a prefill
       * that ends inside a word they differ from `tokenize(text)`: the first one is the rest of
       * the word. Streams send one delta per token, so usage and resumption line up with them.
       */
      tokens?: string[];
      /** Sources the text cites, streamed as citations_delta before its text. */
      citations?: Citation[];
    }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'server_tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'thinking'; thinking: string; signature: string }
  /** A block that arrives whole in its content_block_start (redacted thinking, a server tool's result). */
  | { type: 'whole'; block: ContentBlock };

export type SimulatedStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal';

export interface SimulatedAnswer {
  blocks: SimulatedBlock[];
  stopReason: SimulatedStopReason;
  stopSequence: string | null;
  inputTokens: number;
  outputTokens: number;
  /** `msg_sim_…`, derived from the whole request. */
  messageId?: string;
  /** Why it refused, on a refusal. */
  stopDetails?: StopDetails;
  /** Server tool requests made (web search). */
  serverToolUse?: { web_search_requests: number };
}

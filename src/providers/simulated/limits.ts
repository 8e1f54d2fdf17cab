/** The limits of a request applied to the reply's tokens: stop sequences, then max_tokens. */

export interface Limited {
  pieces: string[];
  stopReason: 'end_turn' | 'max_tokens' | 'stop_sequence';
  stopSequence: string | null;
}

/** Cut before the earliest stop sequence (of the generated text only), then at max_tokens. */
export function applyLimits(pieces: string[], stopSequences: string[], maxTokens: number): Limited {
  const text = pieces.join('');
  let stop: { index: number; sequence: string } | undefined;
  for (const sequence of stopSequences) {
    if (sequence === '') continue;
    const index = text.indexOf(sequence);
    if (index >= 0 && (stop === undefined || index < stop.index)) stop = { index, sequence };
  }
  let kept = pieces;
  if (stop !== undefined) {
    kept = [];
    let start = 0;
    for (const piece of pieces) {
      if (start >= stop.index) break;
      kept.push(piece.slice(0, stop.index - start));
      start += piece.length;
    }
  }
  if (kept.length > maxTokens)
    return { pieces: kept.slice(0, maxTokens), stopReason: 'max_tokens', stopSequence: null };
  if (stop !== undefined) return { pieces: kept, stopReason: 'stop_sequence', stopSequence: stop.sequence };
  return { pieces: kept, stopReason: 'end_turn', stopSequence: null };
}

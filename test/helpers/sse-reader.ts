/** An HTTP response body read incrementally as text: wait for a count of SSE events or bytes, no sleeps. */
export class BodyReader {
  text = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private ended = false;
  bytes = 0;

  constructor(response: Response) {
    this.reader = response.body!.getReader();
  }

  /** Reads until `done(text)` holds or the body ends; returns whether it held. */
  async until(done: (text: string) => boolean): Promise<boolean> {
    while (!done(this.text)) {
      if (this.ended) return false;
      // A connection the server cut ends the body as far as the reader is concerned.
      const { value, done: end } = await this.reader
        .read()
        .catch(() => ({ value: undefined, done: true as const }));
      if (end) {
        this.ended = true;
        this.text += this.decoder.decode();
        continue;
      }
      this.bytes += value.length;
      this.text += this.decoder.decode(value, { stream: true });
    }
    return true;
  }

  /** The whole body. */
  async all(): Promise<string> {
    await this.until(() => false);
    return this.text;
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

/** The complete SSE events (blank-line terminated) in `text`. */
export function sseEvents(text: string): string[] {
  const parts = text.split('\n\n');
  parts.pop();
  return parts.filter((part) => !part.startsWith(':')).map((part) => `${part}\n\n`);
}

/** The `id:` of each event that has one, in order. */
export function eventIds(text: string): number[] {
  return sseEvents(text)
    .map((event) => /^id: (\d+)$/m.exec(event)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number);
}

/** The text of Anthropic SSE: the text_delta's concatenated. */
export function anthropicText(text: string): string {
  let out = '';
  for (const event of sseEvents(text)) {
    const data = /^data: (.*)$/m.exec(event)?.[1];
    if (!data) continue;
    const parsed = JSON.parse(data) as { type?: string; delta?: { type?: string; text?: string } };
    if (parsed.type === 'content_block_delta' && parsed.delta?.type === 'text_delta')
      out += parsed.delta.text;
  }
  return out;
}

/** The text of OpenAI chunk SSE: the delta contents concatenated. */
export function openAIText(text: string): string {
  let out = '';
  for (const event of sseEvents(text)) {
    const data = /^data: (.*)$/m.exec(event)?.[1];
    if (!data || data === '[DONE]') continue;
    const parsed = JSON.parse(data) as { choices?: { delta?: { content?: string } }[] };
    out += parsed.choices?.[0]?.delta?.content ?? '';
  }
  return out;
}

/**
 * A model as `GET /v1/models` lists it, with Anthropic's fields and OpenAI's side by side:
 * both official SDKs read it, and clients with strict types in other languages reject an
 * entry missing theirs.
 */
export interface ModelEntry {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export function modelEntry(id: string, ownedBy: string, created: Date): ModelEntry {
  return {
    type: 'model',
    id,
    display_name: id,
    created_at: created.toISOString(),
    object: 'model',
    created: Math.floor(created.getTime() / 1000),
    owned_by: ownedBy,
  };
}

/** The list in both shapes: OpenAI's `object: 'list'`, Anthropic's paging fields (one page). */
export function modelList(data: ModelEntry[]) {
  return {
    object: 'list' as const,
    data,
    has_more: false,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  };
}

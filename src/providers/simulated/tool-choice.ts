import type { MessageCreateParams } from '../../protocol/request.ts';
import { asSchema, promptValues, resolved, type Schema, typeOf } from './tool-arguments.ts';
import { wordIndex } from './words.ts';

/** Whether the simulated model calls a tool, and which: as tool_choice says, else the one the prompt names. */

export interface CallableTool {
  name: string;
  input_schema: Record<string, unknown>;
}

function callableTools(request: MessageCreateParams): CallableTool[] {
  const tools: CallableTool[] = [];
  for (const tool of request.tools ?? []) {
    // Server tools (web search, …) have no input schema and are run by the server, not called.
    const schema = (tool as { input_schema?: unknown }).input_schema;
    if (typeof schema === 'object' && schema !== null)
      tools.push({ name: tool.name, input_schema: asSchema(schema) });
  }
  return tools;
}

export function chooseTool(
  request: MessageCreateParams,
  prompt: string,
): { tool: CallableTool; forced: boolean } | undefined {
  const tools = callableTools(request);
  const choice = request.tool_choice;
  if (tools.length === 0 || choice?.type === 'none') return undefined;
  if (choice?.type === 'tool') {
    const tool = tools.find((candidate) => candidate.name === choice.name);
    if (tool !== undefined) return { tool, forced: true };
  }
  const mentioned = mentionedTool(tools, prompt);
  if (choice?.type === 'any') return { tool: mentioned ?? tools[0]!, forced: true };
  if (mentioned !== undefined) return { tool: mentioned, forced: false };
  // Like a real model given one fitting tool: "What is 604542+6458932?" with `sums` calls it.
  const only = tools.length === 1 ? tools[0]! : undefined;
  return only && promptSuppliesRequired(only.input_schema, prompt)
    ? { tool: only, forced: false }
    : undefined;
}

/** Whether the prompt holds a value for every required number and string field of the schema. */
function promptSuppliesRequired(schema: Schema, prompt: string): boolean {
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  if (required.length === 0) return false;
  const { numbers, quoted } = promptValues(prompt);
  let numbersNeeded = 0;
  let stringsNeeded = 0;
  for (const name of required) {
    const type = typeOf(resolved(asSchema(asSchema(schema.properties)[name])));
    if (type === 'number' || type === 'integer') numbersNeeded++;
    else if (type === 'string') stringsNeeded++;
    else return false;
  }
  return numbersNeeded <= numbers.length && stringsNeeded <= quoted.length;
}

/** The tool whose name (or name with spaces for underscores) appears first in the prompt as a word. */
function mentionedTool(tools: CallableTool[], prompt: string): CallableTool | undefined {
  let best: { tool: CallableTool; index: number } | undefined;
  for (const tool of tools) {
    for (const spelling of new Set([tool.name, tool.name.replace(/_/g, ' ')])) {
      const index = wordIndex(prompt, spelling);
      if (index >= 0 && (best === undefined || index < best.index)) best = { tool, index };
    }
  }
  return best?.tool;
}

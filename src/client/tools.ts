import type { ContentBlock, ToolResultBlock, ToolUseBlock } from '../protocol/content.ts';
import { AbortError, TimeoutError } from '../protocol/errors.ts';
import type { Message } from '../protocol/message.ts';
import type { CustomTool } from '../protocol/request.ts';
import { toolInputErrorOf } from '../stream/assemble.ts';
import { adaptSchema, type SchemaAdapter, type SchemaOutput, type StandardSchema } from './schema.ts';
import { toolResultContent } from './tool-result.ts';

/** What the Messages API accepts as a custom tool's name. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;
export const DEFAULT_TOOL_CONCURRENCY = 4;
// setTimeout fires at once (with a warning) beyond this; longer timeouts mean "no timer".
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What `run` gets besides its arguments. */
export interface ToolContext {
  /** Aborts when the tool times out or the caller aborts the batch: stop work and return. */
  signal: AbortSignal;
  toolUseId: string;
}

/** What `tool()` takes: name, description, an input schema, the function to run, and its time limit. */
export interface ToolDefinition<Schema extends StandardSchema = StandardSchema, Result = unknown> {
  name: string;
  description?: string;
  /**
   * An object schema: zod 4 or 3, or any Standard Schema that gives its JSON Schema (see
   * `StandardSchema`). The arguments are validated with it before `run` is called.
   */
  input: Schema;
  /**
   * Returns a string (sent as is), content blocks (text / image / document, one or an array),
   * `undefined`/`null` (sent as an empty string) or anything else JSON can encode (sent as JSON).
   */
  run: (input: SchemaOutput<Schema>, context: ToolContext) => Result | Promise<Result>;
  /** Per tool; defaults to `runToolCalls`' `timeoutMs`, else 60 000. `Infinity` disables it. */
  timeoutMs?: number;
}

/** How one execution is run: `ToolContext` with the signal optional and a fallback timeout. */
export interface ExecuteOptions {
  toolUseId: string;
  /** Aborting it aborts the run's signal and makes `execute` reject with `AbortError`. */
  signal?: AbortSignal;
  /** Used when the tool sets no `timeoutMs` of its own. */
  timeoutMs?: number;
}

/** A tool a model can call, made by `tool()`: its definition for the API and a validated `execute`. */
export interface Tool<Schema extends StandardSchema = StandardSchema> {
  readonly name: string;
  readonly description: string | undefined;
  readonly input: Schema;
  /** The JSON Schema of the arguments, as the schema's library writes it (object at the top, no `$schema`). */
  readonly inputSchema: CustomTool['input_schema'];
  /** What goes into `request.tools`. */
  readonly definition: CustomTool;
  readonly timeoutMs: number | undefined;
  /**
   * Validates `input`, runs the tool and turns whatever happens into a tool_result: invalid
   * arguments, a thrown error and a timeout become `is_error` results the model can act on.
   * Rejects only with `AbortError`, when `options.signal` aborts.
   */
  execute(input: unknown, options: ExecuteOptions): Promise<ToolResultBlock>;
}

/** Options of `runToolCalls`: how many tools run at once, and a signal that stops them. */
export interface RunToolCallsOptions {
  /** How many tools run at once; default 4. */
  concurrency?: number;
  /** The timeout of tools that set none; default 60 000 ms. */
  timeoutMs?: number;
  /** Aborts every running tool; `runToolCalls` then rejects with `AbortError`. */
  signal?: AbortSignal;
  onStart?: (call: ToolUseBlock) => void;
  onResult?: (call: ToolUseBlock, result: ToolResultBlock) => void;
}

/** Tools as a list or as a record by name; calls match them by name. */
export type ToolSet = readonly Tool[] | Readonly<Record<string, Tool>>;

/** Defines a tool from an object schema (zod 4, zod 3 or Standard Schema) and a function; invalid definitions throw here. */
export function tool<Schema extends StandardSchema, Result>(
  definition: ToolDefinition<Schema, Result>,
): Tool<Schema> {
  const { name, description, input, run, timeoutMs } = definition;
  if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
    throw new TypeError(
      `Invalid tool name ${JSON.stringify(name)}: use 1 to 128 letters, digits, '_' or '-'.`,
    );
  }
  if (typeof run !== 'function') throw new TypeError(`Tool ${name} has no run function.`);
  checkTimeout(timeoutMs, `Tool ${name}: timeoutMs`);
  const schema = adaptSchema(input, `Tool ${name}: input`);
  const inputSchema = inputSchemaOf(name, schema);
  const toolDefinition: CustomTool = {
    name,
    ...(description === undefined ? {} : { description }),
    input_schema: inputSchema,
  };
  return {
    name,
    description,
    input,
    inputSchema,
    definition: toolDefinition,
    timeoutMs,
    execute: (args, options) =>
      executeTool({ name, schema, run: run as Run }, args, {
        ...options,
        timeoutMs: timeoutMs ?? options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
      }),
  };
}

/** The `tools` of a request. Duplicate names throw: the API rejects them. */
export function toolDefinitions(tools: ToolSet): CustomTool[] {
  return [...toolRegistry(tools).values()].map((each) => each.definition);
}

/**
 * Runs every `tool_use` block of `message` (`server_tool_use` blocks ran on the server), at
 * most `concurrency` at a time, and returns their results in the order of the blocks.
 * Rejects with `AbortError` when `options.signal` aborts: running tools see their signal
 * abort and tools not yet started never start. A hook that throws aborts the batch too.
 */
export async function runToolCalls(
  message: Message | { content: readonly ContentBlock[] },
  tools: ToolSet,
  options: RunToolCallsOptions = {},
): Promise<ToolResultBlock[]> {
  const registry = toolRegistry(tools);
  const concurrency = options.concurrency ?? DEFAULT_TOOL_CONCURRENCY;
  if (!(Number.isInteger(concurrency) && concurrency >= 1) && concurrency !== Infinity) {
    throw new RangeError(`concurrency must be a positive integer; got ${concurrency}.`);
  }
  checkTimeout(options.timeoutMs, 'runToolCalls: timeoutMs');
  throwIfAborted(options.signal);
  const blocks: readonly ContentBlock[] = message.content;
  const calls = blocks.filter((block): block is ToolUseBlock => block.type === 'tool_use');
  // One signal for the batch, so a failing hook can stop the other workers as the caller would.
  const batch = new AbortController();
  const forwardAbort = () => batch.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', forwardAbort, { once: true });
  const results: (ToolResultBlock | undefined)[] = calls.map(() => undefined);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < calls.length) {
      throwIfAborted(batch.signal);
      const index = next++;
      const call = calls[index]!;
      options.onStart?.(call);
      const result = await runCall(call, registry, { signal: batch.signal, timeoutMs: options.timeoutMs });
      results[index] = result;
      options.onResult?.(call, result);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, calls.length) }, worker));
  } catch (error) {
    batch.abort(error);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', forwardAbort);
  }
  return results.map((result) => result!);
}

/** Runs one tool_use block; the same rules as `runToolCalls`. */
export function runToolCall(
  call: ToolUseBlock,
  tools: ToolSet,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<ToolResultBlock> {
  return runCall(call, toolRegistry(tools), options);
}

/** The user turn that answers the assistant's tool calls, ready to append to the history. */
export function toolResultMessage(results: ToolResultBlock[]): { role: 'user'; content: ToolResultBlock[] } {
  return { role: 'user', content: results };
}

async function runCall(
  call: ToolUseBlock,
  registry: ReadonlyMap<string, Tool>,
  options: { signal?: AbortSignal; timeoutMs?: number },
): Promise<ToolResultBlock> {
  throwIfAborted(options.signal);
  const found = registry.get(call.name);
  if (found === undefined) {
    const available = registry.size > 0 ? [...registry.keys()].join(', ') : 'none';
    return errorResult(call.id, `Unknown tool '${call.name}'; available tools: ${available}.`);
  }
  // The assembler kept a best-effort input; running the tool on a guess would be worse.
  const inputError = toolInputErrorOf(call);
  if (inputError !== undefined) {
    return errorResult(
      call.id,
      `The arguments were not valid JSON (${inputError.message}); call ${call.name} again with a JSON object.`,
    );
  }
  return found.execute(call.input, { toolUseId: call.id, ...options });
}

function toolRegistry(tools: ToolSet): Map<string, Tool> {
  const list: readonly Tool[] = Array.isArray(tools) ? tools : Object.values(tools);
  const registry = new Map<string, Tool>();
  for (const each of list) {
    if (registry.has(each.name))
      throw new TypeError(`Two tools are named ${each.name}; names must be unique.`);
    registry.set(each.name, each);
  }
  return registry;
}

type Run = (input: unknown, context: ToolContext) => unknown;

async function executeTool(
  definition: { name: string; schema: SchemaAdapter; run: Run },
  args: unknown,
  options: ExecuteOptions & { timeoutMs: number },
): Promise<ToolResultBlock> {
  const { name } = definition;
  const { toolUseId, signal, timeoutMs } = options;
  throwIfAborted(signal);
  let parsed: Awaited<ReturnType<SchemaAdapter['validate']>>;
  try {
    parsed = await definition.schema.validate(args, '(arguments)');
  } catch (error) {
    return errorResult(toolUseId, `${name} failed: ${describeThrown(error)}`);
  }
  throwIfAborted(signal);
  if (!parsed.ok) {
    return errorResult(
      toolUseId,
      `Invalid arguments for ${name}: ${parsed.problems}. Call ${name} again with corrected arguments.`,
    );
  }
  const data = parsed.value;
  const outcome = await raceRun(
    (runSignal) => definition.run(data, { signal: runSignal, toolUseId }),
    timeoutMs,
    signal,
    () => new TimeoutError(`${name} timed out after ${timeoutMs} ms`),
  );
  if (outcome.kind === 'timeout') return errorResult(toolUseId, `${name} timed out after ${timeoutMs} ms.`);
  if (outcome.kind === 'error')
    return errorResult(toolUseId, `${name} failed: ${describeThrown(outcome.error)}`);
  try {
    return { type: 'tool_result', tool_use_id: toolUseId, content: toolResultContent(outcome.value) };
  } catch (error) {
    // A malformed block or a value JSON cannot carry: the tool's fault, said to the model.
    return errorResult(toolUseId, `${name} failed: ${describeThrown(error)}`);
  }
}

type Outcome = { kind: 'ok'; value: unknown } | { kind: 'error'; error: unknown } | { kind: 'timeout' };

/**
 * Runs `start` with a signal of its own and settles with whichever comes first: its result,
 * the timeout (the run's signal aborts and the run is no longer waited for) or the caller's
 * abort (rejects with `AbortError`). The timer and the listener are removed on every path.
 */
function raceRun(
  start: (signal: AbortSignal) => unknown,
  timeoutMs: number,
  outer: AbortSignal | undefined,
  timeoutReason: () => Error,
): Promise<Outcome> {
  const controller = new AbortController();
  return new Promise<Outcome>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cleanUp = () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    };
    const settle = (outcome: Outcome) => {
      cleanUp();
      resolve(outcome);
    };
    function onAbort() {
      cleanUp();
      controller.abort(outer?.reason);
      reject(abortErrorOf(outer));
    }
    outer?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        controller.abort(timeoutReason());
        settle({ kind: 'timeout' });
      }, timeoutMs);
    }
    try {
      Promise.resolve(start(controller.signal)).then(
        (value) => settle({ kind: 'ok', value }),
        (error: unknown) => settle({ kind: 'error', error }),
      );
    } catch (error) {
      settle({ kind: 'error', error });
    }
  });
}

function errorResult(toolUseId: string, message: string): ToolResultBlock {
  return { type: 'tool_result', tool_use_id: toolUseId, content: message, is_error: true };
}

/** The message of a thrown value, never its stack: the stack means nothing to the model. */
function describeThrown(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return 'an unprintable value was thrown';
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortErrorOf(signal);
}

function abortErrorOf(signal: AbortSignal | undefined): AbortError {
  const reason: unknown = signal?.reason;
  if (reason instanceof AbortError) return reason;
  return new AbortError('The tool calls were aborted.', { cause: reason });
}

function checkTimeout(timeoutMs: number | undefined, what: string): void {
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0)) {
    throw new RangeError(
      `${what} must be a positive number of milliseconds (or Infinity); got ${timeoutMs}.`,
    );
  }
}

/**
 * The arguments' JSON Schema as written for input (so defaults make fields optional),
 * without `$schema` and without the safe-integer bounds zod puts on every `int()`, which
 * cost tokens on every request and tell the model nothing.
 */
function inputSchemaOf(name: string, input: SchemaAdapter): CustomTool['input_schema'] {
  let json: Record<string, unknown>;
  try {
    json = input.jsonSchema();
  } catch (error) {
    throw new TypeError(
      `Tool ${name}: its input schema has no JSON Schema form (${describeThrown(error)}).`,
      {
        cause: error,
      },
    );
  }
  const { $schema: _ignored, ...schema } = inlineRootRef(json);
  if (schema.type !== 'object') {
    throw new TypeError(
      `Tool ${name}: input must be an object schema (z.object({...})); the API takes tool arguments as a JSON object, and this schema describes ${describeSchemaType(schema)}.`,
    );
  }
  return stripSafeIntegerBounds(schema) as CustomTool['input_schema'];
}

/** A schema with a registered id comes out as `{ $ref: '#/$defs/Id', $defs }`; the API wants the object itself. */
function inlineRootRef(json: Record<string, unknown>): Record<string, unknown> {
  const { $ref: ref, $defs: defs, ...rest } = json;
  const prefix = '#/$defs/';
  if (typeof ref !== 'string' || !ref.startsWith(prefix) || typeof defs !== 'object' || defs === null)
    return json;
  const target = (defs as Record<string, unknown>)[ref.slice(prefix.length)];
  if (typeof target !== 'object' || target === null) return json;
  // The definitions stay: the target may refer to itself or to its siblings.
  return { ...rest, ...(target as Record<string, unknown>), $defs: defs };
}

function describeSchemaType(schema: Record<string, unknown>): string {
  if (typeof schema.type === 'string') return `a ${schema.type}`;
  if ('anyOf' in schema || 'oneOf' in schema) return 'a union (put it in a field of an object)';
  return 'no single type';
}

// Values under these keys are data, not schemas: left exactly as written.
const DATA_KEYS = new Set(['default', 'const', 'enum', 'examples']);
// Under these keys every value is a schema, whatever its name (a field may be called `default`).
const SCHEMA_MAP_KEYS = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
]);

function stripSafeIntegerBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripSafeIntegerBounds);
  if (typeof node !== 'object' || node === null) return node;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (DATA_KEYS.has(key)) copy[key] = value;
    else if (SCHEMA_MAP_KEYS.has(key) && typeof value === 'object' && value !== null) {
      copy[key] = Object.fromEntries(
        Object.entries(value).map(([field, schema]) => [field, stripSafeIntegerBounds(schema)]),
      );
    } else copy[key] = stripSafeIntegerBounds(value);
  }
  if (copy.type === 'integer') {
    if (copy.minimum === Number.MIN_SAFE_INTEGER) delete copy.minimum;
    if (copy.maximum === Number.MAX_SAFE_INTEGER) delete copy.maximum;
  }
  return copy;
}

import { isErrorType } from '../protocol/errors.ts';

/*
 * Every label value a Prometheus series gets comes from here, and each kind from a bounded
 * set: a label set, once created, lives as long as the process, so a value a caller chooses
 * freely (the model of a request that then fails, a name 10 KB long) would make memory and
 * the size of `/metrics` grow with every request.
 */

/** The label of anything outside the bounded set. */
export const OTHER = 'other';

/** Models that answered without being configured, labelled by name up to this many; `other` after. */
export const DEFAULT_SEEN_MODEL_CAP = 50;
/** Route labels; the gateway has a handful, so more means something is labelling per URL. */
const ROUTE_CAP = 32;
/** A label value's length at most; model names are far shorter. */
const MAX_LABEL_LENGTH = 128;

/** Why a retry happened, as `failureReason` names it: the error types plus the stream's own causes. */
const RETRY_REASONS: ReadonlySet<string> = new Set([
  'idle_timeout',
  'connection',
  'incomplete_stream',
  'unknown',
]);

export interface MetricLabelOptions {
  /** Models the configuration names (`provider:model` and aliases): always labelled by name. */
  knownModels?: Iterable<string>;
  /** How many more models, seen answering, are labelled by name. */
  seenModelCap?: number;
}

export class MetricLabels {
  private readonly known: Set<string>;
  private readonly seen = new Set<string>();
  private readonly routes = new Set<string>();
  private readonly seenCap: number;

  constructor(options: MetricLabelOptions = {}) {
    this.known = new Set([...(options.knownModels ?? [])].map(safeLabelValue));
    this.seenCap = options.seenModelCap ?? DEFAULT_SEEN_MODEL_CAP;
  }

  /**
   * A model's label. A configured model keeps its name; another only once the upstream has
   * answered with it (`answered`), and while fewer than the cap have been: a name that only
   * ever fails (an unknown model, a caller without a valid key) never becomes a label.
   */
  model(ref: string, answered: boolean): string {
    const value = safeLabelValue(ref);
    if (this.known.has(value) || this.seen.has(value)) return value;
    if (!answered || this.seen.size >= this.seenCap) return OTHER;
    this.seen.add(value);
    return value;
  }

  /** The route's label: the routes the gateway serves are few and fixed in its code. */
  route(route: string): string {
    const value = safeLabelValue(route);
    if (this.routes.has(value)) return value;
    if (this.routes.size >= ROUTE_CAP) return OTHER;
    this.routes.add(value);
    return value;
  }

  /** An Anthropic error type, else `other` (an upstream may name types of its own). */
  errorType(type: string): string {
    return isErrorType(type) ? type : OTHER;
  }

  /** A retry's reason: an error type or one of the stream's own causes. */
  retryReason(reason: string): string {
    return isErrorType(reason) || RETRY_REASONS.has(reason) ? reason : OTHER;
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A value the exposition format carries safely and briefly: control characters (NUL among
 * them) become `?`, lone surrogates U+FFFD, and the value is cut at MAX_LABEL_LENGTH.
 * prom-client escapes the rest (`\`, `"`).
 */
export function safeLabelValue(value: string): string {
  const cut = value.length > MAX_LABEL_LENGTH ? `${value.slice(0, MAX_LABEL_LENGTH)}…` : value;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return cut.replace(LONE_SURROGATE, '\ufffd').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod/v4';
import { AuthenticationError, InvalidRequestError, NotFoundError } from '../../protocol/errors.ts';
import { parseRequestBody } from '../../protocol/zod-errors.ts';
import { ApiKeys } from '../auth.ts';
import type { GatewayContext } from '../context.ts';
import { parseSince, summarizeUsage, USAGE_GROUPINGS, type UsageGrouping } from '../ledger/summary.ts';
import type { KeyStore } from './key-store.ts';
import { BUDGET_PERIODS } from './periods.ts';
import { keyView } from './views.ts';

/** The body of `POST /admin/keys`. */
const NewKeyBodySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  budget_usd: z.number().positive().optional(),
  period: z.enum(BUDGET_PERIODS).optional(),
  rpm: z.int().positive().optional(),
  models: z.array(z.string().min(1)).min(1).optional(),
});

/**
 * The admin API, behind its own key (`SLUICE_ADMIN_KEY`), which the callers' keys do not
 * open: `POST /admin/keys` (the new key, shown this once), `GET /admin/keys`,
 * `DELETE /admin/keys/{id}`, `GET /admin/usage?key=&from=&to=&group_by=model|key|day`.
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  gateway: GatewayContext,
  store: KeyStore,
  adminKey: string,
): void {
  const admins = new ApiKeys([adminKey]);
  app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => {
      gateway.authFailures.assertAllowed(request.ip);
      try {
        admins.check(request.headers);
      } catch (error) {
        gateway.authFailures.recordFailure(request.ip);
        throw new AuthenticationError(
          `${(error as Error).message} The admin API takes the admin key (SLUICE_ADMIN_KEY).`,
        );
      }
    });

    admin.post('/admin/keys', async (request, reply) => {
      const body = parseRequestBody(NewKeyBodySchema, request.body);
      const { key, record } = await store.create({
        name: body.name,
        budgetUsd: body.budget_usd,
        period: body.period,
        rpm: body.rpm,
        models: body.models,
      });
      return reply.code(201).send({ ...keyView(record, store.now()), key });
    });

    admin.get('/admin/keys', async () => ({
      data: (await store.list()).map((key) => keyView(key, store.now())),
    }));

    admin.delete('/admin/keys/:id', async (request) => {
      const { id } = request.params as { id: string };
      if (!(await store.revoke(id))) throw new NotFoundError(`No live key has the id ${id}.`);
      return { id, revoked: true };
    });

    admin.get('/admin/usage', async (request) => {
      const query = usageQuery(request);
      const keys = await store.list();
      const key =
        query.key === undefined ? undefined : keys.find((k) => k.id === query.key || k.name === query.key);
      if (query.key !== undefined && !key) throw new NotFoundError(`No key has the id or name ${query.key}.`);
      const calls = await store.calls({ keyId: key?.id, from: query.from, to: query.to });
      const names = new Map(keys.map((k) => [k.id, k.name]));
      return { group_by: query.groupBy, data: summarizeUsage(calls, query.groupBy, names).map(usageRow) };
    });
  });
}

function usageQuery(request: FastifyRequest): {
  key?: string;
  from?: number;
  to?: number;
  groupBy: UsageGrouping;
} {
  const query = request.query as Record<string, string | undefined>;
  const time = (name: 'from' | 'to') => {
    const value = query[name];
    if (value === undefined) return undefined;
    const ms = parseSince(value);
    if (ms === undefined) {
      throw new InvalidRequestError(
        `${name}: expected an ISO 8601 time, milliseconds since 1970, or a duration back from now such as 7d.`,
      );
    }
    return ms;
  };
  const groupBy = (query.group_by ?? 'model') as UsageGrouping;
  if (!USAGE_GROUPINGS.includes(groupBy)) {
    throw new InvalidRequestError(`group_by: expected one of ${USAGE_GROUPINGS.join(', ')}.`);
  }
  return { key: query.key, from: time('from'), to: time('to'), groupBy };
}

/** A usage summary in the API's snake_case. */
export function usageRow(summary: ReturnType<typeof summarizeUsage>[number]) {
  return {
    group: summary.group,
    calls: summary.calls,
    refused: summary.refused,
    input_tokens: summary.inputTokens,
    output_tokens: summary.outputTokens,
    cache_read_tokens: summary.cacheReadTokens,
    cache_write_tokens: summary.cacheWriteTokens,
    cost_usd: summary.costUsd,
  };
}

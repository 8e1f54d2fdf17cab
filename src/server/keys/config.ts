import { z } from 'zod/v4';
import { isDatabaseUrl } from '../store/open.ts';

/** `sqlite:PATH` or `postgres://…`. */
export const DatabaseUrlSchema = z
  .string()
  .refine(
    isDatabaseUrl,
    'expected sqlite:PATH (such as sqlite:/var/lib/sluice/sluice.db) or a postgres:// URL',
  );

const DollarsSchema = z.number().min(0, 'expected USD per million tokens, 0 or more');

/** A price in USD per million tokens (`Price` of the client's usage module). */
export const PriceSchema = z.strictObject({
  input: DollarsSchema,
  output: DollarsSchema,
  cacheWrite: DollarsSchema.optional(),
  cacheRead: DollarsSchema.optional(),
});

/** `prices`: per provider:model or alias. */
export const PricesSchema = z.record(z.string().min(1), PriceSchema);

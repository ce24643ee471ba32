// Local Redis and PostgreSQL for cluster-mode tests: the one implementation in
// scripts/localServices.ts, started on free ports with temp data dirs removed on stop.
// Tests stop their own services; stopAllServices() is for afterAll/teardown safety nets.
import { startPostgres as startPostgresService, type LocalPostgres, type PostgresOptions } from '../../scripts/localServices';

export { startRedis, stopAllServices, freePort } from '../../scripts/localServices';
export type { LocalPostgres, LocalRedis, PostgresOptions, ServiceOptions } from '../../scripts/localServices';

/** startPostgres with `fast: true` by default (fsync off: quick and small; a clean stop/restart
 * still keeps every row). Pass `fast: false` to test real durability. */
export function startPostgres(opts: PostgresOptions = {}): Promise<LocalPostgres> {
  return startPostgresService({ fast: true, ...opts });
}

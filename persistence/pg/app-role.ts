/**
 * The role the running server uses: sigplane_app (migration 007), which owns
 * no table, is no superuser and lacks BYPASSRLS, so row-level security binds
 * it and DDL is out of its reach. Migrations and operators' CLI commands run
 * as the tables' owner (DATABASE_URL); the server's own connections (the
 * configuration store behind every upgrade, the shipper, the control
 * listener, the admin API) use the application URL:
 *
 * - SIGPLANE_APP_DATABASE_URL when set: a LOGIN role that is a member of
 *   sigplane_app (CREATE ROLE sigplane_server LOGIN PASSWORD '...' IN ROLE
 *   sigplane_app). The strongest form: no running connection has the
 *   owner's rights. (`serve` still migrates at start with DATABASE_URL, so
 *   the owner's URL is in its environment; migrate separately and give it
 *   a role that may not alter tables, to take even that away.)
 * - otherwise the owner's URL with `options=-c role=sigplane_app`: every
 *   connection starts as sigplane_app (RESET ROLE returns to it). Weaker:
 *   the session user is still the owner, so SQL that can run `SET ROLE`
 *   could climb back; there is no such SQL in sigplane (every statement is
 *   a constant with parameters), and production should set the URL above.
 *
 * Either way assertApplicationRole checks, before the server serves, that
 * the connection really is bound: not superuser, no BYPASSRLS, a member of
 * sigplane_app, owner of no table.
 */
import type { Pool } from 'pg';
import { SigplaneError } from '@sigplane/protocol';

const applicationRole = 'sigplane_app';

/** The URL of the server's runtime connections (see above). */
export function applicationDatabaseUrl(ownerUrl: string, explicitUrl: string | undefined): { url: string; source: 'SIGPLANE_APP_DATABASE_URL' | 'owner with role option' } {
  if (explicitUrl !== undefined && explicitUrl !== '') return { url: explicitUrl, source: 'SIGPLANE_APP_DATABASE_URL' };
  const url = new URL(ownerUrl);
  const existing = url.searchParams.get('options');
  url.searchParams.set('options', `${existing === null ? '' : `${existing} `}-c role=${applicationRole}`);
  return { url: url.toString(), source: 'owner with role option' };
}

/** APPLICATION_ROLE_UNSAFE: the connection would not be bound by row-level security; the server does not serve. */
export class ApplicationRoleError extends SigplaneError<'APPLICATION_ROLE_UNSAFE'> {
  constructor(message: string) {
    super('APPLICATION_ROLE_UNSAFE', message);
  }
}

/** Refuses (throws) unless this pool's connections are bound by row-level security and own nothing. */
export async function assertApplicationRole(pool: Pool): Promise<{ currentUser: string }> {
  const { rows } = await pool.query<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean; member: boolean; owned: string }>(
    `SELECT current_user,
            r.rolsuper,
            r.rolbypassrls,
            pg_has_role(current_user, $1, 'MEMBER') AS member,
            (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_has_role(current_user, c.relowner, 'USAGE'))::text AS owned
       FROM pg_roles r WHERE r.rolname = current_user`,
    [applicationRole],
  );
  const row = rows[0];
  if (row === undefined) throw new ApplicationRoleError('the application connection has no role');
  const problems: string[] = [];
  if (row.rolsuper) problems.push('is a superuser');
  if (row.rolbypassrls) problems.push('has BYPASSRLS');
  if (!row.member) problems.push(`is not a member of ${applicationRole}`);
  if (row.owned !== '0') problems.push(`owns (or inherits the owner of) ${row.owned} table(s)`);
  if (problems.length > 0) {
    throw new ApplicationRoleError(`the server's database role ${row.current_user} ${problems.join(', ')}: row-level security would not bind it (docs/postgres.md, "Roles and row-level security")`);
  }
  return { currentUser: row.current_user };
}

/** Roles, from least to most privileged. A role may do everything the roles before it may. */
export const Role = { Viewer: 'viewer', Operator: 'operator', Admin: 'admin' } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES: readonly Role[] = [Role.Viewer, Role.Operator, Role.Admin];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function roleAllows(actual: Role, required: Role): boolean {
  return ROLES.indexOf(actual) >= ROLES.indexOf(required);
}

/** Who is calling: resolved once by the gateway, carried to subgraphs in a signed header. */
export interface Principal {
  /** Stable id of the credential (API key id), or 'system' for internal work. */
  readonly id: string;
  /** Human-readable name of the credential, recorded in the audit trail. */
  readonly name: string;
  readonly role: Role;
}

export const SYSTEM_PRINCIPAL: Principal = { id: 'system', name: 'system', role: Role.Admin };

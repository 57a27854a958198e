/**
 * Scopes: what an operator credential may do, one name per area and action
 * (`machines:write`, `secrets:read`, `pulumi:stacks:write`). Roles map to
 * scopes: a scope is granted to the lowest role that has it and to every role
 * above (viewer < operator < admin). An operator token may be limited to some
 * of its role's scopes.
 */
import { type Role, roleAtLeast } from "../operators/Operator.js"

/** `<area>:<action>`, lower case; more segments are allowed (`pulumi:stacks:write`). */
export const SCOPE_NAME = /^[a-z][a-z0-9_]{0,62}(?::[a-z][a-z0-9_]{0,62}){1,3}$/

export interface ScopeDefinition<Name extends string = string> {
  readonly name: Name
  /** One line, shown in the docs and token views. */
  readonly description: string
  /** The lowest core role that has the scope. */
  readonly grantedTo: Role
}

/** Declares a scope; throws on a malformed name (a programming error in the declaring package). */
export const defineScope = <const Name extends string>(definition: ScopeDefinition<Name>): ScopeDefinition<Name> => {
  if (!SCOPE_NAME.test(definition.name)) {
    throw new Error(`scope name must be <area>:<action> in lower case: ${JSON.stringify(definition.name)}`)
  }
  return Object.freeze({ name: definition.name, description: definition.description, grantedTo: definition.grantedTo })
}

/** Whether a role has a scope. */
export const roleHasScope = (role: Role, scope: ScopeDefinition) => roleAtLeast(role, scope.grantedTo)

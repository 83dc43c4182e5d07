/**
 * Who a request acts as: a key's id and its kind. The keys domain issues and
 * authenticates keys, http/auth.ts checks a kind's rights and the schema
 * stores the kind; the kinds live here, below all three.
 */

export const KEY_KINDS = ['admin', 'sdk', 'read'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export interface Principal {
  keyId: string;
  kind: KeyKind;
}

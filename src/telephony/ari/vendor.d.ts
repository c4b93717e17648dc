// The slice of ari-client (which ships no types) the ARI adapter relies on. Operations are the
// swagger nicknames of Asterisk's api-docs; each resolves to an ari-client resource object.
declare module 'ari-client' {
  export type AriOperation = (params?: Record<string, unknown>) => Promise<unknown>;
  export interface AriClientInstance {
    [resource: string]: unknown;
  }
  export function connect(url: string, user: string, pass: string): Promise<AriClientInstance>;
}

// Types for asterisk-manager 0.2.0, which ships none: only the parts ami-client.ts uses.
// Messages arrive with lower-cased keys; a repeated key becomes an array and `Variable:` lines an
// object of name → value.

declare module 'asterisk-manager' {
  namespace Manager {
    type Value = string | string[] | Record<string, string>;
    interface Message {
      [key: string]: Value | undefined;
    }
    type ActionFields = Record<string, string | number | undefined>;
    interface Instance {
      readonly options: {
        port?: number;
        host: string;
        username: string;
        password: string;
        events: boolean;
      };
      /** Opens the socket; the callback runs only once it is connected (never on a refusal). */
      connect(port: number, host: string, callback?: (err: Error | null) => void): void;
      /** Sends `Login` with the constructor's credentials; `err` is the error response. */
      login(callback?: (err?: Message) => void): void;
      /**
       * Sends an action and returns its ActionID. Before login the action is held and sent after
       * the next successful login — callers that want to fail fast must check readiness first.
       */
      action(
        action: ActionFields,
        callback?: (err: Message | undefined, res: Message) => void,
      ): string;
      disconnect(callback?: () => void): void;
      isConnected(): boolean;
      on(event: string, listener: (...args: unknown[]) => void): void;
      once(event: string, listener: (...args: unknown[]) => void): void;
      removeListener(event: string, listener: (...args: unknown[]) => void): void;
      removeAllListeners(event?: string): void;
    }
  }
  /** Connects and logs in at once when `port` is given; without it nothing happens until connect(). */
  function Manager(
    port?: number,
    host?: string,
    username?: string,
    password?: string,
    events?: boolean,
  ): Manager.Instance;
  export = Manager;
}

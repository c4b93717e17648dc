// Phone numbers: only a number that went through validateNumber can reach a dial string.

declare const dialable: unique symbol;
/** An E.164 number (`+15551234567`) or an allowed internal extension (`5115`). */
export type DialableNumber = string & { readonly [dialable]: true };

// Phone numbers: only a number that went through validateNumber can reach a dial string.
// Input is screened to ASCII digits and `+ - . ( )` and spaces *before* libphonenumber sees it,
// because libphonenumber happily normalises fullwidth or Arabic-Indic digits and drops letters
// and punctuation it does not understand: `5115&PJSIP/other` must never become `5115`.

import {
  isSupportedCountry,
  parsePhoneNumberFromString,
  type CountryCode,
} from 'libphonenumber-js/max';

declare const dialable: unique symbol;
/** An E.164 number (`+15551234567`) or an allowed internal extension (`5115`). */
export type DialableNumber = string & { readonly [dialable]: true };

export interface NumberPolicy {
  /** ISO 3166 alpha-2 country for numbers written without `+` (e.g. `US`). */
  defaultCountry: string;
  disallowPremium: boolean;
  disallowImpossible: boolean;
  allowExtensions: boolean;
  maxExtensionLength: number;
}

export type NumberRejection =
  'empty' | 'invalid-characters' | 'impossible' | 'premium' | 'not-e164';

export type NumberCheck =
  | { ok: true; number: DialableNumber; kind: 'e164' | 'extension' }
  | { ok: false; reason: NumberRejection; message: string };

/** Longer input is not a phone number, whatever its characters (E.164 has at most 15 digits). */
const MAX_INPUT_LENGTH = 40;

export function validateNumber(raw: string, opts: NumberPolicy): NumberCheck {
  if (typeof raw !== 'string' || raw.replace(/ /g, '') === '')
    return reject('empty', 'the phone number is empty');
  // Only ASCII; `+` only in front. Tabs, newlines, `&`, `,`, `;`, `/`, letters: all refused.
  if (!/^ *\+?[0-9 ().-]*$/.test(raw) || !/[0-9]/.test(raw))
    return reject(
      'invalid-characters',
      'the phone number may contain only digits, a leading +, spaces and - . ( )',
    );
  const text = raw.trim();
  if (text.length > MAX_INPUT_LENGTH) return reject('impossible', 'the phone number is too long');

  const minExt = 2;
  if (
    opts.allowExtensions &&
    /^[0-9]+$/.test(text) &&
    text.length >= minExt &&
    text.length <= opts.maxExtensionLength
  )
    return { ok: true, number: text as DialableNumber, kind: 'extension' };

  const country = isSupportedCountry(opts.defaultCountry)
    ? (opts.defaultCountry as CountryCode)
    : undefined;
  const parsed = parsePhoneNumberFromString(text, country ? { defaultCountry: country } : {});
  if (!parsed || !/^\+[1-9][0-9]{1,14}$/.test(parsed.number))
    return reject(
      'not-e164',
      text.startsWith('+') || country
        ? `${text} cannot be read as an international (E.164) number`
        : `${text} has no country code and no default country is configured`,
    );
  // With the full metadata a number is valid exactly when it has a type, so the type is
  // worked out once (isValid would match every type's pattern again); isValid only confirms
  // a rejection.
  const type = opts.disallowImpossible || opts.disallowPremium ? parsed.getType() : undefined;
  if (opts.disallowImpossible) {
    if (!parsed.isPossible()) return reject('impossible', `${text} is not a possible phone number`);
    if (type === undefined && !parsed.isValid())
      return reject('impossible', `${text} is not a valid phone number`);
  }
  if (opts.disallowPremium && type === 'PREMIUM_RATE')
    return reject('premium', `${text} is a premium-rate number`);
  return { ok: true, number: parsed.number as DialableNumber, kind: 'e164' };
}

function reject(reason: NumberRejection, message: string): NumberCheck {
  return { ok: false, reason, message };
}

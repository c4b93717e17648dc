import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { validateNumber, type NumberPolicy } from '../../src/domain/phone';

const strict: NumberPolicy = {
  defaultCountry: 'US',
  disallowPremium: true,
  disallowImpossible: true,
  allowExtensions: false,
  maxExtensionLength: 6,
};
const withExt: NumberPolicy = { ...strict, allowExtensions: true };

function ok(raw: string, policy: NumberPolicy = strict) {
  const r = validateNumber(raw, policy);
  assert.ok(r.ok, `${JSON.stringify(raw)} should be accepted: ${r.ok ? '' : r.message}`);
  return r;
}

function rejected(raw: string, reason: string, policy: NumberPolicy = strict): void {
  const r = validateNumber(raw, policy);
  assert.equal(r.ok, false, `${JSON.stringify(raw)} should be rejected`);
  if (!r.ok) {
    assert.equal(r.reason, reason, `${JSON.stringify(raw)}: ${r.message}`);
    assert.ok(r.message.length > 0);
  }
}

describe('phone numbers', () => {
  describe('normalising to E.164', () => {
    for (const [raw, e164] of [
      ['+12015550123', '+12015550123'],
      ['+1 201 555 0123', '+12015550123'],
      ['(201) 555-0123', '+12015550123'],
      ['201.555.0123', '+12015550123'],
      ['  201-555-0123  ', '+12015550123'],
      ['1 201 555 0123', '+12015550123'],
      ['+33 6 12 34 56 78', '+33612345678'],
      ['+44 20 7946 0018', '+442079460018'],
    ])
      it(`reads ${JSON.stringify(raw)} as ${e164}`, () => {
        const r = ok(raw);
        assert.equal(r.number, e164);
        assert.equal(r.kind, 'e164');
      });

    it('uses the default country for national numbers', () => {
      assert.equal(
        ok('06 12 34 56 78', { ...strict, defaultCountry: 'FR' }).number,
        '+33612345678',
      );
    });

    it('refuses a national number when the default country is unknown', () => {
      rejected('2015550123', 'not-e164', { ...strict, defaultCountry: 'XX' });
      assert.equal(ok('+12015550123', { ...strict, defaultCountry: 'XX' }).number, '+12015550123');
    });
  });

  describe('hostile and malformed input', () => {
    for (const raw of [
      '5115&PJSIP/other',
      '5115,PJSIP/other',
      '5115;x',
      '2015550123\n',
      '201555\r0123',
      '201\t5550123',
      '２０１５５５０１２３',
      '201555０123',
      '٢٠١٥٥٥٠١٢٣',
      '1-800-FLOWERS',
      '+1 201 555 0123 ext. 5',
      '201555#0123',
      '201*5550123',
      '+1+2015550123',
      '2015550123+',
      '201\u00a05550123',
      '---',
      '+',
    ])
      it(`refuses ${JSON.stringify(raw)} as invalid characters`, () => {
        rejected(raw, 'invalid-characters');
        rejected(raw, 'invalid-characters', {
          ...withExt,
          disallowImpossible: false,
          disallowPremium: false,
        });
      });

    it('refuses empty input', () => {
      rejected('', 'empty');
      rejected('   ', 'empty');
      rejected(undefined as unknown as string, 'empty');
    });

    it('refuses absurdly long input', () => {
      rejected('1'.repeat(41), 'impossible', { ...strict, disallowImpossible: false });
    });
  });

  describe('premium-rate numbers', () => {
    for (const raw of ['+1 900 555 0123', '+44 909 879 0000', '1-900-555-0123'])
      it(`refuses ${raw} when premium numbers are disallowed`, () => {
        rejected(raw, 'premium');
      });

    it('accepts a premium number when allowed', () => {
      assert.equal(
        ok('+1 900 555 0123', { ...strict, disallowPremium: false }).number,
        '+19005550123',
      );
    });
  });

  describe('impossible and invalid numbers', () => {
    it('refuses an impossible number (too many digits)', () => {
      rejected('+1 201 555 01234', 'impossible');
    });

    it('refuses a possible but invalid number (the 555 area code)', () => {
      rejected('+1 555 123 4567', 'impossible');
    });

    it('accepts an invalid but parseable number when impossible numbers are allowed', () => {
      assert.equal(
        ok('+1 555 123 4567', { ...strict, disallowImpossible: false }).number,
        '+15551234567',
      );
    });

    it('still refuses what cannot be read as E.164 when impossible numbers are allowed', () => {
      rejected('+0 123', 'not-e164', { ...strict, disallowImpossible: false });
    });
  });

  describe('extensions', () => {
    it('accepts the seed extension 5115 when extensions are allowed', () => {
      const r = ok('5115', withExt);
      assert.equal(r.number, '5115');
      assert.equal(r.kind, 'extension');
    });

    it('refuses 5115 when extensions are not allowed', () => {
      rejected('5115', 'impossible');
    });

    it('accepts 2 to maxExtensionLength digits only', () => {
      assert.equal(ok('12', withExt).kind, 'extension');
      assert.equal(ok('123456', withExt).kind, 'extension');
      rejected('1', 'not-e164', withExt);
      rejected('1234567', 'impossible', withExt);
      rejected('1234', 'impossible', { ...withExt, maxExtensionLength: 3 });
    });

    it('does not treat punctuated or + numbers as extensions', () => {
      rejected('51-15', 'impossible', withExt);
      rejected('+5115', 'impossible', withExt);
    });

    it('still reads a full national number as E.164 when extensions are allowed', () => {
      const r = ok('2015550123', withExt);
      assert.equal(r.kind, 'e164');
      assert.equal(r.number, '+12015550123');
    });
  });

  describe('agreement with libphonenumber', () => {
    it('accepts exactly the possible, valid, non-premium numbers, over random digits', () => {
      const codes = ['1', '33', '44', '49', '61', '81', '91', '352', '7', '55'];
      fc.assert(
        fc.property(fc.constantFrom(...codes), fc.stringMatching(/^[0-9]{4,13}$/), (cc, digits) => {
          const raw = `+${cc}${digits}`;
          const parsed = parsePhoneNumberFromString(raw);
          const expected =
            parsed !== undefined &&
            parsed.isPossible() &&
            parsed.isValid() &&
            parsed.getType() !== 'PREMIUM_RATE';
          assert.equal(validateNumber(raw, strict).ok, expected, raw);
        }),
        { numRuns: 3000 },
      );
    });
  });
});

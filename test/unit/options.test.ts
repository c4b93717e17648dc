import assert from 'node:assert/strict';
import { applyOptions, DEFAULT_OPTIONS } from '../../src/domain/options';

describe('service options: caller id values', () => {
  it('accepts a calling party number of digits with an optional leading +, up to 20 characters', () => {
    for (const v of ['', '+33140000000', '5115', `+${'1'.repeat(19)}`]) {
      const r = applyOptions(DEFAULT_OPTIONS, { _calling_party_number: v });
      assert.ok(r.ok, v);
      assert.equal(r.options._calling_party_number, v);
    }
  });

  it('refuses a calling party number that is not + and digits, or longer than 20 characters', () => {
    for (const v of [
      '+33 1 40 00 00 00',
      '1-800-555',
      '12+34',
      '+',
      `+${'1'.repeat(20)}`,
      '5115)\nChannel: PJSIP/evil',
      '5115;x=1',
      '٣٣١٤٠', // non-ASCII digits
    ]) {
      const r = applyOptions(DEFAULT_OPTIONS, { _calling_party_number: v });
      assert.equal(r.ok, false, JSON.stringify(v));
      if (!r.ok) {
        assert.equal(r.key, '_calling_party_number');
        assert.match(r.message, /digits/);
      }
    }
  });

  it('accepts a printable display name up to 64 characters, accents included', () => {
    for (const v of ['', 'Acme Support', "Café d'Émile", 'x'.repeat(64)]) {
      const r = applyOptions(DEFAULT_OPTIONS, { _calling_party_display_name: v });
      assert.ok(r.ok, v);
      assert.equal(r.options._calling_party_display_name, v);
    }
  });

  it('refuses a display name with quotes, angle brackets, ; & , line breaks or control characters, or over 64', () => {
    for (const v of [
      'Acme "Support"',
      'Acme <sip:evil@x>',
      'Acme;tag=1',
      'Acme & Co',
      'Acme, Inc',
      'Acme\r\nX-Header: 1',
      'Acme\u0000',
      'Acme\u001b[31m',
      'Acme\u202e', // a bidi override: a format character
      'x'.repeat(65),
    ]) {
      const r = applyOptions(DEFAULT_OPTIONS, { _calling_party_display_name: v });
      assert.equal(r.ok, false, JSON.stringify(v));
      if (!r.ok) assert.equal(r.key, '_calling_party_display_name');
    }
  });

  it('refuses a bad caller id passed as a request override the same way', () => {
    const service = { ...DEFAULT_OPTIONS, _calling_party_number: '+33140000000' };
    const r = applyOptions(service, { _calling_party_number: '+331<script>' });
    assert.deepEqual(r.ok ? r : { key: r.key }, { key: '_calling_party_number' });
  });
});

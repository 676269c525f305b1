// The card's words and numbers, apart from drawing.
import { describe, expect, it } from 'vitest';

import { cardUrl, duration, localTime, safeUrl, statusVariant } from '../src/app/cards/qmon.js';

describe('qmon.js', () => {
  it('formats clocks', () => {
    expect(duration(0)).toBe('0m');
    expect(duration(59)).toBe('0m');
    expect(duration(2700)).toBe('45m');
    expect(duration(14400)).toBe('4h');
    expect(duration(77712)).toBe('21h 35m');
    expect(duration(86400)).toBe('24h');
    expect(duration(172800)).toBe('2d');
    expect(duration(273600)).toBe('3d 4h');
  });

  it('builds the card URL with the ids escaped', () => {
    expect(cardUrl('https://q.example/', 5, '0-3')).toBe('https://q.example/api/crm/hubspot/card?objectId=5&objectTypeId=0-3');
    expect(cardUrl('https://q.example', 'a&b', '0-5')).toBe(
      'https://q.example/api/crm/hubspot/card?objectId=a%26b&objectTypeId=0-5',
    );
  });

  it('shows instants in local time, and nothing for none', () => {
    expect(localTime('2026-11-20T16:40:00+01:00', 'en-us', 'America/New_York')).toMatch(/10:40.*(EST|GMT-5)/);
    expect(localTime('2026-12-02T18:59:59.418963Z', 'en-gb', 'UTC')).toMatch(/18:59/);
    expect(localTime(null, 'en-us')).toBeNull();
    expect(localTime('not a date', 'en-us')).toBeNull();
    expect(localTime('2026-11-20T16:40:00+01:00', 'not_a_locale!!', 'Europe/Amsterdam')).toMatch(/4:40|16:40/);
    expect(localTime('2026-11-20T16:40:00+01:00', 'en-gb', 'Europe/Amsterdam')).toMatch(/16:40/);
    expect(localTime('2026-11-20T16:40:00+01:00', 'en-us', 'Europe/Amsterdam')).toMatch(/04:40 PM/);
  });

  it('knows every status of the contract, and links only http(s)', () => {
    expect(['met', 'breached', 'open', 'not_evaluated'].map(statusVariant)).toEqual([
      'success',
      'danger',
      'info',
      'default',
    ]);
    expect(statusVariant('something-new')).toBe('default');
    expect(safeUrl('javascript:alert(1)')).toBeNull();
    expect(safeUrl('https://qmon.example.com/x')).toBe('https://qmon.example.com/x');
  });
});

// The card's words and numbers, apart from drawing (the same rules as the HubSpot card's).
import { duration, errorMessage, localTime, parseCard, safeUrl, statusBadge, words } from '../format';

describe('format.js', () => {
    it('formats clocks', () => {
        expect([0, 59, 2700, 14400, 77712, 86400, 172800, 273600].map(duration)).toEqual([
            '0m',
            '0m',
            '45m',
            '4h',
            '21h 35m',
            '24h',
            '2d',
            '3d 4h'
        ]);
    });

    it('shows instants in the given time zone, and nothing for none', () => {
        expect(localTime('2026-11-20T16:40:00+01:00', 'en-US', 'America/New_York')).toMatch(/10:40 AM (EST|GMT-5)/);
        expect(localTime('2026-11-20T16:40:00+01:00', 'nl_NL', 'Europe/Amsterdam')).toMatch(/16:40/);
        expect(localTime('2026-12-02T18:59:59.418963Z', 'en-GB', 'UTC')).toMatch(/18:59/);
        expect(localTime(null, 'en-US', 'UTC')).toBeNull();
        expect(localTime('not a date', 'en-US', 'UTC')).toBeNull();
    });

    it('knows every status of the contract, and links only http(s)', () => {
        expect(['met', 'breached', 'open', 'not_evaluated', 'new'].map((s) => statusBadge(s).label)).toEqual([
            'Kept',
            'Broken',
            'Open',
            'Not evaluated',
            'new'
        ]);
        expect(safeUrl('javascript:alert(1)')).toBeNull();
        expect(safeUrl('https://qmon.example.com/x')).toBe('https://qmon.example.com/x');
    });

    it('reads Apex failures and refuses what is not the contract', () => {
        expect(errorMessage({ body: { message: 'from Apex' } })).toBe('from Apex');
        expect(errorMessage({ body: [{ message: 'a' }, { message: 'b' }] })).toBe('a b');
        expect(errorMessage(new Error('plain'))).toBe('plain');
        expect(errorMessage(undefined)).toBe('The qmon card could not ask qmon.');
        expect(() => parseCard('null')).toThrow("qmon's answer is not the card's JSON.");
        expect(() => parseCard('{"version": 1, "record": {}}')).toThrow("qmon's answer is not the card's JSON.");
        expect(parseCard('{"version": 1, "record": {}, "promises": []}').promises).toEqual([]);
        expect(words('nl_NL').atRisk).toBe('In gevaar');
        expect(words('en_US').atRisk).toBe('At risk');
    });
});

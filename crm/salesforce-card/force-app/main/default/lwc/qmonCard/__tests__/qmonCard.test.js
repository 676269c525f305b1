// The qmon card with its Apex method mocked: the contract's example (docs/serve.md; the same
// data/ files as the HubSpot card's tests), every status, an empty record, and errors.
import { createElement } from '@lwc/engine-dom';
import QmonCard from 'c/qmonCard';
import card from '@salesforce/apex/QmonCardController.card';

import EXAMPLE from './data/card-example.json';
import STATUSES from './data/card-statuses.json';

jest.mock('@salesforce/apex/QmonCardController.card', () => ({ default: jest.fn() }), { virtual: true });
// The user's Salesforce locale and time zone.
jest.mock('@salesforce/i18n/locale', () => ({ default: 'en-GB' }), { virtual: true });
jest.mock('@salesforce/i18n/timeZone', () => ({ default: 'Europe/Amsterdam' }), { virtual: true });

const OPPORTUNITY = '0065g00000AbCdEAAV';

/** Lets the mocked Apex promise settle and the component render again. */
async function settle() {
    for (let i = 0; i < 5; i += 1) {
        // eslint-disable-next-line no-await-in-loop
        await Promise.resolve();
    }
}

async function mount(answer) {
    if (answer instanceof Error || (answer && answer.body)) {
        card.mockRejectedValue(answer);
    } else {
        card.mockResolvedValue(typeof answer === 'string' ? answer : JSON.stringify(answer));
    }
    const element = createElement('c-qmon-card', { is: QmonCard });
    element.recordId = OPPORTUNITY;
    document.body.appendChild(element);
    await settle();
    return element;
}

const $ = (element, selector) => element.shadowRoot.querySelector(selector);
const $$ = (element, selector) => Array.from(element.shadowRoot.querySelectorAll(selector));
const text = (node) => node.textContent.replace(/\s+/g, ' ').trim();
const item = (element, id) => $(element, `li[data-promise="${id}"]`);

describe('c-qmon-card', () => {
    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
    });

    it('asks the Apex controller for the record it is on', async () => {
        await mount(EXAMPLE);
        expect(card).toHaveBeenCalledTimes(1);
        expect(card.mock.calls[0][0]).toEqual({ recordId: OPPORTUNITY });
    });

    it("shows the contract's example: title, status, clock, deadline, at risk, link", async () => {
        const element = await mount(EXAMPLE);
        const promises = $$(element, 'li[data-promise]');
        expect(promises).toHaveLength(1);
        const li = item(element, 'quote-24h-1');
        expect(text(li.querySelector('[data-id="title"]'))).toBe('Offerte binnen 24 uur verstuurd');
        expect(text(li.querySelector('[data-id="meta"]'))).toBe('sales');
        const status = li.querySelector('[data-id="status"]');
        expect(status.label).toBe('Open');
        expect(status.className).toContain('slds-theme_info');
        const atRisk = li.querySelector('[data-id="at-risk"]');
        expect(atRisk.label).toBe('At risk');
        expect(atRisk.className).toContain('slds-theme_warning');
        expect(li.querySelector('[data-id="paused"]')).toBeNull();
        expect(li.querySelector('[data-id="bar"]').value).toBe(90);
        expect(text(li.querySelector('[data-id="clock"]'))).toBe('21h 35m of 24h');
        // 16:40 at +01:00, in the user's time zone (Europe/Amsterdam).
        expect(text(li.querySelector('[data-id="deadline"]'))).toMatch(/^Deadline:/);
        expect(text(li.querySelector('[data-id="deadline-value"]'))).toMatch(/^Fri 20 Nov, 16:40 (CET|GMT\+1)$/);
        const link = li.querySelector('[data-id="link"]');
        expect(link.href).toBe(EXAMPLE.promises[0].instance_url);
        expect(link.target).toBe('_blank');
        expect(text(link)).toBe('Open in qmon');
        expect($(element, '[data-id="record"]').href).toBe(EXAMPLE.record.url);
        expect(text($(element, '[data-id="as-of"]'))).toMatch(/15:05/);
    });

    it('shows every status with its own theme, paused and not evaluated', async () => {
        const element = await mount(STATUSES);
        expect($$(element, 'li[data-promise]')).toHaveLength(4);
        const status = (id) => item(element, id).querySelector('[data-id="status"]');
        expect([status('quote-24h-2').label, status('quote-24h-2').className]).toEqual(['Broken', 'slds-theme_error']);
        expect([status('quote-24h-1').label, status('quote-24h-1').className]).toEqual(['Kept', 'slds-theme_success']);
        expect([status('follow-up-2bd-1').label, status('follow-up-2bd-1').className]).toEqual([
            'Open',
            'slds-theme_info'
        ]);
        expect(status('delivery-on-promised-date-1').label).toBe('Not evaluated');
        const broken = item(element, 'quote-24h-2');
        expect(broken.querySelector('[data-id="bar"]').value).toBe(100);
        expect(text(broken.querySelector('[data-id="clock"]'))).toBe('26h 15m of 24h');
        expect(text(broken.querySelector('[data-id="meta"]'))).toBe('sales · cycle 2');
        expect(text(item(element, 'quote-24h-1').querySelector('[data-id="deadline"]'))).toMatch(/Stopped: .*15:30/);
        const paused = item(element, 'follow-up-2bd-1');
        expect(paused.querySelector('[data-id="paused"]').label).toBe('Paused');
        expect(paused.querySelector('[data-id="at-risk"]')).toBeNull();
        expect(text(paused.querySelector('[data-id="deadline-value"]'))).toBe('none while the clock is paused');
        const notEvaluated = item(element, 'delivery-on-promised-date-1');
        expect(notEvaluated.querySelector('[data-id="bar"]')).toBeNull();
        expect(text(notEvaluated.querySelector('[data-id="clock"]'))).toContain('not evaluated');
    });

    it('says so when qmon knows no promise about the record', async () => {
        const element = await mount({ ...EXAMPLE, promises: [] });
        const empty = $(element, '[data-id="empty"]');
        expect(text(empty)).toContain('No promises on this record');
        expect(empty.querySelector('[data-id="record"]').href).toBe(EXAMPLE.record.url);
        expect($$(element, 'li[data-promise]')).toHaveLength(0);
        expect($(element, '[data-id="error"]')).toBeNull();
    });

    it("shows the controller's failure and tries again", async () => {
        const element = await mount({
            body: { message: 'qmon refused the request (HTTP 401): the signature does not match the request.' },
            ok: false,
            status: 500
        });
        const error = $(element, '[data-id="error"]');
        expect(text(error)).toContain('qmon could not show this record');
        expect(text(error.querySelector('[data-id="error-message"]'))).toBe(
            'qmon refused the request (HTTP 401): the signature does not match the request.'
        );
        card.mockResolvedValue(JSON.stringify(EXAMPLE));
        $(element, '[data-id="retry"]').click();
        await settle();
        expect(card).toHaveBeenCalledTimes(2);
        expect($(element, '[data-id="error"]')).toBeNull();
        expect($$(element, 'li[data-promise]')).toHaveLength(1);
    });

    it('refuses an answer it cannot read', async () => {
        for (const [answer, expected] of [
            ['<html>proxy error</html>', "qmon's answer is not the card's JSON."],
            [{ ...EXAMPLE, version: 2 }, 'contract version 2']
        ]) {
            // eslint-disable-next-line no-await-in-loop
            const element = await mount(answer);
            expect(text($(element, '[data-id="error-message"]'))).toContain(expected);
            document.body.removeChild(element);
        }
    });

    it('shows a spinner while it waits', async () => {
        card.mockReturnValue(new Promise(() => {}));
        const element = createElement('c-qmon-card', { is: QmonCard });
        element.recordId = OPPORTUNITY;
        document.body.appendChild(element);
        await settle();
        expect($(element, '[data-id="loading"]')).not.toBeNull();
        expect($(element, 'lightning-spinner').alternativeText).toContain('Loading');
    });

    it('shows at most 50 promises and links to the rest', async () => {
        const many = Array.from({ length: 60 }, (_, i) => ({ ...EXAMPLE.promises[0], cycle: 60 - i }));
        const element = await mount({ ...EXAMPLE, promises: many });
        expect($$(element, 'li[data-promise]')).toHaveLength(50);
        expect(text($(element, '[data-id="record"]'))).toBe('10 more in qmon');
    });
});

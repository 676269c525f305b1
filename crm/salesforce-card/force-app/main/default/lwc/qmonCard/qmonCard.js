// qmon's card on Opportunity and Case record pages: the record's promises as qmon serve
// evaluates them. QmonCardController.card asks qmon (signed, through the Named Credential
// Qmon) and answers qmon's JSON, the card contract (docs/serve.md); docs/crm-card.md says
// what the card shows and how to install it.
import { LightningElement, api } from 'lwc';
import card from '@salesforce/apex/QmonCardController.card';
import LOCALE from '@salesforce/i18n/locale';
import TIME_ZONE from '@salesforce/i18n/timeZone';

import { errorMessage, localTime, MAX_SHOWN, parseCard, promiseView, safeUrl, words } from './format';

export default class QmonCard extends LightningElement {
    /** The record the page shows (set by the Lightning record page). */
    @api recordId;

    words = words(LOCALE);
    loading = true;
    error = null;
    cardData = null;
    request = 0;

    connectedCallback() {
        this.load();
    }

    async load() {
        const request = ++this.request;
        this.loading = true;
        this.error = null;
        try {
            const answer = await card({ recordId: this.recordId });
            const parsed = parseCard(answer, this.words);
            if (request === this.request) {
                this.cardData = parsed;
            }
        } catch (e) {
            if (request === this.request) {
                this.error = errorMessage(e, this.words);
            }
        } finally {
            if (request === this.request) {
                this.loading = false;
            }
        }
    }

    retry() {
        this.load();
    }

    get empty() {
        return Boolean(this.cardData) && this.cardData.promises.length === 0;
    }

    get promises() {
        if (!this.cardData) {
            return [];
        }
        return this.cardData.promises
            .slice(0, MAX_SHOWN)
            .map((promise) => promiseView(promise, LOCALE, TIME_ZONE, this.words));
    }

    get hidden() {
        return this.cardData ? Math.max(0, this.cardData.promises.length - MAX_SHOWN) : 0;
    }

    get recordUrl() {
        return this.cardData ? safeUrl(this.cardData.record.url) : null;
    }

    get recordLinkText() {
        return this.hidden > 0 ? this.words.more(this.hidden) : this.words.record;
    }

    get asOfText() {
        const when = this.cardData ? localTime(this.cardData.as_of, LOCALE, TIME_ZONE) : null;
        return when ? this.words.asOf(when) : '';
    }
}

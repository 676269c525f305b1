// What the qmon card shows, apart from drawing: reading qmon's answer (the card JSON
// contract, version 1: docs/serve.md, "The CRM card API") and the words and numbers it shows.
// The same rules as the HubSpot card's crm/hubspot-card/src/app/cards/qmon.js.

/** The contract version this card reads. */
export const CONTRACT_VERSION = 1;

/** A record with more instances than this shows the first ones and a link to the rest. */
export const MAX_SHOWN = 50;

const WORDS = {
    en: {
        status: { met: 'Kept', breached: 'Broken', open: 'Open', not_evaluated: 'Not evaluated' },
        atRisk: 'At risk',
        paused: 'Paused',
        cycle: (n) => `cycle ${n}`,
        clock: (elapsed, allowed) => `${elapsed} of ${allowed}`,
        notEvaluated: (elapsed) => `${elapsed} counted; not evaluated (a value the deadline needs is missing)`,
        deadline: 'Deadline',
        noDeadlinePaused: 'none while the clock is paused',
        noDeadline: 'none',
        stopped: 'Stopped',
        open: 'Open in qmon',
        record: 'This record in qmon',
        more: (n) => `${n} more in qmon`,
        asOf: (when) => `As qmon saw it at ${when}`,
        loading: "Loading qmon's promises...",
        emptyTitle: 'No promises on this record',
        emptyText: 'qmon knows no promise about this record (yet): no event of a promise has reached it.',
        errorTitle: 'qmon could not show this record',
        retry: 'Try again',
        failed: 'The qmon card could not ask qmon.',
        notJson: "qmon's answer is not the card's JSON.",
        badVersion: (v) =>
            `qmon answered contract version ${v}; this card reads version ${CONTRACT_VERSION}. Update the card.`
    },
    nl: {
        status: { met: 'Gehaald', breached: 'Gebroken', open: 'Open', not_evaluated: 'Niet beoordeeld' },
        atRisk: 'In gevaar',
        paused: 'Gepauzeerd',
        cycle: (n) => `ronde ${n}`,
        clock: (elapsed, allowed) => `${elapsed} van ${allowed}`,
        notEvaluated: (elapsed) => `${elapsed} geteld; niet beoordeeld (een waarde voor de deadline ontbreekt)`,
        deadline: 'Deadline',
        noDeadlinePaused: 'geen zolang de klok stilstaat',
        noDeadline: 'geen',
        stopped: 'Gestopt',
        open: 'Openen in qmon',
        record: 'Dit record in qmon',
        more: (n) => `nog ${n} in qmon`,
        asOf: (when) => `Zoals qmon het zag om ${when}`,
        loading: 'De beloften uit qmon worden geladen...',
        emptyTitle: 'Geen beloften op dit record',
        emptyText: 'qmon kent (nog) geen belofte over dit record: er is nog geen gebeurtenis van een belofte binnen.',
        errorTitle: 'qmon kon dit record niet tonen',
        retry: 'Opnieuw proberen',
        failed: 'De qmon-kaart kon qmon niets vragen.',
        notJson: 'Het antwoord van qmon is niet de JSON van de kaart.',
        badVersion: (v) =>
            `qmon antwoordde contractversie ${v}; deze kaart leest versie ${CONTRACT_VERSION}. Werk de kaart bij.`
    }
};

/** The words for a Salesforce locale ('nl_NL', 'nl-NL', 'en-US'...): Dutch or else English. */
export function words(locale) {
    return String(locale || '').toLowerCase().startsWith('nl') ? WORDS.nl : WORDS.en;
}

/** qmon's JSON (as the Apex answered it) as the contract's document, or throws an Error. */
export function parseCard(text, w = WORDS.en) {
    let body;
    try {
        body = typeof text === 'string' ? JSON.parse(text) : text;
    } catch (e) {
        throw new Error(w.notJson);
    }
    if (!body || typeof body !== 'object') {
        throw new Error(w.notJson);
    }
    if (body.version !== CONTRACT_VERSION) {
        throw new Error(w.badVersion(body.version));
    }
    if (!Array.isArray(body.promises) || !body.record || typeof body.record !== 'object') {
        throw new Error(w.notJson);
    }
    return body;
}

/** The message of an Apex failure (AuraHandledException: error.body.message) or another error. */
export function errorMessage(error, w = WORDS.en) {
    if (error && error.body) {
        if (Array.isArray(error.body) && error.body.length && error.body[0].message) {
            return error.body.map((e) => e.message).join(' ');
        }
        if (typeof error.body.message === 'string' && error.body.message) {
            return error.body.message;
        }
    }
    if (error && typeof error.message === 'string' && error.message) {
        return error.message;
    }
    return w.failed;
}

/** Whole seconds as the card shows a clock: '45m', '21h 35m', '24h', '3d 4h'. */
export function duration(seconds) {
    const s = Math.max(0, Math.floor(Number(seconds) || 0));
    const days = Math.floor(s / 86400);
    const hours = Math.floor((s % 86400) / 3600);
    const minutes = Math.floor((s % 3600) / 60);
    if (days >= 2) {
        return hours ? `${days}d ${hours}h` : `${days}d`;
    }
    const allHours = days * 24 + hours;
    if (allHours) {
        return minutes ? `${allHours}h ${minutes}m` : `${allHours}h`;
    }
    return `${minutes}m`;
}

/** An ISO-8601 instant in the user's time zone ('Fri 20 Nov, 16:40 CET'), or null. */
export function localTime(iso, locale, timeZone) {
    if (!iso) {
        return null;
    }
    // qmon writes microseconds when they are not zero; a Date reads milliseconds everywhere.
    const when = new Date(String(iso).replace(/(\.\d{3})\d+/, '$1'));
    if (Number.isNaN(when.getTime())) {
        return null;
    }
    const options = {
        weekday: 'short',
        day: 'numeric',
        month: 'short',
        hour: '2-digit',
        minute: '2-digit',
        timeZoneName: 'short'
    };
    const tag = String(locale || 'en').replace(/_/g, '-');
    try {
        return new Intl.DateTimeFormat(tag, { ...options, timeZone }).format(when);
    } catch (e) {
        return new Intl.DateTimeFormat('en', options).format(when);
    }
}

/** A status's badge: its words and SLDS theme; an unknown status (added within v1) is plain. */
export function statusBadge(status, w = WORDS.en) {
    const theme = {
        met: 'slds-theme_success',
        breached: 'slds-theme_error',
        open: 'slds-theme_info',
        not_evaluated: ''
    }[status];
    return { label: w.status[status] || String(status), className: theme || '' };
}

/** A link qmon gave, if it is http(s); anything else is not shown as a link. */
export function safeUrl(url) {
    return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
}

/** The template's view of one promise: everything precomputed (templates have no expressions). */
export function promiseView(promise, locale, timeZone, w = WORDS.en) {
    const badge = statusBadge(promise.status, w);
    const elapsed = duration(promise.elapsed_seconds);
    const hasClock = Boolean(promise.allowed_seconds);
    const percent = hasClock
        ? Math.min(100, Math.round((100 * promise.elapsed_seconds) / promise.allowed_seconds))
        : 0;
    const deadline = localTime(promise.deadline, locale, timeZone);
    const stopped = localTime(promise.stopped_at, locale, timeZone);
    return {
        key: `${promise.promise_id}/${promise.cycle}`,
        testId: `${promise.promise_id}-${promise.cycle}`,
        title: promise.title,
        meta: [promise.phase, promise.cycle > 1 ? w.cycle(promise.cycle) : null].filter(Boolean).join(' · '),
        statusLabel: badge.label,
        statusClass: badge.className,
        atRisk: Boolean(promise.at_risk),
        paused: Boolean(promise.paused),
        hasClock,
        percent,
        clockText: hasClock
            ? w.clock(elapsed, duration(promise.allowed_seconds))
            : w.notEvaluated(elapsed),
        deadlineText:
            (deadline || (promise.paused ? w.noDeadlinePaused : w.noDeadline)) +
            (stopped ? ` · ${w.stopped}: ${stopped}` : ''),
        instanceUrl: safeUrl(promise.instance_url)
    };
}

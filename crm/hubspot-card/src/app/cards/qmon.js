// What the qmon card does apart from drawing: the request, reading qmon's answer (the card
// JSON contract, version 1: docs/serve.md, "The CRM card API") and the words and numbers
// it shows. No React here, so the tests can check it directly too.

/** HubSpot object type ids qmon maps (qmon/web/cards.py HUBSPOT_SUBJECTS). */
export const OBJECT_TYPES = { '0-3': 'deal', '0-5': 'ticket' };

/** The contract version this card reads. */
export const CONTRACT_VERSION = 1;

/**
 * hubspot.fetch allows at most 15 s per request (connection included) and retries once on
 * a connection failure or a 5xx within that window; the card asks for 10 s so that a slow
 * qmon ends in the card's own error state, not HubSpot's.
 */
export const TIMEOUT_MS = 10000;

/** HubSpot refuses answers over 1 MB; the card checks too, so the reason is the right one. */
export const MAX_ANSWER_CHARS = 1000000;

/** A record with more instances than this shows the first ones and a link to the rest. */
export const MAX_SHOWN = 50;

const WORDS = {
  en: {
    status: { met: 'Kept', breached: 'Broken', open: 'Open', not_evaluated: 'Not evaluated' },
    atRisk: 'At risk',
    paused: 'Paused',
    cycle: (n) => `cycle ${n}`,
    clock: (elapsed, allowed) => `${elapsed} of ${allowed}`,
    clockTitle: 'Clock',
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
    wrongObject: 'The qmon card works on deals and tickets only.',
    noUrl: "qmon's address is not set: QMON_URL in src/app/cards/qmon-url.js (docs/crm-card.md).",
    unreachable: (why) => `qmon could not be reached (${why}). Is qmon serve running at its public URL?`,
    tooLarge: "qmon's answer is larger than HubSpot allows (1 MB).",
    notJson: (status) => `qmon answered HTTP ${status} without the card's JSON.`,
    badVersion: (v) => `qmon answered contract version ${v}; this card reads version ${CONTRACT_VERSION}. Update the card.`,
    refused: (status, message) => `qmon refused the request (HTTP ${status}): ${message}`,
    hint401: "Check that qmon's serve.hubspot_card holds this app's client secret, and qmon's clock.",
    hint404: 'Configure serve.hubspot_card in qmon (docs/serve.md).',
    busy: 'Too many requests at once (HubSpot allows 20 per app and account); try again shortly.',
  },
  nl: {
    status: { met: 'Gehaald', breached: 'Gebroken', open: 'Open', not_evaluated: 'Niet beoordeeld' },
    atRisk: 'In gevaar',
    paused: 'Gepauzeerd',
    cycle: (n) => `ronde ${n}`,
    clock: (elapsed, allowed) => `${elapsed} van ${allowed}`,
    clockTitle: 'Klok',
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
    wrongObject: 'De qmon-kaart werkt alleen op deals en tickets.',
    noUrl: 'Het adres van qmon is niet ingesteld: QMON_URL in src/app/cards/qmon-url.js (docs/crm-card.md).',
    unreachable: (why) => `qmon is niet bereikbaar (${why}). Draait qmon serve op zijn publieke adres?`,
    tooLarge: 'Het antwoord van qmon is groter dan HubSpot toestaat (1 MB).',
    notJson: (status) => `qmon antwoordde HTTP ${status} zonder de JSON van de kaart.`,
    badVersion: (v) => `qmon antwoordde contractversie ${v}; deze kaart leest versie ${CONTRACT_VERSION}. Werk de kaart bij.`,
    refused: (status, message) => `qmon weigerde het verzoek (HTTP ${status}): ${message}`,
    hint401: 'Controleer dat serve.hubspot_card in qmon het client secret van deze app bevat, en de klok van qmon.',
    hint404: 'Stel serve.hubspot_card in qmon in (docs/serve.md).',
    busy: 'Te veel verzoeken tegelijk (HubSpot staat er 20 per app en account toe); probeer het zo opnieuw.',
  },
};

/** The words for a HubSpot user locale ('nl-nl', 'en-us'...): Dutch or else English. */
export function words(locale) {
  return String(locale || '').toLowerCase().startsWith('nl') ? WORDS.nl : WORDS.en;
}

/** A card error: what the user reads, and the HTTP status if qmon answered one. */
export class CardError extends Error {
  constructor(message, status = null) {
    super(message);
    this.name = 'CardError';
    this.status = status;
  }
}

/** The URL of the record's card: `${base}/api/crm/hubspot/card?objectId=...&objectTypeId=...`. */
export function cardUrl(base, objectId, objectTypeId) {
  const query = new URLSearchParams({ objectId: String(objectId), objectTypeId: String(objectTypeId) });
  return `${String(base).replace(/\/+$/, '')}/api/crm/hubspot/card?${query}`;
}

/**
 * Asks qmon for the record's card with `fetcher` (hubspot.fetch) and returns the contract's
 * document, or throws a CardError saying what went wrong in the user's words.
 */
export async function loadCard(fetcher, base, crm, w = WORDS.en) {
  let response;
  try {
    response = await fetcher(cardUrl(base, crm.objectId, crm.objectTypeId), {
      method: 'GET',
      timeout: TIMEOUT_MS,
    });
  } catch (err) {
    throw new CardError(w.unreachable(err && err.message ? err.message : String(err)));
  }
  const status = response.status;
  if (status === 429) {
    throw new CardError(w.busy, status);
  }
  let text;
  try {
    text = typeof response.text === 'function' ? await response.text() : JSON.stringify(await response.json());
  } catch (err) {
    throw new CardError(w.notJson(status), status);
  }
  if (text.length > MAX_ANSWER_CHARS) {
    throw new CardError(w.tooLarge, status);
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new CardError(w.notJson(status), status);
  }
  if (!response.ok) {
    const message = body && typeof body.error === 'string' ? body.error : `HTTP ${status}`;
    const hint = status === 401 ? ` ${w.hint401}` : status === 404 ? ` ${w.hint404}` : '';
    throw new CardError(w.refused(status, message) + hint, status);
  }
  if (!body || typeof body !== 'object' || body.version !== CONTRACT_VERSION) {
    throw new CardError(w.badVersion(body && body.version), status);
  }
  if (!Array.isArray(body.promises) || !body.record || typeof body.record !== 'object') {
    throw new CardError(w.notJson(status), status);
  }
  return body;
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

/**
 * An ISO-8601 instant in the user's local time ('Fri 20 Nov, 16:40 CET'), or null.
 * `timeZone` undefined is the browser's own zone.
 */
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
    timeZoneName: 'short',
  };
  if (timeZone) {
    options.timeZone = timeZone;
  }
  let tag = String(locale || 'en').replace('_', '-');
  try {
    return new Intl.DateTimeFormat(tag, options).format(when);
  } catch (err) {
    return new Intl.DateTimeFormat('en', options).format(when);
  }
}

/** The StatusTag variant of a status; an unknown status (added within v1) is 'default'. */
export function statusVariant(status) {
  return { met: 'success', breached: 'danger', open: 'info', not_evaluated: 'default' }[status] || 'default';
}

/** The status's words; an unknown status shows as qmon named it. */
export function statusLabel(status, w = WORDS.en) {
  return w.status[status] || String(status);
}

/** The ProgressBar variant of a clock: danger when broken, warning at risk, else success. */
export function clockVariant(promise) {
  if (promise.status === 'breached') {
    return 'danger';
  }
  return promise.at_risk ? 'warning' : 'success';
}

/** A link qmon gave, if it is http(s); anything else is not shown as a link. */
export function safeUrl(url) {
  return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
}

/** What the deadline line says for a promise. */
export function deadlineText(promise, locale, timeZone, w = WORDS.en) {
  const shown = localTime(promise.deadline, locale, timeZone);
  if (shown) {
    return shown;
  }
  return promise.paused ? w.noDeadlinePaused : w.noDeadline;
}

// The card rendered with HubSpot's own test renderer (@hubspot/ui-extensions/testing), its
// hubspot.fetch answered with the contract's example (docs/serve.md, test/fixtures), an
// empty record, and errors.
import React from 'react';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Button,
  EmptyState,
  ErrorState,
  hubspot,
  Link,
  LoadingSpinner,
  ProgressBar,
  StatusTag,
  Tag,
  Text,
  Tile,
} from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';

import { QmonCard } from '../src/app/cards/QmonCard.jsx';
import { QMON_URL } from '../src/app/cards/qmon-url.js';

const fixture = (name) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const EXAMPLE = fixture('card-example.json');
const STATUSES = fixture('card-statuses.json');
const DEAL = { objectId: 18342115221, objectTypeId: '0-3' };

const answer = (body, status = 200) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });

/** Renders the card on a record with hubspot.fetch mocked to `fetchImpl`. */
function renderCard(fetchImpl, { crm = DEAL, locale = 'en-gb' } = {}) {
  const fetch = vi.spyOn(hubspot, 'fetch').mockImplementation(fetchImpl);
  const renderer = createRenderer('crm.record.tab');
  const context = { ...renderer.mocks.context, crm, user: { ...renderer.mocks.context.user, locale } };
  renderer.render(<QmonCard context={context} />);
  return { ...renderer, fetch };
}

/** All the text a rendered node shows, its descendants' included, in order. */
function textOf(node) {
  if (node.nodeType === 'text') {
    return node.text;
  }
  return (node.childNodes || []).map(textOf).join('');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the qmon card', () => {
  it("asks qmon for the record with hubspot.fetch, within HubSpot's limits", async () => {
    const { fetch, waitFor, find } = renderCard(async () => answer(EXAMPLE));
    await waitFor(() => find(Tile));
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, options] = fetch.mock.calls[0];
    expect(url).toBe(`${QMON_URL}/api/crm/hubspot/card?objectId=18342115221&objectTypeId=0-3`);
    expect(options.method).toBe('GET');
    expect(options.timeout).toBeLessThanOrEqual(15000);
  });

  it("shows the contract's example: title, status, clock, deadline, at risk, link", async () => {
    const { waitFor, find, findAll, findByTestId } = renderCard(async () => answer(EXAMPLE));
    await waitFor(() => find(Tile));
    expect(findAll(Tile)).toHaveLength(1);
    const id = 'qmon-promise-quote-24h-1';
    const tile = findByTestId(Tile, id);
    expect(textOf(tile)).toContain('Offerte binnen 24 uur verstuurd');
    expect(textOf(tile)).toContain('sales');
    const status = findByTestId(StatusTag, `${id}-status`);
    expect(status.text).toBe('Open');
    expect(status.props.variant).toBe('info');
    expect(findByTestId(Tag, `${id}-at-risk`).text).toBe('At risk');
    expect(findByTestId(Tag, `${id}-at-risk`).props.variant).toBe('warning');
    const clock = findByTestId(ProgressBar, `${id}-clock`);
    expect(clock.props.value).toBe(77712);
    expect(clock.props.maxValue).toBe(86400);
    expect(clock.props.valueDescription).toBe('21h 35m of 24h');
    expect(clock.props.variant).toBe('warning');
    // 16:40 at +01:00, shown in the user's zone (Europe/Amsterdam here).
    const deadline = textOf(findByTestId(Text, `${id}-deadline`));
    expect(deadline).toContain('Deadline:');
    expect(deadline).toMatch(/Fri.*20.*Nov.*16:40.*(CET|GMT\+1)/);
    const link = findByTestId(Link, `${id}-link`);
    expect(link.props.href).toEqual({ url: EXAMPLE.promises[0].instance_url, external: true });
    expect(link.text).toBe('Open in qmon');
    expect(findByTestId(Link, 'qmon-record').props.href.url).toBe(EXAMPLE.record.url);
    expect(textOf(findByTestId(Text, 'qmon-as-of'))).toMatch(/15:05/);
  });

  it('shows every status with its own variant, paused and not evaluated', async () => {
    const { waitFor, find, findAll, findByTestId, maybeFind, maybeFindByTestId } = renderCard(async () =>
      answer(STATUSES),
    );
    await waitFor(() => find(Tile));
    expect(findAll(Tile)).toHaveLength(4);
    const tag = (id) => findByTestId(StatusTag, `qmon-promise-${id}-status`);
    expect([tag('quote-24h-2').text, tag('quote-24h-2').props.variant]).toEqual(['Broken', 'danger']);
    expect([tag('quote-24h-1').text, tag('quote-24h-1').props.variant]).toEqual(['Kept', 'success']);
    expect([tag('follow-up-2bd-1').text, tag('follow-up-2bd-1').props.variant]).toEqual(['Open', 'info']);
    const notEvaluated = tag('delivery-on-promised-date-1');
    expect([notEvaluated.text, notEvaluated.props.variant]).toEqual(['Not evaluated', 'default']);
    // Broken: the bar is full and red, the text says by how much.
    const broken = findByTestId(ProgressBar, 'qmon-promise-quote-24h-2-clock');
    expect([broken.props.value, broken.props.variant, broken.props.valueDescription]).toEqual([
      86400,
      'danger',
      '26h 15m of 24h',
    ]);
    expect(textOf(findByTestId(Tile, 'qmon-promise-quote-24h-2'))).toContain('cycle 2');
    // Kept: when it stopped.
    expect(textOf(findByTestId(Text, 'qmon-promise-quote-24h-1-deadline'))).toMatch(/Stopped: .*15:30/);
    // Paused: no deadline while the clock stands still.
    expect(findByTestId(Tag, 'qmon-promise-follow-up-2bd-1-paused').text).toBe('Paused');
    expect(textOf(findByTestId(Text, 'qmon-promise-follow-up-2bd-1-deadline'))).toContain(
      'none while the clock is paused',
    );
    expect(maybeFindByTestId(Tag, 'qmon-promise-follow-up-2bd-1-at-risk')).toBeNull();
    // Not evaluated: no allowance, so no bar.
    expect(maybeFind(ProgressBar, { testId: 'qmon-promise-delivery-on-promised-date-1-clock' })).toBeNull();
    expect(textOf(findByTestId(Text, 'qmon-promise-delivery-on-promised-date-1-clock'))).toContain('not evaluated');
  });

  it('says so when qmon knows no promise about the record', async () => {
    const { waitFor, find, maybeFind } = renderCard(async () => answer({ ...EXAMPLE, promises: [] }));
    await waitFor(() => find(EmptyState));
    const empty = find(EmptyState);
    expect(empty.props.title).toBe('No promises on this record');
    expect(empty.find(Link).props.href.url).toBe(EXAMPLE.record.url);
    expect(maybeFind(Tile)).toBeNull();
  });

  it("shows qmon's refusal and a way to try again", async () => {
    let calls = 0;
    const { waitFor, find, fetch } = renderCard(async () => {
      calls += 1;
      return calls === 1 ? answer({ error: 'the signature does not match the request' }, 401) : answer(EXAMPLE);
    });
    await waitFor(() => find(ErrorState));
    const error = find(ErrorState);
    expect(error.props.title).toBe('qmon could not show this record');
    expect(textOf(error)).toContain('HTTP 401');
    expect(textOf(error)).toContain('the signature does not match the request');
    expect(textOf(error)).toContain('serve.hubspot_card');
    find(Button).trigger('onClick');
    await waitFor(() => find(Tile));
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('shows an error when qmon cannot be reached', async () => {
    const { waitFor, find } = renderCard(async () => {
      throw new Error('timeout after 10000 ms');
    });
    await waitFor(() => find(ErrorState));
    expect(textOf(find(ErrorState))).toContain('qmon could not be reached (timeout after 10000 ms)');
  });

  it('refuses an answer it cannot read', async () => {
    for (const [body, expected] of [
      ['<html>proxy error</html>', 'HTTP 200 without the card'],
      [{ ...EXAMPLE, version: 2 }, 'contract version 2'],
      ['x'.repeat(1000001), 'larger than HubSpot allows'],
    ]) {
      const { waitFor, find } = renderCard(async () => answer(body));
      await waitFor(() => find(ErrorState));
      expect(textOf(find(ErrorState))).toContain(expected);
      vi.restoreAllMocks();
    }
  });

  it('shows only deals and tickets, without asking qmon about anything else', async () => {
    const { waitFor, find, fetch } = renderCard(async () => answer(EXAMPLE), {
      crm: { objectId: 1, objectTypeId: '0-1' },
    });
    await waitFor(() => find(ErrorState));
    expect(textOf(find(ErrorState))).toContain('deals and tickets only');
    expect(fetch).not.toHaveBeenCalled();
  });

  it('asks for a ticket by its own type id', async () => {
    const { waitFor, find, fetch } = renderCard(async () => answer({ ...EXAMPLE, promises: [] }), {
      crm: { objectId: 777, objectTypeId: '0-5' },
    });
    await waitFor(() => find(EmptyState));
    expect(fetch.mock.calls[0][0]).toBe(`${QMON_URL}/api/crm/hubspot/card?objectId=777&objectTypeId=0-5`);
  });

  it('speaks Dutch to a Dutch user', async () => {
    const { waitFor, find, findByTestId } = renderCard(async () => answer(EXAMPLE), { locale: 'nl-nl' });
    await waitFor(() => find(Tile));
    expect(findByTestId(Tag, 'qmon-promise-quote-24h-1-at-risk').text).toBe('In gevaar');
    expect(findByTestId(ProgressBar, 'qmon-promise-quote-24h-1-clock').props.valueDescription).toBe(
      '21h 35m van 24h',
    );
    expect(findByTestId(Link, 'qmon-promise-quote-24h-1-link').text).toBe('Openen in qmon');
  });

  it('shows a spinner while it waits', () => {
    const { find } = renderCard(() => new Promise(() => {}));
    expect(find(LoadingSpinner).props.label).toContain('Loading');
  });

  it('shows at most 50 promises and links to the rest', async () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ ...EXAMPLE.promises[0], cycle: 60 - i }));
    const { waitFor, find, findAll, findByTestId } = renderCard(async () => answer({ ...EXAMPLE, promises: many }));
    await waitFor(() => find(Tile));
    expect(findAll(Tile)).toHaveLength(50);
    expect(findByTestId(Link, 'qmon-record').text).toBe('10 more in qmon');
  });
});

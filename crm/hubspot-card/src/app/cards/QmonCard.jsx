// qmon's app card on HubSpot deal and ticket records: the record's promises as qmon serve
// evaluates them (GET /api/crm/hubspot/card, signed by HubSpot with the app's client secret
// and checked by qmon). docs/crm-card.md says what it shows and how to install it.
import React, { useCallback, useEffect, useState } from 'react';
import {
  Button,
  EmptyState,
  ErrorState,
  Flex,
  Heading,
  hubspot,
  Link,
  LoadingSpinner,
  ProgressBar,
  StatusTag,
  Tag,
  Text,
  Tile,
} from '@hubspot/ui-extensions';

import {
  clockVariant,
  deadlineText,
  duration,
  loadCard,
  localTime,
  MAX_SHOWN,
  OBJECT_TYPES,
  safeUrl,
  statusLabel,
  statusVariant,
  words,
} from './qmon.js';
import { QMON_URL } from './qmon-url.js';

hubspot.extend(({ context }) => <QmonCard context={context} />);

/** hubspot.fetch, looked up when called (so that a test can put a mock in its place). */
const hubspotFetch = (url, options) => hubspot.fetch(url, options);

export function QmonCard({ context, baseUrl = QMON_URL, fetcher = hubspotFetch, timeZone }) {
  const locale = context && context.user ? context.user.locale : undefined;
  const w = words(locale);
  const crm = (context && context.crm) || {};
  const [state, setState] = useState({ phase: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const retry = useCallback(() => setAttempt((n) => n + 1), []);

  useEffect(() => {
    let current = true;
    if (!baseUrl) {
      setState({ phase: 'error', message: w.noUrl });
      return undefined;
    }
    if (!OBJECT_TYPES[String(crm.objectTypeId)]) {
      setState({ phase: 'error', message: w.wrongObject });
      return undefined;
    }
    setState({ phase: 'loading' });
    loadCard(fetcher, baseUrl, crm, w).then(
      (card) => current && setState({ phase: 'ready', card }),
      (err) => current && setState({ phase: 'error', message: err.message, status: err.status }),
    );
    return () => {
      current = false;
    };
  }, [baseUrl, crm.objectId, crm.objectTypeId, fetcher, attempt]);

  if (state.phase === 'loading') {
    return <LoadingSpinner label={w.loading} showLabel={true} testId="qmon-loading" />;
  }
  if (state.phase === 'error') {
    return (
      <ErrorState title={w.errorTitle} testId="qmon-error">
        <Text>{state.message}</Text>
        <Button onClick={retry} testId="qmon-retry">
          {w.retry}
        </Button>
      </ErrorState>
    );
  }
  return <Card card={state.card} locale={locale} timeZone={timeZone} w={w} />;
}

function Card({ card, locale, timeZone, w }) {
  const recordUrl = safeUrl(card.record.url);
  const asOf = localTime(card.as_of, locale, timeZone);
  const shown = card.promises.slice(0, MAX_SHOWN);
  const hidden = card.promises.length - shown.length;
  if (!shown.length) {
    return (
      <EmptyState title={w.emptyTitle} layout="vertical" imageName="target" testId="qmon-empty">
        <Text>{w.emptyText}</Text>
        {recordUrl ? <Link href={{ url: recordUrl, external: true }}>{w.record}</Link> : null}
      </EmptyState>
    );
  }
  return (
    <Flex direction="column" gap="sm" testId="qmon-card">
      {shown.map((promise) => (
        <PromiseTile
          key={`${promise.promise_id}/${promise.cycle}`}
          promise={promise}
          locale={locale}
          timeZone={timeZone}
          w={w}
        />
      ))}
      <Flex direction="row" gap="md" justify="between" wrap={true}>
        {recordUrl ? (
          <Link href={{ url: recordUrl, external: true }} testId="qmon-record">
            {hidden > 0 ? w.more(hidden) : w.record}
          </Link>
        ) : null}
        {asOf ? (
          <Text variant="microcopy" testId="qmon-as-of">
            {w.asOf(asOf)}
          </Text>
        ) : null}
      </Flex>
    </Flex>
  );
}

function PromiseTile({ promise, locale, timeZone, w }) {
  const instanceUrl = safeUrl(promise.instance_url);
  const testId = `qmon-promise-${promise.promise_id}-${promise.cycle}`;
  const elapsed = duration(promise.elapsed_seconds);
  const stopped = localTime(promise.stopped_at, locale, timeZone);
  return (
    <Tile compact={true} testId={testId}>
      <Flex direction="column" gap="xs">
        <Flex direction="row" gap="sm" align="center" wrap={true}>
          <Heading>{promise.title}</Heading>
          <StatusTag variant={statusVariant(promise.status)} testId={`${testId}-status`}>
            {statusLabel(promise.status, w)}
          </StatusTag>
          {promise.at_risk ? (
            <Tag variant="warning" testId={`${testId}-at-risk`}>
              {w.atRisk}
            </Tag>
          ) : null}
          {promise.paused ? (
            <Tag variant="default" testId={`${testId}-paused`}>
              {w.paused}
            </Tag>
          ) : null}
        </Flex>
        <Text variant="microcopy">
          {[promise.phase, promise.cycle > 1 ? w.cycle(promise.cycle) : null].filter(Boolean).join(' · ')}
        </Text>
        {promise.allowed_seconds ? (
          <ProgressBar
            title={w.clockTitle}
            value={Math.min(promise.elapsed_seconds, promise.allowed_seconds)}
            maxValue={promise.allowed_seconds}
            valueDescription={w.clock(elapsed, duration(promise.allowed_seconds))}
            variant={clockVariant(promise)}
            testId={`${testId}-clock`}
          />
        ) : (
          <Text testId={`${testId}-clock`}>{w.notEvaluated(elapsed)}</Text>
        )}
        <Text testId={`${testId}-deadline`}>
          <Text inline={true} format={{ fontWeight: 'demibold' }}>
            {w.deadline}:
          </Text>{' '}
          {deadlineText(promise, locale, timeZone, w)}
          {stopped ? ` · ${w.stopped}: ${stopped}` : ''}
        </Text>
        {instanceUrl ? (
          <Link href={{ url: instanceUrl, external: true }} testId={`${testId}-link`}>
            {w.open}
          </Link>
        ) : null}
      </Flex>
    </Tile>
  );
}

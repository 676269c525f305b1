// qmon's address as HubSpot reaches it: `serve.public_url` (https, no path, no trailing
// slash). It must also stand in `permittedUrls.fetch` of ../app-hsmeta.json, or HubSpot
// refuses the card's request (docs/crm-card.md). tests/test_crm_cards_js.py keeps the two
// equal.
export const QMON_URL = 'https://qmon.example.com';

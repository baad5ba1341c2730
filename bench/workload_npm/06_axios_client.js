/**
 * Bench: an action with an npm dependency (axios 1.7.8 and its 25 dependencies, served by the
 * bench's local registry from bench/npm_registry/). Its module scope builds an API client, as
 * real actions do; the handler makes no call (the egress flow measures outbound requests).
 */
const axios = require('axios');

const risk = axios.create({ baseURL: 'https://risk.example.com', timeout: 1500, headers: { 'X-Client': 'login' } });

exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://example.com/risk_client', typeof risk.get === 'function');
};

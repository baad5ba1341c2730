// Egress flow (bench/workload/README.md): bound after the three standard actions, it makes one
// outbound call per login, the way published actions call a risk or CRM API: the URL and token
// from secrets, a timeout that fails open, the JSON answer turned into a claim.
exports.onExecutePostLogin = async (event, api) => {
  let score = null;
  try {
    const res = await fetch(`${event.secrets.RISK_API}/score?ip=${encodeURIComponent(event.request.ip)}`, {
      headers: { authorization: `Bearer ${event.secrets.RISK_TOKEN}`, accept: "application/json" },
      signal: AbortSignal.timeout(1500),
    });
    if (res.ok) score = (await res.json()).score;
  } catch (err) {
    console.log(`risk API unavailable: ${err.message}`);
  }
  api.idToken.setCustomClaim("https://example.com/risk", score);
};

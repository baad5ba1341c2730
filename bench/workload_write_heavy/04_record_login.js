// Write-heavy flow (bench/workload/README.md): bound after the three standard actions, it makes
// every execution write: the login's IP into user_metadata and the login count into app_metadata.
exports.onExecutePostLogin = async (event, api) => {
  api.user.setUserMetadata("last_login_ip", event.request.ip);
  api.user.setAppMetadata("logins", event.stats.logins_count);
};

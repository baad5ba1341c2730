// actions.d.ts: TypeScript declarations for actionhost's post-login (v3) Actions.
//
// What it describes
//   - `event`: the post-login event as Auth0 documents it (PostLoginEvent).
//   - `api`: the post-login `api` object exactly as runtime_js/80_api_post_login.js implements
//     it (PostLoginAPI), including return values: most setters return `api` for chaining.
//   - the handler types OnExecutePostLogin / OnContinuePostLogin.
//   - the globals the runtime gives actions beyond ECMAScript (console, timers, URL, TextEncoder,
//     atob/btoa, crypto, ...), for editors that check against lib "es2023" without lib.dom.
//   It is only for editors and type checkers: the runtime does not load it, and action code
//   stays plain JavaScript (Auth0 does not run TypeScript either).
//
// Use it from an action file (plain JavaScript, checked through JSDoc)
//   Put `// @ts-check` at the top of the file, or add a jsconfig.json next to it:
//     { "compilerOptions": { "checkJs": true, "strict": true, "target": "es2023", "lib": ["es2023"], "types": [] } }
//   ("types": [] keeps @types/node out: actions cannot use Node modules, and its globals clash.)
//   Then either import the types (the path is relative to the action file):
//     /** @type {import('./actions').OnExecutePostLogin} */
//     exports.onExecutePostLogin = async (event, api) => { ... };
//   or reference this file once and use the global namespace:
//     /// <reference path="./actions.d.ts" />
//     /** @type {ActionsPostLogin.OnExecutePostLogin} */
//     exports.onExecutePostLogin = async (event, api) => { ... };
//   Every type is in the global namespace `ActionsPostLogin`; the main ones are also exported
//   from this module (`import('./actions').PostLoginAPI`, `import('./actions').CacheRecord`).
//
// Notes
//   - actionhost runs the event its caller sends. Fields typed as required are the ones Auth0
//     always sends; a hand-written test event may leave them out. The runtime itself guarantees
//     only `event.user.app_metadata`, `event.user.user_metadata`, `event.transaction.metadata`
//     and `event.secrets`.
//   - Auth0's `api.validation`, `api.groups`, `api.roles` and `api.redirect.canRedirect()` are not
//     implemented by actionhost, so they are not declared here.
//   - `require()` of any module throws MODULE_NOT_FOUND in actionhost, so @types/node does not
//     apply (and conflicts with the globals below). lib.dom, an editor's default, is fine.

declare global {
  namespace ActionsPostLogin {
    // ---- Handlers --------------------------------------------------------------------------

    /** A post-login handler: an async function (the usual form; actionhost logs a warning for a plain one). */
    type PostLoginHandler = (event: PostLoginEvent, api: PostLoginAPI) => Promise<void> | void;
    // The handler types below accept exactly the functions PostLoginHandler accepts. The extra
    // async-only member of the union is there because TypeScript requires an `async` function
    // annotated with `@type {SomeName}` to have a declared return type of exactly Promise<T>,
    // unless the annotation's type is a union.
    /** `exports.onExecutePostLogin`: runs for every login passing through the flow. */
    type OnExecutePostLogin = PostLoginHandler | ((event: PostLoginEvent, api: PostLoginAPI) => Promise<void>);
    /** `exports.onContinuePostLogin`: runs in the same Action when the user comes back to `/continue` after `api.redirect.sendUserTo()`. */
    type OnContinuePostLogin = PostLoginHandler | ((event: PostLoginEvent, api: PostLoginAPI) => Promise<void>);

    /** The shape of a post-login Action's `module.exports`. */
    interface PostLoginModule {
      /** Called for every login. */
      onExecutePostLogin?: OnExecutePostLogin;
      /** Called after a redirect, when the user returns to `/continue`. */
      onContinuePostLogin?: OnContinuePostLogin;
    }

    // ---- event -----------------------------------------------------------------------------

    /** A JSON object with arbitrary keys (metadata, query strings, bodies). */
    type Dictionary<T = any> = { [key: string]: T };

    /** The post-login `event`: context about the login, a fresh deep copy for each Action. */
    interface PostLoginEvent {
      /** [Early Access] The agent (`agt_...`) of the transaction, when there is one. */
      agent?: Agent;
      /** Authentication signals obtained during the login flow. */
      authentication?: Authentication;
      /** Authorization granted to the user who is logging in. */
      authorization?: Authorization;
      /** The application the login transaction was started by. */
      client: Client;
      /** The connection used to authenticate the user. */
      connection: Connection;
      /** The custom domain of the transaction, when one is used. */
      custom_domain?: CustomDomain;
      /** The Organization of the transaction, when there is one. */
      organization?: Organization;
      /** Data collected by a custom prompt rendered with `api.prompt.render()`. */
      prompt?: PromptData;
      /** [Enterprise] The refresh token being exchanged (refresh token flows only). */
      refresh_token?: RefreshToken;
      /** The request that started the transaction (a new one after each redirect or MFA). */
      request: Request;
      /** The API (resource server) access is being requested for. */
      resource_server?: ResourceServer;
      /** The secrets of this Action, by name (read-only). */
      readonly secrets: Secrets;
      /** TLS fingerprints, when the request came through Cloudflare. */
      security_context?: SecurityContext;
      /** The current login session, when there is one. */
      session?: Session;
      /** [Private Early Access] The session transfer token used for native-to-web SSO. */
      session_transfer_token?: SessionTransferToken;
      /** Login statistics for the user. */
      stats: Stats;
      /** The tenant of the transaction. */
      tenant: Tenant;
      /** The current transaction (actionhost always provides it, with `metadata`). */
      transaction: Transaction;
      /** The user the transaction is for. */
      user: User;
    }

    /** Secret values attached to the Action, by name. */
    interface Secrets {
      readonly [secretName: string]: string;
    }

    /** `event.agent`. */
    interface Agent {
      /** The agent's id (`agt_...`). */
      id: string;
      /** The agent's metadata; an empty object when it has none. */
      metadata: Dictionary<string>;
    }

    /** `event.authentication`. */
    interface Authentication {
      /** The authentication methods the user has completed in this session. */
      methods: AuthenticationMethod[];
      /** Risk assessments made during the login. */
      riskAssessment?: RiskAssessment;
    }

    /** One completed authentication method. */
    interface AuthenticationMethod {
      /** `federated`, `pwd`, `passkey`, `sms`, `email`, `phone_number`, `mock`, `mfa`, or the URL recorded with `api.authentication.recordMethod()`. */
      name: "federated" | "pwd" | "passkey" | "sms" | "email" | "phone_number" | "mock" | "mfa" | (string & {});
      /** When it was completed (ISO 8601). */
      timestamp: string;
    }

    /** The confidence of a risk assessment. */
    type RiskConfidence = "low" | "medium" | "high" | "neutral";

    /** `event.authentication.riskAssessment`. */
    interface RiskAssessment {
      /** Overall risk. */
      confidence: RiskConfidence;
      /** Version of the assessment. */
      version: string;
      /** The individual assessments. */
      assessments: {
        /** Whether the location signals impossible travel. */
        ImpossibleTravel?: {
          code:
            | "minimal_travel_from_last_login" | "travel_from_last_login" | "substantial_travel_from_last_login"
            | "impossible_travel_from_last_login" | "invalid_travel" | "missing_geoip" | "anonymous_proxy"
            | "unknown_location" | "initial_login" | "location_history_not_found" | "assessment_not_available";
          confidence: RiskConfidence;
        };
        /** Whether the device is known. */
        NewDevice?: {
          code: "initial_login" | "assessment_not_available" | "match" | "partial_match" | "no_match" | "unknown_device" | "no_device_history";
          confidence: RiskConfidence;
          details?: { device?: "known" | "unknown"; useragent?: "known" | "unknown" };
        };
        /** Whether the IP is on Auth0's list of low-reputation IPs. */
        UntrustedIP?: {
          code: "assessment_not_available" | "not_found_on_deny_list" | "found_on_deny_list" | "invalid_ip_address";
          confidence: RiskConfidence;
          details?: { category?: string; ip?: string; matches?: string; source?: string };
        };
      };
      /** [Limited Early Access] Supplemental assessments (Akamai). */
      supplemental?: {
        akamai?: {
          akamaiBot?: {
            type?: string; action?: string; botCategory?: string[]; botScore?: number;
            botScoreResponseSegment?: string; botnetId?: string;
          };
          akamaiUserRisk?: {
            action?: string; allow?: number; emailDomain?: string; general?: Dictionary; ouid?: string;
            requestid?: string; risk?: Dictionary; score?: number; status?: number; trust?: Dictionary;
            username?: string; uuid?: string;
          };
        };
      };
    }

    /** `event.authorization`. */
    interface Authorization {
      /** The names of the user's assigned roles. */
      roles: string[];
    }

    /** `event.client`. */
    interface Client {
      /** The application's client id. */
      client_id: string;
      /** The application's name in the Dashboard. */
      name: string;
      /** The application's metadata. */
      metadata: Dictionary<string>;
      /** [Private Early Access] Refresh token configuration (multi-resource refresh token policies). */
      refresh_token?: { policies?: Array<{ audience?: string; scope?: string[] }> };
    }

    /** `event.connection`. */
    interface Connection {
      /** The connection's id. */
      id: string;
      /** The connection's name (e.g. `Username-Password-Authentication`, `google-oauth2`). */
      name: string;
      /** The connection type: `auth0` (database), `ad`, `waad`, ...; equals `name` for social connections. */
      strategy: string;
      /** The connection's metadata. */
      metadata?: Dictionary<string>;
    }

    /** `event.custom_domain`. */
    interface CustomDomain {
      /** The custom domain name. */
      domain: string;
      /** The custom domain's metadata. */
      domain_metadata: Dictionary<string>;
    }

    /** `event.organization`. */
    interface Organization {
      /** The Organization id. */
      id: string;
      /** The Organization name. */
      name: string;
      /** The Organization's friendly name. */
      display_name: string;
      /** The Organization's metadata. */
      metadata: Dictionary<string>;
    }

    /** `event.prompt`. */
    interface PromptData {
      /** The prompt id. */
      id: string;
      /** Field and hidden-field values. */
      fields?: Dictionary;
      /** Shared variables. */
      vars?: Dictionary;
    }

    /** Device details of a session or refresh token. */
    interface DeviceInfo {
      /** First autonomous system number. */
      initial_asn?: string;
      /** First IP address. */
      initial_ip?: string;
      /** First user agent. */
      initial_user_agent?: string;
      /** Last autonomous system number. */
      last_asn?: string;
      /** Last IP address. */
      last_ip?: string;
      /** Last user agent. */
      last_user_agent?: string;
    }

    /** `event.refresh_token`. */
    interface RefreshToken {
      /** The refresh token's id. */
      id: string;
      /** `"online"` for online refresh tokens: their expiry and metadata cannot be changed. */
      access?: "online" | "offline" | (string & {});
      /** The client the token was issued to. */
      client_id?: string;
      /** When it was created. */
      created_at: string;
      /** Device details. */
      device?: DeviceInfo;
      /** When it expires absolutely. */
      expires_at?: string;
      /** When it expires if idle. */
      idle_expires_at?: string;
      /** When it was last exchanged. */
      last_exchanged_at?: string;
      /** Its metadata. */
      metadata?: Dictionary<string>;
      /** The audiences and scopes it covers. */
      resource_servers?: Array<{ audience: string; scopes: string }>;
      /** Whether it is a rotating refresh token. */
      rotating?: boolean;
      /** The session it is bound to. */
      session_id?: string;
      /** Set when it comes from a session transfer (native-to-web SSO). */
      session_transfer?: { parent_refresh_token?: { id?: string } };
      /** The user it is bound to. */
      user_id?: string;
    }

    /** Geolocation of the request's IP. */
    interface GeoIp {
      cityName?: string;
      continentCode?: string;
      countryCode?: string;
      countryCode3?: string;
      countryName?: string;
      latitude?: number;
      longitude?: number;
      subdivisionCode?: string;
      subdivisionName?: string;
      timeZone?: string;
    }

    /** `event.request`. */
    interface Request {
      /** The originating IP address. */
      ip: string;
      /** The HTTP method. */
      method: string;
      /** The hostname of the authentication flow (the tenant or custom domain). */
      hostname?: string;
      /** The language requested by the browser. */
      language?: string;
      /** The `User-Agent` header. */
      user_agent?: string;
      /** The autonomous system number of the client. */
      asn?: string;
      /** The query string parameters of the authorization request. */
      query: Dictionary;
      /** The POST body (e.g. the form posted to `/continue`). */
      body: Dictionary;
      /** Geolocation of `ip`. */
      geoip: GeoIp;
    }

    /** `event.resource_server`. */
    interface ResourceServer {
      /** The API identifier (audience), e.g. `https://api.example.com`. */
      identifier: string;
    }

    /** `event.security_context`. */
    interface SecurityContext {
      /** JA3 TLS fingerprint. */
      ja3?: string;
      /** JA4 TLS fingerprint. */
      ja4?: string;
    }

    /** `event.session`. */
    interface Session {
      /** The session id. */
      id: string;
      /** When the session was last authenticated. */
      authenticated_at?: string;
      /** The clients of the session. */
      clients?: Array<{ client_id: string }>;
      /** How the session cookie persists. */
      cookie?: { mode: "persistent" | "non-persistent" };
      /** When the session was created. */
      created_at?: string;
      /** Device details. */
      device?: DeviceInfo;
      /** When the session expires. */
      expires_at?: string;
      /** When the session expires if idle. */
      idle_expires_at?: string;
      /** When the session was last interacted with. */
      last_interacted_at?: string;
      /** The session's metadata (see `api.session.setMetadata()`). */
      metadata?: Dictionary<string>;
      /** Set when the session comes from a session transfer token. */
      session_transfer?: { parent_refresh_token?: { id?: string; metadata?: Dictionary<string> } };
      /** When the session was last updated. */
      updated_at?: string;
      /** The session's user. */
      user_id?: string;
    }

    /** `event.session_transfer_token`. */
    interface SessionTransferToken {
      /** The client that issued the token. */
      client_id: string;
      /** The request that issued the token. */
      request: { asn?: string; geoip?: GeoIp; ip: string; user_agent?: string };
      /** The scopes requested when the token was issued. */
      scope: string[];
    }

    /** `event.stats`. */
    interface Stats {
      /** How many times the user has logged in. */
      logins_count: number;
    }

    /** `event.tenant`. */
    interface Tenant {
      /** The tenant name. */
      id: string;
    }

    /** The protocol of a transaction. */
    type TransactionProtocol =
      | "oidc-basic-profile" | "oidc-ciba" | "oidc-ciba-web-link" | "oidc-implicit-profile" | "oauth2-device-code"
      | "oauth2-resource-owner" | "oauth2-resource-owner-jwt-bearer" | "oauth2-password" | "oauth2-webauthn"
      | "oauth2-access-token" | "oauth2-refresh-token" | "oauth2-token-exchange" | "oidc-hybrid-profile"
      | "samlp" | "wsfed" | "wstrust-usernamemixed";

    /** A value of the transaction metadata. */
    type TransactionMetadataValue = string | number | boolean;

    /** A token-exchange actor, possibly acting for another (`act`). */
    interface Actor {
      /** The actor's subject identifier. */
      sub: string;
      /** The next actor in the delegation chain. */
      act?: Actor;
    }

    /** `event.transaction`. */
    interface Transaction {
      /** The transaction id (browser-based flows). */
      id?: string;
      /** The `acr_values` of the authentication request. */
      acr_values?: string[];
      /** The correlation id given in the authentication request. */
      correlation_id?: string;
      /** Dynamic Linking id of the transaction. */
      linking_id?: string;
      /** The locale chosen for the transaction. */
      locale?: string;
      /** The `login_hint` of the authentication request. */
      login_hint?: string;
      /** Data shared across the Actions of this transaction (live: see `api.transaction.setMetadata()`). */
      metadata: Dictionary<TransactionMetadataValue>;
      /** The `prompt` values of the authentication request. */
      prompt?: string[];
      /** The protocol of the transaction. */
      protocol?: TransactionProtocol;
      /** Where Auth0 redirects the browser when the transaction completes. */
      redirect_uri?: string;
      /** Rich Authorization Request details. */
      requested_authorization_details?: Array<{ type: string; [key: string]: unknown }>;
      /** The scopes requested. */
      requested_scopes?: string[];
      /** The `response_mode` of the authentication request. */
      response_mode?: "query" | "fragment" | "form_post" | "web_message";
      /** The `response_type` of the authentication request. */
      response_type?: string[];
      /** The `state` of the authentication request. */
      state?: string;
      /** The `ui_locales` of the authentication request. */
      ui_locales?: string[];
      /** The actor of a token exchange request. */
      actor?: Actor;
      /** The subject token type of a token exchange request. */
      subject_token_type?: string;
    }

    /** One identity (connection account) of the user. */
    interface Identity {
      /** The connection name. */
      connection?: string;
      /** Whether the connection is social. */
      isSocial?: boolean;
      /** The identity's profile (for linked, secondary identities). */
      profileData?: Dictionary;
      /** The identity provider (e.g. `auth0`, `google-oauth2`). */
      provider?: string;
      /** The user's id at that provider. */
      user_id?: string;
    }

    /** An enrolled MFA factor. */
    interface EnrolledFactor {
      /** The factor type, e.g. `otp`, `phone`, `push-notification`, `webauthn-roaming`. */
      type: string;
      /** Details of this enrollment. */
      options?: Dictionary;
    }

    /** `event.user`. */
    interface User {
      /** The user's unique id, e.g. `auth0|5f7c8ec7c33c6c004bbafe82`. */
      user_id: string;
      /** Metadata that affects access (plans, roles...); change it with `api.user.setAppMetadata()`. */
      app_metadata: Dictionary;
      /** Metadata the user owns (preferences...); change it with `api.user.setUserMetadata()`. */
      user_metadata: Dictionary;
      /** When the user was created. */
      created_at: string;
      /** When the user was last updated. */
      updated_at: string;
      /** The user's email. */
      email?: string;
      /** Whether the email is verified. */
      email_verified: boolean;
      /** The user's username. */
      username?: string;
      /** Full name. */
      name?: string;
      /** Given name. */
      given_name?: string;
      /** Family name. */
      family_name?: string;
      /** Nickname. */
      nickname?: string;
      /** Profile picture URL. */
      picture?: string;
      /** Phone number. */
      phone_number?: string;
      /** Whether the phone number is verified. */
      phone_verified?: boolean;
      /** When the password was last reset (database connections). */
      last_password_reset?: string;
      /** The MFA providers the user is enrolled with. */
      multifactor?: string[];
      /** The MFA factors the user has enrolled. */
      enrolledFactors?: EnrolledFactor[];
      /** The user's identities (the primary one first, then linked ones). */
      identities: Identity[];
    }

    // ---- api -------------------------------------------------------------------------------

    /** The post-login `api`: every call is validated when made and applied after the flow. */
    interface PostLoginAPI {
      /** Deny the login. */
      readonly access: AccessAPI;
      /** Change the access token being issued. */
      readonly accessToken: AccessTokenAPI;
      /** Change the ID token being issued. */
      readonly idToken: IdTokenAPI;
      /** Change the user's metadata. */
      readonly user: UserAPI;
      /** Require multifactor authentication (classic providers). */
      readonly multifactor: MultifactorAPI;
      /** Challenge or enroll MFA factors, record methods, switch the primary user. */
      readonly authentication: AuthenticationAPI;
      /** Redirect the user to an external page and back to `/continue`. */
      readonly redirect: RedirectAPI;
      /** Share data with later Actions of the same transaction. */
      readonly transaction: TransactionAPI;
      /** A small key/value cache shared by executions of this trigger. */
      readonly cache: CacheAPI;
      /** [Enterprise] Change or revoke the login session. */
      readonly session: SessionAPI;
      /** [Enterprise] Change or revoke the refresh token being exchanged. */
      readonly refreshToken: RefreshTokenAPI;
      /** Configure the SAML response and its attributes. */
      readonly samlResponse: SAMLResponseAPI;
      /** Render a custom prompt. */
      readonly prompt: PromptAPI;
      /** Ask about Rules run in the transaction. */
      readonly rules: RulesAPI;
    }

    /** `api.access`. */
    interface AccessAPI {
      /** Deny the login after this Action finishes (later Actions do not run; other side effects stay); `reason` goes to the application as `error_description`. */
      deny(reason?: string): PostLoginAPI;
    }

    /** `api.accessToken`. */
    interface AccessTokenAPI {
      /** Set a custom claim; restricted claim names (`sub`, `roles`, ... or an Auth0 domain namespace) are dropped with a warning, and `scope` throws (use addScope/removeScope). */
      setCustomClaim(key: string, value: unknown): PostLoginAPI;
      /** Add one scope (a single non-empty name without spaces) to the access token. */
      addScope(scope: string): void;
      /** Remove one scope (a single non-empty name without spaces) from the access token. */
      removeScope(scope: string): void;
    }

    /** `api.idToken`. */
    interface IdTokenAPI {
      /** Set a custom claim; restricted claim names (`sub`, `roles`, ... or an Auth0 domain namespace) are dropped with a warning. */
      setCustomClaim(key: string, value: unknown): PostLoginAPI;
    }

    /** `api.user`. */
    interface UserAPI {
      /** Set (`null` deletes) an app_metadata key; applied when the flow ends, visible to later Actions, not to this one. */
      setAppMetadata(key: string, value: unknown): PostLoginAPI;
      /** Set (`null` deletes) a user_metadata key; applied when the flow ends, visible to later Actions, not to this one. */
      setUserMetadata(key: string, value: unknown): PostLoginAPI;
    }

    /** A classic MFA provider for `api.multifactor.enable()`; `any` uses any configured one. */
    type MultifactorProvider = "any" | "duo" | "google-authenticator" | "guardian" | "none";

    /** Duo settings for `api.multifactor.enable('duo', { providerOptions })`. */
    interface DuoProviderOptions {
      /** The API hostname of the Duo account. */
      host: string;
      /** The Duo Client ID (integration key). */
      ikey: string;
      /** The Duo Client secret (secret key). */
      skey: string;
      /** The profile attribute to use as the Duo username. */
      username?: string;
    }

    /** Options of `api.multifactor.enable()`. */
    interface MultifactorEnableOptions<P extends MultifactorProvider = MultifactorProvider> {
      /** Let the user skip MFA on this browser for a while (default false). */
      allowRememberBrowser?: boolean;
      /** Provider settings: only for `duo`. */
      providerOptions?: P extends "duo" ? DuoProviderOptions : never;
    }

    /** `api.multifactor`. */
    interface MultifactorAPI {
      /** Require MFA with the given provider at the end of the login flow. */
      enable<P extends MultifactorProvider>(provider: P, options?: MultifactorEnableOptions<P>): PostLoginAPI;
    }

    /** A factor to challenge with. */
    type FactorSelector =
      | { type: "otp" | "email" | "webauthn-platform" | "webauthn-roaming" | "recovery-code"; options?: Dictionary<unknown> }
      | { type: "phone"; options?: { preferredMethod?: "sms" | "voice" | "both" } }
      | { type: "push" | "push-notification"; options?: { otpFallback?: boolean } };

    /** A factor to enroll (as FactorSelector, without `email`). */
    type EnrollmentFactorSelector =
      | { type: "otp" | "webauthn-platform" | "webauthn-roaming" | "push" | "push-notification" | "recovery-code"; options?: Dictionary<unknown> }
      | { type: "phone"; options?: { preferredMethod?: "sms" | "voice" | "both" } };

    /** `api.authentication`. */
    interface AuthenticationAPI {
      /** Challenge the user with `factor` (or one of `additionalFactors`) before later Actions run. */
      challengeWith(factor: FactorSelector, options?: { additionalFactors?: FactorSelector[] }): void;
      /** Let the user pick one of `factors` (non-empty) to be challenged with. */
      challengeWithAny(factors: FactorSelector[]): void;
      /** Have the user enroll `factor` (or one of `additionalFactors`) before later Actions run. */
      enrollWith(factor: EnrollmentFactorSelector, options?: { additionalFactors?: EnrollmentFactorSelector[] }): void;
      /** Let the user pick one of `factors` (non-empty) to enroll. */
      enrollWithAny(factors: EnrollmentFactorSelector[]): void;
      /** Record a completed custom authentication method (an http(s) URL) in `event.authentication.methods`; onContinuePostLogin only. */
      recordMethod(provider_url: string): PostLoginAPI;
      /** Issue the tokens for another user (non-empty id, at most 128 characters), once per transaction. */
      setPrimaryUser(primary_user_id: string): void;
    }

    /** Options of `api.redirect.sendUserTo()`. */
    interface SendUserToOptions {
      /** Query parameters added to the URL (values are converted with String()). */
      query?: Dictionary<string | number | boolean>;
    }

    /** Options of `api.redirect.encodeToken()`. */
    interface EncodeTokenOptions {
      /** The HS256 signing secret shared with the redirect target (keep it in `event.secrets`). */
      secret: string;
      /** Claims to add; they override the standard ones (iat, iss, sub, exp, ip). */
      payload?: Dictionary<unknown>;
      /** Lifetime in seconds (default 900). */
      expiresInSeconds?: number;
    }

    /** Options of `api.redirect.validateToken()`. */
    interface ValidateTokenOptions {
      /** The HS256 secret the token was signed with. */
      secret: string;
      /** The query or POST body parameter holding the token (default `session_token`). */
      tokenParameterName?: string;
    }

    /** The claims of a session token accepted by `api.redirect.validateToken()`. */
    interface SessionTokenPayload {
      /** Issued at (seconds since the epoch). */
      iat: number;
      /** Expiry (seconds since the epoch). */
      exp: number;
      /** The user id; always equals `event.user.user_id`. */
      sub: string;
      /** The issuer; equals `event.request.hostname` when that is known. */
      iss: string;
      /** The `/continue` state; must match the one sent to `/continue`. */
      state?: string;
      /** Any other claim the redirect target put in the token. */
      [claim: string]: unknown;
    }

    /** `api.redirect`. */
    interface RedirectAPI {
      /** Whether this login can take the user somewhere: false for non-interactive grants (refresh token, password / resource owner, token exchange, ...) and for `prompt=none`. */
      canRedirect(): boolean;
      /** Redirect the user to `url` once this Action finishes; later Actions wait for `/continue` (not with `api.prompt.render()` in the same Action). */
      sendUserTo(url: string, options?: SendUserToOptions): PostLoginAPI;
      /** Sign a JWT (HS256) carrying iat, iss, sub, exp, ip and `payload`, to pass to the redirect target. */
      encodeToken(options: EncodeTokenOptions): string;
      /** Verify the token sent back to `/continue` (signature, expiry, sub, iss, state) and return its claims; throws if missing or invalid. */
      validateToken(options: ValidateTokenOptions): SessionTokenPayload;
    }

    /** `api.transaction`. */
    interface TransactionAPI {
      /** Set (`null` deletes) a key of `event.transaction.metadata`, updated at once (key ≤ 64 chars, value ≤ 8 KB, total ≤ 16 KB). */
      setMetadata(key: string, value: TransactionMetadataValue | null): void;
    }

    /** A cache entry. */
    interface CacheRecord {
      /** The cached value. */
      value: string;
      /** When it expires, in milliseconds since the epoch. */
      expires_at: number;
    }

    /** Options of `api.cache.set()`; when both are given the earlier expiry wins (max 24 h). */
    interface CacheSetOptions {
      /** Lifetime in milliseconds (default 15 minutes). */
      ttl?: number;
      /** Absolute expiry in milliseconds since the epoch. */
      expires_at?: number;
    }

    /** Why a cache write or delete failed. */
    type CacheErrorCode =
      /** Too many side effects in one execution (Auth0; not returned by actionhost). */
      | "MaxSideEffectsExceeded"
      /** The key is over 64 bytes (UTF-8). */
      | "CacheKeySizeExceeded"
      /** The value is over 4 KB (UTF-8). */
      | "CacheValueSizeExceeded"
      /** More than 20 entries, or keys and values together over 8 KB. */
      | "CacheSizeExceeded"
      /** `expires_at` is in the past. */
      | "ItemAlreadyExpired"
      /** `ttl` is not a positive number or `expires_at` is not a number. */
      | "InvalidExpiry"
      /** The key or the value is not a string. */
      | "FailedToSetCacheRecord"
      /** The delete failed (Auth0; not returned by actionhost). */
      | "FailedToDeleteCacheRecord"
      /** `delete()` of a key that is not cached. */
      | "CacheKeyDoesNotExist";

    /** The result of `api.cache.set()`. */
    type CacheWriteResult =
      | { type: "success"; record: CacheRecord }
      | { type: "error"; code: CacheErrorCode };

    /** The result of `api.cache.delete()`. */
    type CacheDeleteResult =
      | { type: "success" }
      | { type: "error"; code: CacheErrorCode };

    /** `api.cache`: never throws; failures come back as `{ type: 'error', code }`. */
    interface CacheAPI {
      /** The unexpired entry for `key`, or undefined. */
      get(key: string): CacheRecord | undefined;
      /** Store a string value (key ≤ 64 bytes, value ≤ 4 KB, ≤ 20 entries and 8 KB in all). */
      set(key: string, value: string, options?: CacheSetOptions): CacheWriteResult;
      /** Remove an entry. */
      delete(key: string): CacheDeleteResult;
    }

    /** `api.session` ([Enterprise]). */
    interface SessionAPI {
      /** Set the absolute expiry (ms since the epoch; the earliest of several calls wins). */
      setExpiresAt(absolute: number): PostLoginAPI;
      /** Set the idle expiry (ms since the epoch; the earliest of several calls wins). */
      setIdleExpiresAt(inactivity: number): PostLoginAPI;
      /** Revoke the session and deny the login; refresh tokens are revoked too unless `preserveRefreshTokens`. */
      revoke(reason: string, options?: { preserveRefreshTokens?: boolean }): PostLoginAPI;
      /** Make the session cookie persistent or end it with the browser (the last call wins). */
      setCookieMode(mode: "persistent" | "non-persistent"): PostLoginAPI;
      /** Set (`null` deletes) a session metadata key (letters, digits, `_`, `-`; key and value ≤ 255 chars); throws without `event.session`. */
      setMetadata(key: string, value: string | null): PostLoginAPI;
      /** Delete a session metadata key. */
      deleteMetadata(key: string): PostLoginAPI;
      /** Delete all session metadata. */
      evictMetadata(): PostLoginAPI;
    }

    /** `api.refreshToken` ([Enterprise]); expiry and metadata calls throw for an online refresh token. */
    interface RefreshTokenAPI {
      /** Set the absolute expiry (ms since the epoch; the earliest of several calls wins). */
      setExpiresAt(absolute: number): PostLoginAPI;
      /** Set the idle expiry (ms since the epoch; the earliest of several calls wins). */
      setIdleExpiresAt(inactivity: number): PostLoginAPI;
      /** Revoke the refresh token and deny the exchange (protocol `oauth2-refresh-token`). */
      revoke(reason: string): PostLoginAPI;
      /** Set (`null` deletes) a refresh token metadata key (letters, digits, `_`, `-`; key and value ≤ 255 chars). */
      setMetadata(key: string, value: string | null): PostLoginAPI;
      /** Delete a refresh token metadata key. */
      deleteMetadata(key: string): PostLoginAPI;
      /** Delete all refresh token metadata. */
      evictMetadata(): PostLoginAPI;
    }

    /** A SAML attribute value; `null` removes the attribute. */
    type SAMLAttributeValue = string | number | boolean | Array<string | number | boolean> | null;

    /** `api.samlResponse`: each setter throws on a value of the wrong type. */
    interface SAMLResponseAPI {
      /** Set (`null`/undefined removes) an attribute of the assertion (all attributes ≤ 10 KB as JSON). */
      setAttribute(attribute: string, value: SAMLAttributeValue | undefined): PostLoginAPI;
      /** The assertion's audience (default: the SAMLRequest issuer). */
      setAudience(audience: string): PostLoginAPI;
      /** The assertion's recipient (default: the AssertionConsumerServiceURL or callback URL). */
      setRecipient(recipient: string): PostLoginAPI;
      /** The response's destination (default: the AssertionConsumerServiceURL or callback URL). */
      setDestination(destination: string): PostLoginAPI;
      /** Whether to create a UPN claim (default true). */
      setCreateUpnClaim(createUpnClaim: boolean): PostLoginAPI;
      /** Whether claims without a mapping are passed through (default true). */
      setPassthroughClaimsWithNoMapping(passthroughClaimsWithNoMapping: boolean): PostLoginAPI;
      /** Whether unmapped claims are passed as-is instead of under `http://schema.auth0.com` (default false). */
      setMapUnknownClaimsAsIs(mapUnknownClaimsAsIs: boolean): PostLoginAPI;
      /** Whether to add identity details (provider, access token) (default true). */
      setMapIdentities(mapIdentities: boolean): PostLoginAPI;
      /** The signature algorithm: only `rsa-sha256`. */
      setSignatureAlgorithm(signatureAlgorithm: "rsa-sha256"): PostLoginAPI;
      /** The digest algorithm: only `sha256`. */
      setDigestAlgorithm(digestAlgorithm: "sha256"): PostLoginAPI;
      /** The assertion lifetime in seconds, a positive integer (default 3600). */
      setLifetimeInSeconds(lifetimeInSeconds: number): PostLoginAPI;
      /** Sign the whole response instead of the assertion (default false). */
      setSignResponse(signResponse: boolean): PostLoginAPI;
      /** The NameID format (default, also when called without an argument: `urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified`). */
      setNameIdentifierFormat(nameIdentifierFormat?: string): PostLoginAPI;
      /** Attribute names tried in order for the NameID (at most 10). */
      setNameIdentifierProbes(nameIdentifierProbes: string[]): PostLoginAPI;
      /** The AuthnContextClassRef (default `urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified`). */
      setAuthnContextClassRef(authnContextClassRef: string): PostLoginAPI;
      /** The PEM certificate that SAML requests must be signed with. */
      setSigningCert(signingCert: string): PostLoginAPI;
      /** Whether to infer and include each attribute's NameFormat (default true). */
      setIncludeAttributeNameFormat(includeAttributeNameFormat: boolean): PostLoginAPI;
      /** Whether to infer each attribute's xs:type (default true). */
      setTypedAttributes(typedAttributes: boolean): PostLoginAPI;
      /** The PEM certificate to encrypt the assertion with (with setEncryptionPublicKey). */
      setEncryptionCert(encryptionCert: string): PostLoginAPI;
      /** The PEM public key to encrypt the assertion with (with setEncryptionCert). */
      setEncryptionPublicKey(encryptionPublicKey: string): PostLoginAPI;
      /** Your own PEM signing certificate (with setKey) instead of the tenant's. */
      setCert(cert: string): PostLoginAPI;
      /** Your own PEM private signing key (with setCert); keep it in `event.secrets`. */
      setKey(key: string): PostLoginAPI;
      /** The RelayState returned to the service provider. */
      setRelayState(relayState: string): PostLoginAPI;
      /** The assertion's issuer (default `urn:auth0:TENANT`). */
      setIssuer(issuer: string): PostLoginAPI;
      /** The assertion encryption algorithm (`aes256-gcm` recommended; default `aes256-cbc`). */
      setEncryptionAlgorithm(encryptionAlgorithm: "aes256-gcm" | "aes256-cbc"): PostLoginAPI;
    }

    /** Options of `api.prompt.render()`. */
    interface RenderPromptOptions {
      /** Initial field values. */
      fields?: Dictionary;
      /** Shared variables for the prompt. */
      vars?: Dictionary;
    }

    /** `api.prompt`. */
    interface PromptAPI {
      /** Render a custom prompt after this Action (once per Action, not with a redirect); results arrive in `event.prompt`. */
      render(promptId: string, options?: RenderPromptOptions): void;
    }

    /** `api.rules`. */
    interface RulesAPI {
      /** Whether a Rule ran in this transaction (always false in actionhost, which has no Rules). */
      wasExecuted(ruleId: string): boolean;
    }
  }

  // ---- Runtime globals that lib.es2023 lacks ----------------------------------------------
  // Written to merge with lib.dom's declarations when an editor loads it too: interfaces merge,
  // and each constructor variable takes lib.dom's type when it is present (the same check
  // @types/node uses), so the two never disagree.

  /** console: output is captured in the execution's logs. */
  interface Console {
    /** Log a line (printf-style `%s %d %i %f %j %o %O` in a leading string). */
    log(...data: any[]): void;
    /** Log at info level. */
    info(...data: any[]): void;
    /** Log at warn level. */
    warn(...data: any[]): void;
    /** Log at error level. */
    error(...data: any[]): void;
    /** Log at debug level. */
    debug(...data: any[]): void;
    /** Log at trace level. */
    trace(...data: any[]): void;
  }
  var console: Console;

  /** Call `callback(...args)` after `ms` milliseconds; returns a timer id. */
  function setTimeout<A extends any[]>(callback: (...args: A) => void, ms?: number, ...args: A): number;
  /** Call `callback(...args)` every `ms` milliseconds; returns a timer id. */
  function setInterval<A extends any[]>(callback: (...args: A) => void, ms?: number, ...args: A): number;
  /** Call `callback(...args)` as soon as possible (after pending microtasks); returns a timer id. */
  function setImmediate<A extends any[]>(callback: (...args: A) => void, ...args: A): number;
  /** Cancel a setTimeout timer. */
  function clearTimeout(id: number | undefined): void;
  /** Cancel a setInterval timer. */
  function clearInterval(id: number | undefined): void;
  /** Cancel a setImmediate timer. */
  function clearImmediate(id: number | undefined): void;
  /** Run `callback` in a microtask. */
  function queueMicrotask(callback: () => void): void;

  /** Decode base64 into a binary string. */
  function atob(data: string): string;
  /** Encode a binary string (characters ≤ U+00FF) as base64. */
  function btoa(data: string): string;

  /** A WHATWG URL. */
  interface URL {
    hash: string;
    host: string;
    hostname: string;
    href: string;
    readonly origin: string;
    password: string;
    pathname: string;
    port: string;
    protocol: string;
    search: string;
    readonly searchParams: URLSearchParams;
    username: string;
    /** The serialized URL (same as `href`). */
    toString(): string;
    /** The serialized URL (same as `href`). */
    toJSON(): string;
  }
  var URL: typeof globalThis extends { onmessage: any; URL: infer T } ? T : {
    prototype: URL;
    /** Parse `url`, relative to `base`; throws a TypeError (code ERR_INVALID_URL) if invalid. */
    new (url: string | URL, base?: string | URL): URL;
    /** Whether `url` parses. */
    canParse(url: string | URL, base?: string | URL): boolean;
    /** Parse `url`, or null if invalid. */
    parse(url: string | URL, base?: string | URL): URL | null;
  };

  /** The query of a URL as name/value pairs. */
  interface URLSearchParams {
    /** The number of pairs. */
    readonly size: number;
    /** Add a pair. */
    append(name: string, value: string): void;
    /** Remove the pairs named `name` (with that `value` only, if given). */
    delete(name: string, value?: string): void;
    /** The first value of `name`, or null. */
    get(name: string): string | null;
    /** All values of `name`. */
    getAll(name: string): string[];
    /** Whether a pair named `name` (with that `value`, if given) exists. */
    has(name: string, value?: string): boolean;
    /** Replace the pairs named `name` with one pair. */
    set(name: string, value: string): void;
    /** Sort the pairs by name. */
    sort(): void;
    /** Call `callback` for each pair. */
    forEach(callback: (value: string, key: string, parent: URLSearchParams) => void, thisArg?: any): void;
    /** The query string, without `?`. */
    toString(): string;
    [Symbol.iterator](): IterableIterator<[string, string]>;
    /** The [name, value] pairs. */
    entries(): IterableIterator<[string, string]>;
    /** The names. */
    keys(): IterableIterator<string>;
    /** The values. */
    values(): IterableIterator<string>;
  }
  var URLSearchParams: typeof globalThis extends { onmessage: any; URLSearchParams: infer T } ? T : {
    prototype: URLSearchParams;
    /** From a query string, [name, value] pairs, or an object of names to values. */
    new (init?: string | string[][] | Record<string, string> | URLSearchParams): URLSearchParams;
  };

  /** Encodes strings as UTF-8. */
  interface TextEncoder {
    /** Always `utf-8`. */
    readonly encoding: string;
    /** The UTF-8 bytes of `input`. */
    encode(input?: string): Uint8Array;
    /** Write the UTF-8 bytes of `source` into `destination`. */
    encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
  }
  var TextEncoder: typeof globalThis extends { onmessage: any; TextEncoder: infer T } ? T : {
    prototype: TextEncoder;
    new (): TextEncoder;
  };

  /** Decodes UTF-8 bytes (the only encoding supported). */
  interface TextDecoder {
    /** Always `utf-8`. */
    readonly encoding: string;
    /** Whether invalid input throws instead of becoming U+FFFD. */
    readonly fatal: boolean;
    /** Whether a leading byte order mark is kept. */
    readonly ignoreBOM: boolean;
    /** Decode `input`; with `stream: true` an incomplete trailing sequence waits for the next call. */
    decode(input?: ArrayBuffer | ArrayBufferView | SharedArrayBuffer, options?: { stream?: boolean }): string;
  }
  var TextDecoder: typeof globalThis extends { onmessage: any; TextDecoder: infer T } ? T : {
    prototype: TextDecoder;
    /** `label` must name UTF-8 (`utf-8`, `utf8`, ...); anything else throws a RangeError. */
    new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }): TextDecoder;
  };

  /** The web platform's error type (thrown by atob, btoa and crypto). */
  interface DOMException extends Error {
    /** The legacy numeric code for `name` (0 if none). */
    readonly code: number;
  }
  var DOMException: typeof globalThis extends { onmessage: any; DOMException: infer T } ? T : {
    prototype: DOMException;
    new (message?: string, name?: string | { name?: string }): DOMException;
  };

  /** The `crypto` global. NOT cryptographically strong in actionhost (Math.random-based): fine for ids and nonces, not for secrets. */
  interface Crypto {
    /** Fill an integer typed array (at most 65536 bytes) with random values and return it. */
    getRandomValues<T extends Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array>(array: T): T;
    /** A random version 4 UUID. */
    randomUUID(): `${string}-${string}-${string}-${string}-${string}`;
  }
  var crypto: Crypto;
}

// ---- Module exports (for `import('./actions').X` in JSDoc) --------------------------------

export type OnExecutePostLogin = ActionsPostLogin.OnExecutePostLogin;
export type OnContinuePostLogin = ActionsPostLogin.OnContinuePostLogin;
export type PostLoginHandler = ActionsPostLogin.PostLoginHandler;
export type PostLoginModule = ActionsPostLogin.PostLoginModule;
export type PostLoginEvent = ActionsPostLogin.PostLoginEvent;
export type PostLoginAPI = ActionsPostLogin.PostLoginAPI;
export type User = ActionsPostLogin.User;
export type Transaction = ActionsPostLogin.Transaction;
export type TransactionMetadataValue = ActionsPostLogin.TransactionMetadataValue;
export type FactorSelector = ActionsPostLogin.FactorSelector;
export type EnrollmentFactorSelector = ActionsPostLogin.EnrollmentFactorSelector;
export type SessionTokenPayload = ActionsPostLogin.SessionTokenPayload;
export type CacheRecord = ActionsPostLogin.CacheRecord;
export type CacheErrorCode = ActionsPostLogin.CacheErrorCode;
export type CacheWriteResult = ActionsPostLogin.CacheWriteResult;
export type CacheDeleteResult = ActionsPostLogin.CacheDeleteResult;
export type SAMLAttributeValue = ActionsPostLogin.SAMLAttributeValue;

/**
 * A real OpenID Provider on loopback (`oidc-provider`, the certified Node implementation) for the console's sign-in:
 * discovery, authorization code with PKCE (required), ID tokens signed with a fresh RS256 key, one confidential
 * client. The login step is the only stand-in: whoever `signInAs` names is signed in when the browser reaches the
 * provider's interaction page (no form to fill), and the client's first-party grant needs no consent screen.
 *
 * The provider is built on its first request, so its client's redirect URI can be set after the api it redirects to
 * has found its port.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Configuration, type KoaContextWithOIDC } from "oidc-provider";

export interface OidcAccount {
  readonly sub: string;
  readonly email: string;
  readonly emailVerified?: boolean;
}

export interface OidcServer {
  /** The issuer URL (http://127.0.0.1:<port>). */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The client's redirect URI (set before the first request reaches the provider). */
  setRedirectUri(uri: string): void;
  /** Who the next interactions sign in (null: the interaction page answers 403, as a refused login would). */
  signInAs(account: OidcAccount | null): void;
  /** How many logins the provider completed. */
  readonly logins: () => number;
  close(): Promise<void>;
}

export async function startOidcServer(options: { readonly clientId?: string } = {}): Promise<OidcServer> {
  const clientId = options.clientId ?? "praxa-console";
  const clientSecret = randomBytes(24).toString("base64url");
  const accounts = new Map<string, OidcAccount>();
  let current: OidcAccount | null = null;
  let redirectUri: string | null = null;
  let provider: Provider | null = null;
  let logins = 0;

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: "testkit-1", use: "sig", alg: "RS256" };

  function build(): Provider {
    if (!redirectUri) throw new Error("oidc-server: setRedirectUri before the first request");
    const configuration: Configuration = {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [redirectUri],
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
        },
      ],
      jwks: { keys: [jwk as never] },
      cookies: { keys: [randomBytes(32).toString("hex")] },
      claims: { openid: ["sub"], email: ["email", "email_verified"] },
      // The ID token carries the email claims (the api maps members by them without a userinfo call).
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
      // A first-party client: every requested scope is granted without a consent screen.
      loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
        const accountId = ctx.oidc.session?.accountId;
        const client = ctx.oidc.client;
        if (!accountId || !client) return undefined;
        const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId });
        grant.addOIDCScope("openid email");
        await grant.save();
        return grant;
      },
      findAccount: (_ctx, sub) => {
        const account = accounts.get(sub);
        if (!account) return undefined;
        return {
          accountId: sub,
          claims: () => ({ sub, email: account.email, email_verified: account.emailVerified ?? true }),
        };
      },
      ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, IdToken: 600, AccessToken: 600 },
    };
    const p = new Provider(issuer, configuration);
    return p;
  }

  async function interaction(req: IncomingMessage, res: ServerResponse, p: Provider): Promise<void> {
    if (!current) {
      res.writeHead(403, { "content-type": "text/plain" }).end("sign-in refused");
      return;
    }
    accounts.set(current.sub, current);
    const details = await p.interactionDetails(req, res);
    if (details.prompt.name !== "login") {
      // Consent is covered by loadExistingGrant; anything else ends the interaction as an error.
      await p.interactionFinished(req, res, { error: "access_denied" }, { mergeWithLastSubmission: false });
      return;
    }
    logins++;
    await p.interactionFinished(req, res, { login: { accountId: current.sub } }, { mergeWithLastSubmission: false });
  }

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    try {
      provider ??= build();
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
      return;
    }
    const p = provider;
    if (req.url?.startsWith("/interaction/")) {
      interaction(req, res, p).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(err instanceof Error ? err.message : "interaction failed");
      });
      return;
    }
    void p.callback()(req, res);
  });

  return {
    issuer,
    clientId,
    clientSecret,
    setRedirectUri: (uri) => {
      if (provider && uri !== redirectUri) throw new Error("oidc-server: the redirect URI is fixed once serving");
      redirectUri = uri;
    },
    signInAs: (account) => {
      current = account;
    },
    logins: () => logins,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

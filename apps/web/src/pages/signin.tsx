/** Sign-in: single sign-on through the workspace's IdP (the api runs OIDC code + PKCE), or a link from the CLI. */
import { useState } from "react";
import { Button, Card, Field, Notice } from "../kit.js";

const MESSAGES: Record<string, string> = {
  SIGN_IN_REFUSED: "No member of this workspace has this identity. Ask an owner to add your email.",
  SIGN_IN_EXPIRED: "This sign-in expired or was not started in this browser. Start again.",
  SIGN_IN_FAILED: "The identity provider did not complete the sign-in. Try again.",
  SIGN_IN_NOT_CONFIGURED: "Single sign-on is not configured for this deployment.",
};

export function SignInPage() {
  const params = new URLSearchParams(window.location.search);
  const error = params.get("error");
  const [workspace, setWorkspace] = useState(params.get("workspace") ?? "");
  const returnTo = window.location.pathname.startsWith("/signin") ? "/runs" : window.location.pathname;
  return (
    <main id="main" className="signin">
      <Card title="Sign in to Praxa">
        {error ? <Notice tone="bad">{MESSAGES[error] ?? "Sign-in failed."}</Notice> : null}
        <form
          method="get"
          action="/auth/login"
          onSubmit={(e) => {
            // A navigation, not a form post: the api redirects on to the IdP, which `form-action 'self'` would block.
            e.preventDefault();
            if (!/^ws_[0-9a-z]{26}$/.test(workspace)) return;
            window.location.assign(`/auth/login?${new URLSearchParams({ workspace, returnTo }).toString()}`);
          }}
        >
          <Field label="Workspace id" hint="ws_… — from your invitation or an owner.">
            {(id) => (
              <input
                id={id}
                name="workspace"
                required
                pattern="ws_[0-9a-z]{26}"
                value={workspace}
                onChange={(e) => setWorkspace(e.target.value.trim())}
                autoComplete="organization"
              />
            )}
          </Field>
          <Button type="submit" variant="primary">
            Continue with single sign-on
          </Button>
        </form>
        <p className="hint">
          Running the demo? <code>pnpm praxa console login</code> prints a one-time sign-in link.
        </p>
      </Card>
    </main>
  );
}

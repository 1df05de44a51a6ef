/**
 * Examples for the OpenAPI document, from real third-party payloads (/work/shared/fixtures, copied values only):
 * the run's input is what ingest derives from octokit/webhooks' `pull_request/opened` example (MIT), the integration
 * is its `installation/created` example's account, the Slack channel is vercel/chat's recorded `app_mention` (MIT).
 * Ids are well-formed TypeIDs made up for the page.
 */
export const exampleRun = {
  id: "rn_01jdz3m0r8f6q2v1a7b9c4d5e6",
  skillId: "sk_01jdz3kz2w9x8v7t6s5r4q3p2n",
  skillVersionId: "sv_01jdz3kz3a1b2c3d4e5f6g7h8j",
  trigger: "github.pull_request.opened",
  source: "github",
  status: "succeeded",
  skipReason: null,
  errorCode: null,
  attempt: 1,
  failureClass: null,
  retryOf: null,
  cancelRequestedAt: null,
  // octokit/webhooks payload-examples pull_request/opened: repository.full_name, number, head.sha, base.ref, user.
  input: {
    repo: "Codertocat/Hello-World",
    prNumber: 2,
    headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    beforeSha: null,
    baseRef: "master",
    draft: false,
    authorLogin: "Codertocat",
    authorIsBot: false,
  },
  createdAt: "2019-05-15T15:20:34.000Z",
  startedAt: "2019-05-15T15:20:35.000Z",
  finishedAt: "2019-05-15T15:20:51.000Z",
};

export const exampleIntegration = {
  id: "in_01jdz3kyq7m6n5p4r3s2t1v0w9",
  provider: "github",
  // octokit/webhooks payload-examples installation/created: installation.id and its account.
  externalId: "957387",
  status: "active",
  grantedScopes: ["contents:write", "issues:write", "metadata:read", "pull_requests:write"],
  botIdentity: { kind: "github_app_installation", login: "praxa[bot]", account: "Codertocat", account_type: "User" },
  needed: ["contents:read", "pull_requests:write"],
  excess: ["contents:write", "issues:write"],
  flagged: true,
};

// vercel/chat replay fixture (slack.json, key .mention): the channel the bot was mentioned in.
export const exampleSlackChannel = { kind: "slack", channel: "C00FAKECHAN2" };

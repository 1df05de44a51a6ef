/**
 * A loopback AWS Secrets Manager, enough for `GetSecretValue`.
 *
 * Wire format (AWS JSON 1.1 protocol, as the real `@aws-sdk/client-secrets-manager` speaks it): `POST /` with
 * `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: secretsmanager.GetSecretValue`, body `{"SecretId"}`;
 * answer `{ARN, Name, VersionId, SecretString, VersionStages, CreatedDate}`; errors are HTTP 400 with
 * `{"__type":"ResourceNotFoundException","Message":…}`. Source: AWS Secrets Manager API Reference, GetSecretValue, and
 * the "AWS JSON 1.1 protocol" page of the Smithy specification.
 *
 * Honest limits: the SigV4 `Authorization` header is required but its signature is not verified; no KMS, no versions
 * beyond AWSCURRENT. It counts calls per target so tests can assert "read once at boot".
 */
import { sendJson, startLoopbackServer, type LoopbackServer } from "./loopback-server.js";

export interface SecretsManagerServer extends LoopbackServer {
  /** Number of calls per `X-Amz-Target` operation name (e.g. `GetSecretValue`). */
  readonly calls: Readonly<Record<string, number>>;
  setSecret(name: string, value: string): void;
}

export async function startSecretsManagerServer(initial: Record<string, string> = {}): Promise<SecretsManagerServer> {
  const secrets = new Map(Object.entries(initial));
  const calls: Record<string, number> = {};
  const server = await startLoopbackServer((req, res) => {
    const target = req.headers["x-amz-target"] ?? "";
    const op = target.startsWith("secretsmanager.") ? target.slice("secretsmanager.".length) : "";
    calls[op || "(none)"] = (calls[op || "(none)"] ?? 0) + 1;
    if (req.method !== "POST" || !req.headers["content-type"]?.startsWith("application/x-amz-json-1.1")) {
      return sendJson(res, 400, { __type: "SerializationException", Message: "expected application/x-amz-json-1.1" });
    }
    if (!req.headers.authorization?.startsWith("AWS4-HMAC-SHA256 ")) {
      return sendJson(res, 400, {
        __type: "MissingAuthenticationTokenException",
        Message: "missing SigV4 Authorization",
      });
    }
    if (op !== "GetSecretValue") {
      return sendJson(res, 400, {
        __type: "UnknownOperationException",
        Message: "operation not supported by the loopback server",
      });
    }
    let secretId: unknown;
    try {
      secretId = (JSON.parse(req.body.toString("utf8")) as { SecretId?: unknown }).SecretId;
    } catch {
      return sendJson(res, 400, { __type: "SerializationException", Message: "body is not JSON" });
    }
    if (typeof secretId !== "string" || !secrets.has(secretId)) {
      return sendJson(res, 400, {
        __type: "ResourceNotFoundException",
        Message: "Secrets Manager can't find the specified secret.",
      });
    }
    return sendJson(res, 200, {
      ARN: `arn:aws:secretsmanager:us-west-1:000000000000:secret:${secretId}-AbCdEf`,
      Name: secretId,
      VersionId: "00000000-0000-4000-8000-000000000001",
      SecretString: secrets.get(secretId),
      VersionStages: ["AWSCURRENT"],
      CreatedDate: 1_700_000_000,
    });
  });
  return Object.assign(server, { calls, setSecret: (name: string, value: string) => void secrets.set(name, value) });
}

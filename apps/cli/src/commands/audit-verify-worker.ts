/**
 * A verification thread for `audit verify --full`: it receives one part of a chain (its rows, the event keys and the
 * options that anchor the part — see core's verify-chain-parts.ts), runs `verifyChain` on it and posts the answer.
 * No database, no files: everything it checks arrives in the message.
 */
import { parentPort } from "node:worker_threads";
import { verifyChain, type AuditKeyset, type StoredChainEvent, type VerifyChainOptions } from "@praxa/core";

export interface ChainPartJob {
  readonly events: readonly StoredChainEvent[];
  readonly keyset: AuditKeyset;
  readonly options: VerifyChainOptions;
}

parentPort?.on("message", (job: ChainPartJob) => {
  parentPort?.postMessage(verifyChain(job.events, job.keyset, job.options));
});

/** The audit log's pure parts: canonical JSON, Merkle proofs, the `audit_event · v1` record, its chain, redaction. */
export * from "./audit-errors.js";
export * from "./jcs.js";
export * from "./merkle.js";
export * from "./audit-event.js";
export * from "./chain.js";
export * from "./verify-chain.js";
export * from "./verify-chain-parts.js";
export * from "./verify-chain-stream.js";
export * from "./redaction.js";
export * from "./verify-checkpoint.js";
export * from "./audit-export.js";
export * from "./audit-export-lines.js";
export * from "./replay-report.js";
export * from "./siem-stream.js";
export * from "./erasure-receipt.js";

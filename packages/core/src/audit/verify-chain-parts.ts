/**
 * Verifying one chain in parts that run independently — on several threads, `--full` being bound by one Ed25519
 * verification per event. Part k starts where the rows before it say the chain stands: the previous row's `hash` as its
 * anchor (`firstPrevHash`) and that row's `seq + 1` as its first seq. That is exactly the state `verifyChain` is in
 * after checking the previous row successfully, so:
 *   - if every part holds, the whole chain holds (each boundary row was itself checked by the part before it);
 *   - otherwise the first failing part, in order, names the first bad seq: every part before it held, so a run over
 *     the whole list would have reached that part's first row in that same state and failed at the same row.
 * A boundary is only placed after a row whose seq and hash can anchor the next part; otherwise it moves on (the part
 * before then fails on that row anyway).
 */
import { genesisPrevHash } from "./chain.js";
import type { ChainVerification, StoredChainEvent, VerifyChainOptions } from "./verify-chain.js";

/** Rows [start, end) of the list, verified with `options`. */
export interface ChainPart {
  readonly start: number;
  readonly end: number;
  readonly options: VerifyChainOptions;
}

const HEX64 = /^[0-9a-f]{64}$/;
const canAnchor = (e: StoredChainEvent): boolean =>
  Number.isSafeInteger(e.seq) && e.seq >= 1 && typeof e.hash === "string" && HEX64.test(e.hash);

/** Up to `count` contiguous parts of about equal size covering `events` (always at least one part, possibly empty). */
export function splitChainVerification(
  events: readonly StoredChainEvent[],
  options: VerifyChainOptions,
  count: number,
): ChainPart[] {
  const wanted = Math.max(1, Math.min(Math.floor(count), events.length));
  const parts: ChainPart[] = [];
  let start = 0;
  for (let k = 1; k <= wanted; k++) {
    let end = k === wanted ? events.length : Math.max(start + 1, Math.round((events.length * k) / wanted));
    while (end < events.length && !canAnchor(events[end - 1] as StoredChainEvent)) end++;
    if (end <= start) continue;
    const before = events[start - 1];
    parts.push({
      start,
      end,
      options: before === undefined ? options : { ...options, firstPrevHash: before.hash, firstSeq: before.seq + 1 },
    });
    start = end;
    if (start >= events.length) break;
  }
  if (parts.length === 0) parts.push({ start: 0, end: 0, options });
  return parts;
}

/** The whole chain's answer from its parts' answers (`results[i]` for `parts[i]`, each over its own rows). */
export function combineChainVerifications(
  parts: readonly ChainPart[],
  results: readonly ChainVerification[],
  options: VerifyChainOptions,
): ChainVerification {
  if (results.length !== parts.length) throw new RangeError("one result per part");
  let count = 0;
  let headHash = options.firstPrevHash ?? genesisPrevHash(options.workspaceId);
  const redacted: number[] = [];
  for (const [i, result] of results.entries()) {
    const part = parts[i] as ChainPart;
    if (!result.ok) return { ...result, index: result.index + part.start };
    count += result.count;
    if (part.end > part.start) headHash = result.headHash;
    if (result.redacted) redacted.push(...result.redacted);
  }
  return { ok: true, count, headHash, ...(redacted.length > 0 ? { redacted } : {}) };
}

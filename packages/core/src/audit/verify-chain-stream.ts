/**
 * Verifying a chain as a stream of pages (keyset pages: `seq >= next ORDER BY seq LIMIT n`), in constant memory: one
 * page at a time, nothing of the pages before it kept but where the chain stands. Page k is verified with the options
 * `pageOptions()` gives — anchored on the last row of page k − 1 (its hash as `firstPrevHash`, its seq + 1 as
 * `firstSeq`), exactly the state `verifyChain` is in after checking that row — so the pages' answers, taken in order,
 * are the answer one pass over the whole chain gives: the same first bad seq and reason (as verify-chain-parts.ts does
 * for threads; a page may itself be split into parts). A page is only accepted after it verified, so its last row can
 * anchor the next one.
 *
 * Checkpoints need the RFC 9162 root of the first n leaf hashes for each checkpoint's tree_size n: the stream folds
 * every event's leaf hash into a Merkle frontier (one hash per perfect subtree: ≤ 53 hashes) and records the root when
 * the count reaches a wanted size (`verifyCheckpointsAgainstRoots`, `checkTrustedCheckpointRoot`).
 */
import { eventLeafHash, genesisPrevHash } from "./chain.js";
import { emptyTreeRoot, hashChildren } from "./merkle.js";
import type { ChainVerification, StoredChainEvent, VerifyChainOptions } from "./verify-chain.js";

export class ChainStreamVerification {
  readonly #options: VerifyChainOptions;
  #anchor: { readonly prevHash: string; readonly nextSeq: number } | undefined;
  #count = 0;
  #removed = 0;
  readonly #redacted: number[] = [];
  #failure: ChainVerification | undefined;
  /** Tree sizes whose root is wanted, ascending; `#nextWanted` indexes the next one not yet reached. */
  readonly #wanted: readonly number[];
  #nextWanted = 0;
  readonly #roots = new Map<number, Buffer>();
  /** The perfect subtrees so far, largest first: their sizes and roots (the Merkle frontier). */
  readonly #subtreeSizes: number[] = [];
  readonly #subtreeRoots: Buffer[] = [];

  /** `rootsAt`: the tree sizes whose roots the caller needs (checkpoints' tree sizes, a kept checkpoint's). */
  constructor(options: VerifyChainOptions, rootsAt: readonly number[] = []) {
    this.#options = options;
    this.#wanted = [...new Set(rootsAt.filter((n) => Number.isSafeInteger(n) && n >= 0))].sort((a, b) => a - b);
    this.#recordRoots();
  }

  /** The options the next page is verified with (on one thread, or split into parts). */
  pageOptions(): VerifyChainOptions {
    return this.#anchor === undefined
      ? this.#options
      : { ...this.#options, firstPrevHash: this.#anchor.prevHash, firstSeq: this.#anchor.nextSeq };
  }

  /**
   * Take the next page and its answer (verified with `pageOptions()`): on success the stream moves past it; on failure
   * the failure is returned with `index` counted from the first row of the first page, and the stream stops there.
   */
  accept(page: readonly StoredChainEvent[], result: ChainVerification): ChainVerification | null {
    if (this.#failure !== undefined) throw new RangeError("the stream already failed");
    if (!result.ok) {
      this.#failure = { ...result, index: result.index + this.#count };
      return this.#failure;
    }
    if (result.count !== page.length) throw new RangeError("the answer is not of this page");
    if (result.redacted) this.#redacted.push(...result.redacted);
    for (const e of page) {
      this.#pushLeaf(eventLeafHash(e.hash));
      this.#count++;
      this.#recordRoots();
    }
    const last = page.at(-1);
    if (last !== undefined) this.#anchor = { prevHash: last.hash, nextSeq: last.seq + 1 };
    return null;
  }

  /**
   * Take the leaf hashes of the events a retention cut removed (seq 1..n, hex, in seq order) before the first page: they
   * join the Merkle tree (so every checkpoint's root, and a trusted checkpoint's from before the cut, is recomputed as
   * before) and the last one anchors the first kept event. Their content is gone, so nothing but the signed checkpoint
   * at the cut vouches for them: the caller must require one at exactly n (`verifyCheckpointsAgainstRoots` then checks
   * its root over these hashes).
   */
  acceptRemoved(hashes: readonly string[]): void {
    if (this.#count !== 0 || this.#failure !== undefined) throw new RangeError("removed leaves come before any page");
    for (const h of hashes) {
      this.#pushLeaf(eventLeafHash(h));
      this.#count++;
      this.#recordRoots();
    }
    const last = hashes.at(-1);
    if (last !== undefined) {
      this.#anchor = { prevHash: last, nextSeq: hashes.length + 1 };
      this.#removed = hashes.length;
    }
  }

  /** The seqs of redacted events seen so far (content removed in place; hash, links and signature verified). */
  get redacted(): readonly number[] {
    return this.#redacted;
  }

  /** How many leading events were removed by retention (taken by `acceptRemoved`). */
  get removed(): number {
    return this.#removed;
  }

  /** Rows verified so far. */
  get events(): number {
    return this.#count;
  }

  /** The root of the first `treeSize` leaves, if it was asked for in the constructor and reached. */
  rootAt(treeSize: number): Buffer | undefined {
    return this.#roots.get(treeSize);
  }

  /** The whole chain's answer so far: what `verifyChain` over every accepted row gives, or the failure. */
  result(): ChainVerification {
    if (this.#failure !== undefined) return this.#failure;
    return {
      ok: true,
      count: this.#count,
      headHash: this.#anchor?.prevHash ?? this.#options.firstPrevHash ?? genesisPrevHash(this.#options.workspaceId),
      ...(this.#redacted.length > 0 ? { redacted: [...this.#redacted] } : {}),
    };
  }

  #pushLeaf(leaf: Buffer): void {
    let size = 1;
    let node = leaf;
    while (this.#subtreeSizes.length > 0 && this.#subtreeSizes[this.#subtreeSizes.length - 1] === size) {
      this.#subtreeSizes.pop();
      node = hashChildren(this.#subtreeRoots.pop() as Buffer, node);
      size *= 2;
    }
    this.#subtreeSizes.push(size);
    this.#subtreeRoots.push(node);
  }

  #recordRoots(): void {
    for (
      ;
      this.#nextWanted < this.#wanted.length && this.#wanted[this.#nextWanted] === this.#count;
      this.#nextWanted++
    ) {
      let root: Buffer | undefined;
      for (let j = this.#subtreeRoots.length - 1; j >= 0; j--)
        root = root === undefined ? this.#subtreeRoots[j] : hashChildren(this.#subtreeRoots[j] as Buffer, root);
      this.#roots.set(this.#count, root === undefined ? emptyTreeRoot() : Buffer.from(root));
    }
  }
}

/**
 * RFC 9162 (Certificate Transparency v2; same tree as RFC 6962) Merkle tree over SHA-256:
 *   leaf hash  = SHA-256(0x00 ‖ data)
 *   node hash  = SHA-256(0x01 ‖ left ‖ right)
 *   MTH({})    = SHA-256("")
 * Audit checkpoints sign the root over the workspace's event leaf hashes; an inclusion proof shows one exported event
 * is in a checkpointed tree, a consistency proof shows a later tree only appended to an earlier one.
 *
 * Proof generation works on leaf HASHES (events keep theirs). Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 with
 * the input checks of transparency-dev/merkle's `proof/verify.go` (hash sizes, `index < size`, no consistency from the
 * empty tree, equal sizes need an empty proof), returning a reason instead of throwing. Sizes and indexes are numbers
 * and must be safe integers: shifts are done arithmetically, never with 32-bit bit operators.
 */
import { createHash, hash } from "node:crypto";
import { MerkleInputError } from "./audit-errors.js";

export const MERKLE_HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
/** 0x00 ‖ 32 bytes: a leaf over one hash, hashed in one shot (verification hashes one per event). */
const hashLeafInput = Buffer.alloc(1 + MERKLE_HASH_SIZE);
/** 0x01 ‖ left ‖ right for two 32-byte children. */
const nodeInput = Buffer.concat([NODE_PREFIX, Buffer.alloc(2 * MERKLE_HASH_SIZE)]);

/** SHA-256(0x00 ‖ data): the hash of one leaf's data. */
export function hashLeaf(data: Uint8Array): Buffer {
  if (data.length !== MERKLE_HASH_SIZE) return createHash("sha256").update(LEAF_PREFIX).update(data).digest();
  hashLeafInput.set(data, 1);
  return hash("sha256", hashLeafInput, "buffer");
}

/** SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== MERKLE_HASH_SIZE || right.length !== MERKLE_HASH_SIZE) {
    return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + MERKLE_HASH_SIZE);
  return hash("sha256", nodeInput, "buffer");
}

/** MTH({}) = SHA-256 of the empty string: the root of the empty tree. */
export function emptyTreeRoot(): Buffer {
  return createHash("sha256").digest();
}

/** The largest power of two strictly less than `n` (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isSize = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

function checkLeafHashes(leafHashes: readonly Uint8Array[]): void {
  leafHashes.forEach((h, i) => {
    if (h.length !== MERKLE_HASH_SIZE) {
      throw new MerkleInputError(`leaf hash ${i} has ${h.length} bytes, want ${MERKLE_HASH_SIZE}`, {
        details: { index: i },
      });
    }
  });
}

/** MTH over leaf hashes [lo, hi), hi > lo. */
function subtreeRoot(leaves: readonly Uint8Array[], lo: number, hi: number): Buffer {
  if (hi - lo === 1) return Buffer.from(leaves[lo] as Uint8Array);
  const k = splitPoint(hi - lo);
  return hashChildren(subtreeRoot(leaves, lo, lo + k), subtreeRoot(leaves, lo + k, hi));
}

/** MTH(D[n]) over already-hashed leaves. The empty tree's root is SHA-256(""). */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Buffer {
  checkLeafHashes(leafHashes);
  return leafHashes.length === 0 ? emptyTreeRoot() : subtreeRoot(leafHashes, 0, leafHashes.length);
}

/**
 * MTH(D[n]) for each n in `sizes` (0 ≤ n ≤ leafHashes.length), in one pass over the leaves: a verifier with a checkpoint
 * every few thousand events would otherwise rebuild the tree from the first leaf for each of them. After n leaves the
 * pass holds the roots of the perfect subtrees that n's binary digits describe (largest, leftmost first); RFC 9162's
 * root of D[n] is their fold from the right, since its left subtree always covers the largest power of two below n.
 */
export function merkleRootsAt(leafHashes: readonly Uint8Array[], sizes: readonly number[]): Map<number, Buffer> {
  checkLeafHashes(leafHashes);
  for (const n of sizes) {
    if (!isSize(n) || n > leafHashes.length)
      throw new MerkleInputError(`tree size ${String(n)} is outside 0..${leafHashes.length}`);
  }
  const wanted = [...new Set(sizes)].sort((a, b) => a - b);
  const roots = new Map<number, Buffer>();
  // The perfect subtrees so far, largest first: their sizes and roots.
  const subtreeSizes: number[] = [];
  const subtreeRoots: Uint8Array[] = [];
  let next = 0;
  for (let count = 0; next < wanted.length; count++) {
    for (; next < wanted.length && wanted[next] === count; next++) {
      let root: Uint8Array | undefined;
      for (let j = subtreeRoots.length - 1; j >= 0; j--)
        root = root === undefined ? subtreeRoots[j] : hashChildren(subtreeRoots[j] as Uint8Array, root);
      roots.set(count, root === undefined ? emptyTreeRoot() : Buffer.from(root));
    }
    if (count === leafHashes.length) break;
    let size = 1;
    let node = leafHashes[count] as Uint8Array;
    while (subtreeSizes.length > 0 && subtreeSizes[subtreeSizes.length - 1] === size) {
      subtreeSizes.pop();
      node = hashChildren(subtreeRoots.pop() as Uint8Array, node);
      size *= 2;
    }
    subtreeSizes.push(size);
    subtreeRoots.push(node);
  }
  return roots;
}

/**
 * A tree's compact frontier: the roots of the perfect subtrees that `size`'s binary digits describe, largest (leftmost)
 * first — one per 1-bit of `size`. It is all a signer needs to extend the tree: the root of D[size + k] follows from the
 * frontier of D[size] and the k new leaves, without the first `size` leaves.
 */
export interface MerkleFrontier {
  readonly size: number;
  readonly nodes: readonly Buffer[];
}

/** How many perfect subtrees a tree of `size` leaves has (its frontier's length): the number of 1-bits of `size`. */
export function frontierLength(size: number): number {
  if (!isSize(size)) throw new MerkleInputError(`tree size ${String(size)} is not a size`);
  let n = 0;
  for (let rest = size; rest > 0; rest = Math.floor(rest / 2)) n += rest % 2;
  return n;
}

/** The frontier after appending `leafHashes` to the tree `frontier` describes (the empty tree: `{ size: 0, nodes: [] }`). */
export function extendFrontier(frontier: MerkleFrontier, leafHashes: readonly Uint8Array[]): MerkleFrontier {
  checkLeafHashes(leafHashes);
  if (
    frontier.nodes.length !== frontierLength(frontier.size) ||
    frontier.nodes.some((n) => n.length !== MERKLE_HASH_SIZE)
  ) {
    throw new MerkleInputError(
      `a frontier of a ${frontier.size}-leaf tree needs ${frontierLength(frontier.size)} hashes of ${MERKLE_HASH_SIZE} bytes`,
    );
  }
  // The perfect subtrees' sizes follow from the tree size: its powers of two, largest first.
  const sizes: number[] = [];
  for (let bit = 2 ** 52; bit >= 1; bit /= 2) if (Math.floor(frontier.size / bit) % 2 === 1) sizes.push(bit);
  const nodes: Uint8Array[] = [...frontier.nodes];
  for (const leaf of leafHashes) {
    let size = 1;
    let node: Uint8Array = leaf;
    while (sizes.length > 0 && sizes[sizes.length - 1] === size) {
      sizes.pop();
      node = hashChildren(nodes.pop() as Uint8Array, node);
      size *= 2;
    }
    sizes.push(size);
    nodes.push(node);
  }
  return { size: frontier.size + leafHashes.length, nodes: nodes.map((n) => Buffer.from(n)) };
}

/** MTH of the tree a frontier describes: its subtrees folded from the right (the empty tree's root for size 0). */
export function frontierRoot(frontier: MerkleFrontier): Buffer {
  if (frontier.nodes.length !== frontierLength(frontier.size))
    throw new MerkleInputError("the frontier does not match its tree size");
  let root: Uint8Array | undefined;
  for (let j = frontier.nodes.length - 1; j >= 0; j--)
    root = root === undefined ? frontier.nodes[j] : hashChildren(frontier.nodes[j] as Uint8Array, root);
  return root === undefined ? emptyTreeRoot() : Buffer.from(root);
}

/** PATH(m, D[lo:hi]), RFC 9162 §2.1.3.1, lower levels first. */
function path(leaves: readonly Uint8Array[], m: number, lo: number, hi: number): Buffer[] {
  if (hi - lo <= 1) return [];
  const k = splitPoint(hi - lo);
  if (m < k) return [...path(leaves, m, lo, lo + k), subtreeRoot(leaves, lo + k, hi)];
  return [...path(leaves, m - k, lo + k, hi), subtreeRoot(leaves, lo, lo + k)];
}

/** The inclusion proof (audit path) for leaf `index` in the tree over `leafHashes`. */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Buffer[] {
  checkLeafHashes(leafHashes);
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafHashes.length) {
    throw new MerkleInputError(`leaf index ${String(index)} is outside a tree of size ${leafHashes.length}`);
  }
  return path(leafHashes, index, 0, leafHashes.length);
}

/** SUBPROOF(m, D[lo:hi], b), RFC 9162 §2.1.4.1. */
function subproof(leaves: readonly Uint8Array[], m: number, lo: number, hi: number, complete: boolean): Buffer[] {
  const n = hi - lo;
  if (m === n) return complete ? [] : [subtreeRoot(leaves, lo, hi)];
  const k = splitPoint(n);
  if (m <= k) return [...subproof(leaves, m, lo, lo + k, complete), subtreeRoot(leaves, lo + k, hi)];
  return [...subproof(leaves, m - k, lo + k, hi, false), subtreeRoot(leaves, lo, lo + k)];
}

/** The consistency proof from the tree of the first `size1` leaves to the tree over all of `leafHashes`. */
export function consistencyProof(leafHashes: readonly Uint8Array[], size1: number): Buffer[] {
  checkLeafHashes(leafHashes);
  if (!Number.isSafeInteger(size1) || size1 < 1 || size1 > leafHashes.length) {
    throw new MerkleInputError(`consistency proof needs 0 < size1 ≤ ${leafHashes.length}, got ${String(size1)}`);
  }
  return subproof(leafHashes, size1, 0, leafHashes.length, true);
}

export const MERKLE_FAILURES = [
  "bad_size",
  "index_out_of_range",
  "bad_hash_length",
  "wrong_proof_size",
  "root_mismatch",
  "size_decreased",
  "empty_first_tree",
  "nonempty_proof_for_equal_sizes",
  "empty_proof",
] as const;
export type MerkleFailure = (typeof MERKLE_FAILURES)[number];
export type MerkleCheck = { readonly ok: true } | { readonly ok: false; readonly reason: MerkleFailure };

const OK: MerkleCheck = { ok: true };
const fail = (reason: MerkleFailure): MerkleCheck => ({ ok: false, reason });
const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);
const isPowerOfTwo = (n: number): boolean => {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
};

/**
 * Verify that `leafHash` is leaf `index` of the tree of `size` leaves with root `root`, given its audit path
 * (RFC 9162 §2.1.3.2).
 */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): MerkleCheck {
  if (!isSize(index) || !isSize(size)) return fail("bad_size");
  if (index >= size) return fail("index_out_of_range");
  if (leafHash.length !== MERKLE_HASH_SIZE || root.length !== MERKLE_HASH_SIZE) return fail("bad_hash_length");
  if (proof.some((p) => p.length !== MERKLE_HASH_SIZE)) return fail("bad_hash_length");

  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leafHash;
  for (const p of proof) {
    if (sn === 0) return fail("wrong_proof_size");
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      // Climb past the levels where this node is a left child with no right sibling (the right border).
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return fail("wrong_proof_size");
  return bytesEqual(r, root) ? OK : fail("root_mismatch");
}

/**
 * Verify that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves with root `root1`
 * (RFC 9162 §2.1.4.2). As upstream: `size1 == 0` is refused (a proof from the empty tree is meaningless), and equal
 * sizes verify iff the proof is empty and the roots are the same bytes.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): MerkleCheck {
  if (!isSize(size1) || !isSize(size2)) return fail("bad_size");
  if (size2 < size1) return fail("size_decreased");
  if (size1 === 0) return fail("empty_first_tree");
  if (size1 === size2) {
    if (proof.length > 0) return fail("nonempty_proof_for_equal_sizes");
    return bytesEqual(root1, root2) ? OK : fail("root_mismatch");
  }
  if (proof.length === 0) return fail("empty_proof");
  if (root1.length !== MERKLE_HASH_SIZE || root2.length !== MERKLE_HASH_SIZE) return fail("bad_hash_length");
  if (proof.some((p) => p.length !== MERKLE_HASH_SIZE)) return fail("bad_hash_length");

  // A first tree that is a complete (power-of-two) subtree is its own first proof node.
  const nodes: readonly Uint8Array[] = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = nodes[0] as Uint8Array;
  let sr = fr;
  for (const c of nodes.slice(1)) {
    if (sn === 0) return fail("wrong_proof_size");
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return fail("wrong_proof_size");
  return bytesEqual(fr, root1) && bytesEqual(sr, root2) ? OK : fail("root_mismatch");
}

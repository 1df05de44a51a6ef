/**
 * RFC 9162 Merkle tree against transparency-dev/merkle's vectors (copied into test/data/vectors/merkle): every
 * inclusion and consistency case verifies iff `wantErr` is false, the RFC 6962 reference hashes and roots, and a
 * property test over random trees.
 */
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  consistencyProof,
  emptyTreeRoot,
  extendFrontier,
  frontierLength,
  frontierRoot,
  hashChildren,
  hashLeaf,
  inclusionProof,
  MerkleInputError,
  type MerkleFrontier,
  merkleRoot,
  merkleRootsAt,
  verifyConsistency,
  verifyInclusion,
} from "./index.js";

const merkleDir = fileURLToPath(new URL("../../../../test/data/vectors/merkle/", import.meta.url));
const b64 = (s: string): Buffer => Buffer.from(s, "base64");
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function jsonFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? jsonFilesUnder(join(dir, d.name)) : d.name.endsWith(".json") ? [join(dir, d.name)] : [],
  );
}
const load = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
const cases = (sub: string): [string, Record<string, unknown>][] =>
  jsonFilesUnder(join(merkleDir, "testdata", sub)).map((f) => [relative(join(merkleDir, "testdata"), f), load(f)]);

interface InclusionCase {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  wantErr: boolean;
}
interface ConsistencyCase {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  wantErr: boolean;
}

describe("upstream inclusion vectors", () => {
  const all = cases("inclusion");
  it("finds all of them", () => {
    expect(all).toHaveLength(98);
    expect(all.filter(([, c]) => c["wantErr"] === false).length).toBeGreaterThan(5);
  });
  it.each(all)("%s", (_file, raw) => {
    const c = raw as unknown as InclusionCase;
    const result = verifyInclusion(c.leafIdx, c.treeSize, b64(c.leafHash), (c.proof ?? []).map(b64), b64(c.root));
    expect(result.ok).toBe(!c.wantErr);
  });
});

describe("upstream consistency vectors", () => {
  const all = cases("consistency");
  it("finds all of them", () => {
    expect(all).toHaveLength(98);
  });
  it.each(all)("%s", (_file, raw) => {
    const c = raw as unknown as ConsistencyCase;
    const result = verifyConsistency(c.size1, c.size2, (c.proof ?? []).map(b64), b64(c.root1), b64(c.root2));
    expect(result.ok).toBe(!c.wantErr);
  });
});

describe("RFC 6962 reference hashes", () => {
  const ref = load(join(merkleDir, "rfc6962-reference.json")) as {
    hasher: { op: string; input_utf8?: string; left_utf8?: string; right_utf8?: string; want_hex: string }[];
    leaf_inputs_hex: string[];
    node_hashes_hex_by_level: string[][];
    root_hashes_hex_by_tree_size: string[];
  };
  const leaves = ref.leaf_inputs_hex.map((h) => hashLeaf(Buffer.from(h, "hex")));

  it("empty tree, leaf and node hashes", () => {
    for (const v of ref.hasher) {
      const got =
        v.op === "empty"
          ? emptyTreeRoot()
          : v.op === "leaf"
            ? hashLeaf(Buffer.from(v.input_utf8 ?? "", "utf8"))
            : hashChildren(Buffer.from(v.left_utf8 ?? "", "utf8"), Buffer.from(v.right_utf8 ?? "", "utf8"));
      expect(hex(got)).toBe(v.want_hex);
    }
  });

  it("the level-0 node hashes are the leaf hashes, and each level hashes the pairs below it", () => {
    expect(leaves.map(hex)).toEqual(ref.node_hashes_hex_by_level[0]);
    for (let level = 1; level < ref.node_hashes_hex_by_level.length; level++) {
      const below = (ref.node_hashes_hex_by_level[level - 1] ?? []).map((h) => Buffer.from(h, "hex"));
      const want = ref.node_hashes_hex_by_level[level] ?? [];
      want.forEach((h, i) => expect(hex(hashChildren(below[2 * i] as Buffer, below[2 * i + 1] as Buffer))).toBe(h));
    }
  });

  it("roots for tree sizes 0-8", () => {
    expect(ref.root_hashes_hex_by_tree_size).toHaveLength(9);
    ref.root_hashes_hex_by_tree_size.forEach((want, n) => expect(hex(merkleRoot(leaves.slice(0, n)))).toBe(want));
  });

  it("generated proofs over the reference tree match upstream verify_test.go and verify", () => {
    const roots = ref.root_hashes_hex_by_tree_size.map((h) => Buffer.from(h, "hex"));
    // Leaf 1 of 8 and 6 of 8 (upstream's inclusionProofs {1,8} and {6,8}, 0-based here as 0 and 5).
    expect(inclusionProof(leaves, 0).map(hex)).toEqual([
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]);
    expect(consistencyProof(leaves.slice(0, 5), 2).map(hex)).toEqual([
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]);
    for (let n = 1; n <= 8; n++) {
      for (let i = 0; i < n; i++) {
        expect(
          verifyInclusion(i, n, leaves[i] as Buffer, inclusionProof(leaves.slice(0, n), i), roots[n] as Buffer),
        ).toEqual({ ok: true });
      }
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(leaves.slice(0, n), m);
        expect(verifyConsistency(m, n, proof, roots[m] as Buffer, roots[n] as Buffer)).toEqual({ ok: true });
      }
    }
  });
});

describe("verification reasons and generation errors", () => {
  const leaves = Array.from({ length: 5 }, (_, i) => hashLeaf(Buffer.from([i])));
  const root = merkleRoot(leaves);

  it("names why an inclusion proof fails", () => {
    const proof = inclusionProof(leaves, 2);
    expect(verifyInclusion(5, 5, leaves[2] as Buffer, proof, root)).toEqual({
      ok: false,
      reason: "index_out_of_range",
    });
    expect(verifyInclusion(-1, 5, leaves[2] as Buffer, proof, root)).toEqual({ ok: false, reason: "bad_size" });
    expect(verifyInclusion(2, 5, Buffer.alloc(31), proof, root)).toEqual({ ok: false, reason: "bad_hash_length" });
    expect(verifyInclusion(2, 5, leaves[2] as Buffer, proof.slice(1), root)).toEqual({
      ok: false,
      reason: "wrong_proof_size",
    });
    expect(verifyInclusion(2, 5, leaves[2] as Buffer, [...proof, root], root)).toEqual({
      ok: false,
      reason: "wrong_proof_size",
    });
    expect(verifyInclusion(2, 5, leaves[3] as Buffer, proof, root)).toEqual({ ok: false, reason: "root_mismatch" });
  });

  it("names why a consistency proof fails", () => {
    const r2 = merkleRoot(leaves.slice(0, 2));
    expect(verifyConsistency(0, 5, [], emptyTreeRoot(), root)).toEqual({ ok: false, reason: "empty_first_tree" });
    expect(verifyConsistency(0, 0, [], emptyTreeRoot(), emptyTreeRoot())).toEqual({
      ok: false,
      reason: "empty_first_tree",
    });
    expect(verifyConsistency(5, 2, [], root, r2)).toEqual({ ok: false, reason: "size_decreased" });
    expect(verifyConsistency(5, 5, [root], root, root)).toEqual({
      ok: false,
      reason: "nonempty_proof_for_equal_sizes",
    });
    expect(verifyConsistency(5, 5, [], root, root)).toEqual({ ok: true });
    expect(verifyConsistency(2, 5, [], r2, root)).toEqual({ ok: false, reason: "empty_proof" });
    expect(verifyConsistency(2, 5, consistencyProof(leaves, 2), r2, root)).toEqual({ ok: true });
    expect(verifyConsistency(2, 5, consistencyProof(leaves, 2), root, root)).toEqual({
      ok: false,
      reason: "root_mismatch",
    });
  });

  it("refuses to generate proofs for impossible positions or malformed leaf hashes", () => {
    expect(() => inclusionProof(leaves, 5)).toThrow(MerkleInputError);
    expect(() => inclusionProof([], 0)).toThrow(MerkleInputError);
    expect(() => consistencyProof(leaves, 0)).toThrow(MerkleInputError);
    expect(() => consistencyProof(leaves, 6)).toThrow(MerkleInputError);
    expect(() => merkleRoot([Buffer.alloc(20)])).toThrow(MerkleInputError);
    expect(consistencyProof(leaves, 5)).toEqual([]);
    expect(inclusionProof(leaves.slice(0, 1), 0)).toEqual([]);
  });
});

describe("property: generated proofs verify, and a flipped bit does not", () => {
  const tree = fc
    .integer({ min: 1, max: 70 })
    .map((n) => Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`leaf-${n}-${i}`))));
  const flip = (proof: readonly Buffer[], at: number, bit: number): Buffer[] =>
    proof.map((p, i) =>
      i === at ? Buffer.from(p.map((byte, j) => (j === bit >> 3 ? byte ^ (1 << (bit & 7)) : byte))) : p,
    );

  it("inclusion", () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat({ max: 255 }), (leaves, rawIndex, rawAt, bit) => {
        const index = rawIndex % leaves.length;
        const root = merkleRoot(leaves);
        const proof = inclusionProof(leaves, index);
        expect(verifyInclusion(index, leaves.length, leaves[index] as Buffer, proof, root).ok).toBe(true);
        if (proof.length > 0) {
          expect(
            verifyInclusion(index, leaves.length, leaves[index] as Buffer, flip(proof, rawAt % proof.length, bit), root)
              .ok,
          ).toBe(false);
        }
        const badLeaf = Buffer.from(leaves[index] as Buffer);
        badLeaf[bit >> 3] = (badLeaf[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(verifyInclusion(index, leaves.length, badLeaf, proof, root).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("consistency", () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat({ max: 255 }), (leaves, rawSize1, rawAt, bit) => {
        const size1 = 1 + (rawSize1 % leaves.length);
        const root1 = merkleRoot(leaves.slice(0, size1));
        const root2 = merkleRoot(leaves);
        const proof = consistencyProof(leaves, size1);
        expect(verifyConsistency(size1, leaves.length, proof, root1, root2).ok).toBe(true);
        if (proof.length > 0) {
          expect(verifyConsistency(size1, leaves.length, flip(proof, rawAt % proof.length, bit), root1, root2).ok).toBe(
            false,
          );
        }
        if (size1 < leaves.length) {
          // A tree that rewrote history (a different leaf below size1) is not consistent with the old root.
          const forked = leaves.map((l, i) => (i === 0 ? hashLeaf(Buffer.from("forked")) : l));
          expect(
            verifyConsistency(size1, leaves.length, consistencyProof(forked, size1), root1, merkleRoot(forked)).ok,
          ).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("merkleRootsAt: every root a verifier needs, in one pass", () => {
  it("equals merkleRoot of each prefix, for every size and any order or repetition of sizes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.array(fc.nat(), { maxLength: 12 }), (n, raw) => {
        const leaves = Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`leaf-${i}`)));
        const sizes = [...raw.map((r) => r % (n + 1)), n];
        const roots = merkleRootsAt(leaves, sizes);
        for (const size of sizes) expect(hex(roots.get(size) as Buffer)).toBe(hex(merkleRoot(leaves.slice(0, size))));
        expect(roots.size).toBe(new Set(sizes).size);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a size beyond the leaves, or a malformed leaf hash", () => {
    const leaves = [hashLeaf(Buffer.from("a")), hashLeaf(Buffer.from("b"))];
    expect(() => merkleRootsAt(leaves, [3])).toThrow(MerkleInputError);
    expect(() => merkleRootsAt(leaves, [-1])).toThrow(MerkleInputError);
    expect(() => merkleRootsAt([Buffer.alloc(31)], [1])).toThrow(MerkleInputError);
  });
});

describe("frontiers: extending a tree without its earlier leaves", () => {
  it("extending in any number of steps gives the root of the whole prefix, with one hash per 1-bit of the size", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 6 }), (steps) => {
        const leaves = Array.from({ length: steps.reduce((a, b) => a + b, 0) }, (_, i) =>
          hashLeaf(Buffer.from(`leaf-${i}`)),
        );
        let frontier: MerkleFrontier = { size: 0, nodes: [] };
        let at = 0;
        for (const k of steps) {
          frontier = extendFrontier(frontier, leaves.slice(at, at + k));
          at += k;
          expect(frontier.size).toBe(at);
          expect(frontier.nodes).toHaveLength(frontierLength(at));
          expect(hex(frontierRoot(frontier))).toBe(hex(merkleRoot(leaves.slice(0, at))));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("the empty tree, a power of two, and sizes past 2^32 are counted right", () => {
    expect(hex(frontierRoot({ size: 0, nodes: [] }))).toBe(hex(emptyTreeRoot()));
    expect(frontierLength(1024)).toBe(1);
    expect(frontierLength(2 ** 40 + 2 ** 33 + 1)).toBe(3);
  });

  it("refuses a frontier whose hashes do not match its size", () => {
    const leaf = hashLeaf(Buffer.from("a"));
    expect(() => extendFrontier({ size: 3, nodes: [leaf] }, [leaf])).toThrow(MerkleInputError);
    expect(() => extendFrontier({ size: 1, nodes: [Buffer.alloc(31)] }, [leaf])).toThrow(MerkleInputError);
    expect(() => frontierRoot({ size: 2, nodes: [] })).toThrow(MerkleInputError);
  });
});

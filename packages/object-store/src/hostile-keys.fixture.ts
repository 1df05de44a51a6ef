/**
 * Keys and prefixes a workspace's store must refuse (`WorkspaceScopeError`, before any I/O), shared by the local and
 * the S3 backend's tests. `own` is the store's workspace, `other` another one.
 */
import type { WorkspaceId } from "@praxa/core";

export function hostileKeys(own: WorkspaceId, other: WorkspaceId): readonly (readonly [string, unknown])[] {
  return [
    ["another workspace's key", `ws/${other}/exports/a.tar.gz`],
    ["dot-dot into another workspace", `ws/${own}/../${other}/a`],
    ["dot-dot deeper", `ws/${own}/exports/../../${other}/a`],
    ["dot-dot out of the store", `ws/${own}/../../../../etc/passwd`],
    ["trailing dot-dot", `ws/${own}/a/..`],
    ["dot segment", `ws/${own}/./a`],
    ["hidden segment (temp-file look-alike)", `ws/${own}/.tmp-0123`],
    ["absolute path", `/ws/${own}/a`],
    ["absolute system path", "/etc/passwd"],
    ["relative key without the prefix", "exports/a.tar.gz"],
    ["bare ws/", "ws/"],
    ["the workspace prefix without a slash", `ws/${own}`],
    ["the workspace prefix alone", `ws/${own}/`],
    ["upper-cased prefix", `WS/${own}/a`],
    ["upper-cased workspace id", `ws/${own.toUpperCase()}/a`],
    ["not a workspace id", "ws/not-a-workspace/a"],
    ["percent-encoded dot-dot", `ws/${own}/%2e%2e/${other}/a`],
    ["percent-encoded slash", `ws/${own}/a%2F..%2F..%2F${other}%2Fa`],
    ["percent-encoded backslash", `ws/${own}/a%5C..%5Cb`],
    ["double-encoded slash", `ws/${own}/a%252Fb`],
    ["backslash traversal", `ws/${own}\\..\\${other}\\a`],
    ["backslash in a segment", `ws/${own}/a\\b`],
    ["empty segment", `ws/${own}//a`],
    ["trailing slash (empty last segment)", `ws/${own}/a/`],
    ["NUL byte", `ws/${own}/a\u0000.txt`],
    ["newline", `ws/${own}/a\nb`],
    ["carriage return", `ws/${own}/a\rb`],
    ["tab", `ws/${own}/a\tb`],
    ["DEL", `ws/${own}/a\u007f`],
    ["space", `ws/${own}/a b`],
    ["fullwidth dots", `ws/${own}/\uff0e\uff0e/${other}/a`],
    ["division slash", `ws/${own}/..\u2215${other}`],
    ["unicode letters", `ws/${own}/r\u00e9sum\u00e9.pdf`],
    ["query character", `ws/${own}/a?x-id=GetObject`],
    ["fragment character", `ws/${own}/a#b`],
    ["too long", `ws/${own}/${"a".repeat(1100)}`],
    ["segment longer than 255", `ws/${own}/${"a".repeat(256)}`],
    ["empty string", ""],
    ["not a string", 42],
    ["null", null],
  ];
}

export function hostilePrefixes(own: WorkspaceId, other: WorkspaceId): readonly (readonly [string, unknown])[] {
  return [
    ["another workspace's prefix", `ws/${other}/`],
    ["every workspace", "ws/"],
    ["everything", ""],
    ["root", "/"],
    ["the workspace prefix without its slash", `ws/${own}`],
    ["a shorter id (prefix of many workspaces)", `ws/${own.slice(0, 10)}`],
    ["dot-dot", `ws/${own}/../`],
    ["trailing dot-dot", `ws/${own}/..`],
    ["empty segment", `ws/${own}//`],
    ["percent-encoded", `ws/${own}/%2e%2e/`],
    ["control character", `ws/${own}/a\u0000`],
    ["absolute", `/ws/${own}/`],
  ];
}

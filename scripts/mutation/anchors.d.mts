/**
 * Resolve one `mutate` entry of scripts/mutation/modules.json (relative to `root`): an anchor (`file#name`,
 * `file#from..to`, `file#name()`) becomes Stryker line ranges (`file:first-last`); any other entry is returned as it is.
 */
export function resolveAnchor(root: string, entry: string): string | string[];

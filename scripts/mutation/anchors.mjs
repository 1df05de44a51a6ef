// The anchors of scripts/mutation/modules.json: a mutate entry may name part of a file by its declarations instead of
// by line numbers, which go stale whenever the file changes (a stale range mutates lines outside the promise, or
// misses some of it). Resolved to Stryker's `file:first-last` on every run of js-mutations.mjs:
//   file.ts#name        the lines of the one declaration named `name` (function, class or variable, at any depth)
//   file.ts#from..to    from the first line of `from` to the last line of `to`
//   file.ts#name()      the statements that call `name` (with the `if` that guards the call, when it has no block)
// An anchor that matches no declaration, or more than one, throws with the entry named: the run stops rather than
// mutate the wrong lines. test/lint/mutation-anchors.test.ts resolves every entry of modules.json in the ordinary
// suite, so a rename breaks a test before it breaks the gate.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

/** `file#name`, `file#from..to` or `file#name()` → `file:first-last` (see the header); any other entry as it is. */
export function resolveAnchor(root, entry) {
  const m = /^([^#]+)#([A-Za-z_$][\w$]*)(\(\)|\.\.([A-Za-z_$][\w$]*))?$/.exec(entry);
  if (!m) {
    if (entry.includes("#")) throw new Error(`modules.json: cannot read the anchor of ${entry}`);
    return entry;
  }
  const [, file, from, suffix, to] = m;
  const path = join(root, file);
  if (!existsSync(path)) throw new Error(`modules.json: ${entry}: no file ${file}`);
  const sf = ts.createSourceFile(file, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
  const lineOf = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  if (suffix === "()") {
    const statements = [];
    const visit = (node) => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === from) {
        let st = node;
        while (!ts.isStatement(st)) st = st.parent;
        if (ts.isIfStatement(st.parent) && st.parent.thenStatement === st) st = st.parent;
        statements.push(st);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    if (statements.length === 0) throw new Error(`modules.json: ${entry}: nothing in ${file} calls ${from}`);
    return statements.map((st) => `${file}:${lineOf(st.getStart(sf))}-${lineOf(st.getEnd())}`);
  }
  const declaration = (name) => {
    const found = [];
    const look = (node) => {
      if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name?.text === name) found.push(node);
      else if (
        ts.isVariableStatement(node) &&
        node.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name)
      )
        found.push(node);
      ts.forEachChild(node, look);
    };
    look(sf);
    if (found.length !== 1)
      throw new Error(
        `modules.json: ${entry}: ${found.length} declarations named ${name} in ${file} (need exactly one)`,
      );
    return found[0];
  };
  const first = lineOf(declaration(from).getStart(sf));
  const last = lineOf(declaration(to ?? from).getEnd());
  if (last < first) throw new Error(`modules.json: ${entry}: ${to} comes before ${from}`);
  return `${file}:${first}-${last}`;
}

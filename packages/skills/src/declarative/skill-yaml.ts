/**
 * A Skill document as the customer writes it — YAML or JSON (JSON is YAML) — read with the `yaml` package and compiled
 * (`compileSkillDocument`). A YAML syntax error names its line and column; a document error names its field.
 */
import { parseDocument } from "yaml";
import { compileSkillDocument, SkillDocumentError, type SkillManifest } from "@praxa/core";

/** The document's data, or `SkillDocumentError` naming where the YAML is broken. */
export function readSkillYaml(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new SkillDocumentError(
      doc.errors.slice(0, 5).map((e) => ({
        path: e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "(root)",
        message: e.code === "DUPLICATE_KEY" ? "a key appears twice" : "not valid YAML here",
      })),
    );
  return doc.toJS({ maxAliasCount: 50 }) as unknown;
}

/** Read and compile a Skill document: the manifest that would be published. */
export function compileSkillYaml(text: string): SkillManifest {
  return compileSkillDocument(readSkillYaml(text));
}

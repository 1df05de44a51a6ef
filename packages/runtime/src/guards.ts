/**
 * Constraints live in middleware, not prompts. Given the manifest a run is pinned to, these checks decide — in code —
 * which trigger may start it, which tools the model is offered and may call, which memory namespace it may touch and
 * which sub-agents it may dispatch, and how deep. The order of the pre-call chain is fixed: trigger source, tool
 * allowlist, memory namespace, sub-agent dispatch.
 */
import type { SkillManifest } from "@praxa/core";
import {
  MemoryNamespaceError,
  SubAgentNotAllowedError,
  ToolNotAllowedError,
  TriggerNotAllowedError,
} from "./guard-errors.js";

/** Refuse a run whose trigger is not in the manifest. Runs before any model request. */
export function guardTrigger(manifest: SkillManifest, trigger: string): void {
  if (!manifest.triggers.includes(trigger))
    throw new TriggerNotAllowedError("this Skill is not allowed to run on this trigger", { details: { trigger } });
}

/**
 * The tools the model is offered: the manifest's allowlist, intersected with the tools the runtime actually has.
 * A tool in the allowlist that is not registered is a configuration error, refused up front.
 */
export function toolsOffered(manifest: SkillManifest, registered: ReadonlySet<string>): string[] {
  const missing = manifest.tools.filter((t) => !registered.has(t));
  if (missing.length > 0)
    throw new ToolNotAllowedError("the manifest allows tools the runtime does not provide", {
      details: { tools: missing },
    });
  return [...manifest.tools];
}

/**
 * Refuse a tool call outside the allowlist — including one the model asked for by name after reading a prompt
 * injection. `toolName` is the model's text: it is never echoed; the telemetry records `unknown` for an unregistered name.
 */
export function guardToolCall(manifest: SkillManifest, toolName: string, registered: ReadonlySet<string>): void {
  if (!manifest.tools.includes(toolName)) {
    throw new ToolNotAllowedError("the model asked for a tool outside this Skill’s allowlist", {
      details: { tool: registered.has(toolName) ? toolName : "unknown" },
    });
  }
}

/** Refuse memory access outside the manifest's namespace (or any, if it has none). */
export function guardMemory(manifest: SkillManifest, namespace: string): void {
  if (manifest.memory === null || manifest.memory.namespace !== namespace) {
    throw new MemoryNamespaceError("this Skill may not touch that memory namespace");
  }
}

/** Refuse a sub-agent dispatch to a Skill not listed, or beyond the depth limit. `depth` is the caller's own depth (0 = top). */
export function guardSubAgent(manifest: SkillManifest, targetSlug: string, depth: number): void {
  if (!manifest.tools.includes("subagent.dispatch") || !manifest.subAgents.allowed.includes(targetSlug)) {
    throw new SubAgentNotAllowedError("this Skill may not dispatch that sub-agent");
  }
  if (depth + 1 > manifest.subAgents.maxDepth) {
    throw new SubAgentNotAllowedError("sub-agent depth limit reached", {
      details: { maxDepth: manifest.subAgents.maxDepth },
    });
  }
}

export interface PreCallContext {
  readonly manifest: SkillManifest;
  readonly trigger: string;
  readonly registeredTools: ReadonlySet<string>;
  /** The memory namespace the run will read, if any. */
  readonly memoryNamespace?: string;
  /** For a sub-agent run: its parent's slug list position and depth. */
  readonly subAgent?: { readonly slug: string; readonly parentManifest: SkillManifest; readonly parentDepth: number };
}

/** The pre-call chain, in its fixed order. Returns the tools to offer the model. Throws before any model request. */
export function runPreCallGuards(ctx: PreCallContext): string[] {
  guardTrigger(ctx.manifest, ctx.trigger);
  const offered = toolsOffered(ctx.manifest, ctx.registeredTools);
  if (ctx.memoryNamespace !== undefined) guardMemory(ctx.manifest, ctx.memoryNamespace);
  if (ctx.subAgent) guardSubAgent(ctx.subAgent.parentManifest, ctx.subAgent.slug, ctx.subAgent.parentDepth);
  return offered;
}

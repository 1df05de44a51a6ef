/**
 * Configuration as code may only narrow what a Skill may do. `narrows(pinned, candidate)` is true when the candidate
 * allows nothing the pinned manifest does not: triggers, tools and sub-agents are subsets, the memory namespace is the
 * same or none, and the limits are no higher; every tool that needed a human's approval still does, under the same
 * terms. Identity fields (slug, name, model, acceptance, notify) must not change.
 */
import type { SkillManifest } from "@praxa/core";

const subset = (a: readonly string[], b: readonly string[]): boolean => a.every((x) => b.includes(x));

export function narrows(pinned: SkillManifest, candidate: SkillManifest): boolean {
  return (
    candidate.slug === pinned.slug &&
    subset(candidate.triggers, pinned.triggers) &&
    subset(candidate.tools, pinned.tools) &&
    (candidate.memory === null || (pinned.memory !== null && candidate.memory.namespace === pinned.memory.namespace)) &&
    subset(candidate.subAgents.allowed, pinned.subAgents.allowed) &&
    candidate.subAgents.maxDepth <= pinned.subAgents.maxDepth &&
    candidate.maxIterations <= pinned.maxIterations &&
    JSON.stringify(candidate.model) === JSON.stringify(pinned.model) &&
    JSON.stringify(candidate.acceptance) === JSON.stringify(pinned.acceptance) &&
    JSON.stringify(candidate.notify) === JSON.stringify(pinned.notify) &&
    approvalNarrows(pinned, candidate)
  );
}

function approvalNarrows(pinned: SkillManifest, candidate: SkillManifest): boolean {
  if (!pinned.approval) return true;
  if (!candidate.approval) return pinned.approval.tools.every((t) => !candidate.tools.includes(t));
  const { tools: _p, ...pinnedTerms } = pinned.approval;
  const { tools: _c, ...candidateTerms } = candidate.approval;
  return (
    pinned.approval.tools.every((t) => !candidate.tools.includes(t) || candidate.approval?.tools.includes(t)) &&
    JSON.stringify(pinnedTerms) === JSON.stringify(candidateTerms)
  );
}

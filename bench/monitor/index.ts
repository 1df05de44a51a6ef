/**
 * bench/monitor — the quality monitor's acceptance figures for 10k Skills × 100 decisions, recomputed.
 * "ours": `app.acceptance_for` over every Skill — per Skill, its newest manifest's window, threshold and minimum, and
 * its last `window` decided actions (folded per action: the latest verdict of each human; bots never) — what the
 * monitor's pass runs. "baseline": a plain `GROUP BY skill_id` count of the same feedback rows (no window, no manifest,
 * no per-human latest verdict). Both alternate in rounds so machine noise hits both alike. One decision per action
 * here and window = 100, so both count the same rows and their totals must agree (checked).
 * Also measured: the monitor's real pass (`monitor_acceptance_pass`, as praxa_monitor, every Skill marked changed:
 * recompute + samples + state), and the write-side cost of folding (feedback inserts with the fold trigger vs without).
 */
import postgres from "postgres";
import { createTestDatabase, sampleManifest } from "@praxa/db";

const SKILLS = Number(process.env.BENCH_SKILLS ?? 10_000);
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 100);
const WORKSPACES = Math.max(1, Math.floor(SKILLS / 100));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WRITE_ROWS = Number(process.env.BENCH_WRITE_ROWS ?? 20_000);

const tdb = await createTestDatabase({ prefix: "praxa_bench_monitor" });
const admin = postgres(tdb.adminUrl, { max: 1, onnotice: () => {} });
const monitor = postgres(tdb.roleUrl("praxa_monitor"), { max: 1, onnotice: () => {} });
const seconds = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
// TypeID-shaped ids from md5 (hex is inside the TypeID alphabet): prefix_0 + 25 characters.
const tid = (prefix: string, expr: string) => `'${prefix}_0' || substr(md5(${expr}), 1, 25)`;

try {
  const t0 = performance.now();
  const manifest = JSON.stringify(
    sampleManifest({ acceptance: { threshold: 0.7, window: DECISIONS, minSamples: 20 }, notify: [] }),
  );
  await admin.unsafe(`
    insert into tenants (id, name) values (${tid("tn", "'bench'")}, 'bench');
    insert into workspaces (id, tenant_id, name)
      select ${tid("ws", "'ws' || w")}, ${tid("tn", "'bench'")}, 'w' || w from generate_series(1, ${WORKSPACES}) w;
    insert into skills (workspace_id, id, slug, name)
      select ${tid("ws", "'ws' || (1 + (s - 1) % " + WORKSPACES + ")")}, ${tid("sk", "'sk' || s")}, 's' || s, 'skill ' || s from generate_series(1, ${SKILLS}) s;
    insert into skill_versions (workspace_id, id, skill_id, version, manifest, manifest_hash)
      select s.workspace_id, ${tid("sv", "s.id")}, s.id, 1, '${manifest}'::jsonb, repeat('a', 64) from skills s;
    insert into agent_runs (workspace_id, id, skill_id, skill_version_id, trigger, source, status)
      select v.workspace_id, ${tid("rn", "v.skill_id || '-' || k")}, v.skill_id, v.id, 'github.pull_request.opened', 'github', 'succeeded'
        from skill_versions v, generate_series(1, ${DECISIONS}) k;`);
  console.log(
    `loaded ${SKILLS.toLocaleString()} skills × ${DECISIONS} runs in ${WORKSPACES} workspaces in ${seconds(t0)} s`,
  );

  // Feedback: one human verdict per action, ~80% accepted, and one bot verdict per Skill (never counted by us).
  const t1 = performance.now();
  await admin.begin(async (tx) => {
    await tx.unsafe(`set local session_replication_role = replica`); // bulk load: fold below in one statement instead of per row
    await tx.unsafe(`
      insert into skill_feedback (workspace_id, run_id, skill_id, verdict, source, actor_id, actor_is_bot)
        select r.workspace_id, r.id, r.skill_id, case when abs(hashtext(r.id)) % 10 < 8 then 'accepted' else 'rejected' end, 'api', 'mb_human', false
          from agent_runs r;
      insert into skill_feedback (workspace_id, run_id, skill_id, verdict, source, actor_id, actor_is_bot)
        select distinct on (r.skill_id) r.workspace_id, r.id, r.skill_id, 'rejected', 'github', '41898282', true from agent_runs r order by r.skill_id, r.id;`);
    await tx.unsafe(`
      insert into skill_action_verdicts (workspace_id, run_id, skill_id, votes, accepted_votes, rejected_votes, decided_at, updated_at)
        select f.workspace_id, f.run_id, f.skill_id, jsonb_object_agg(f.source || ':' || f.actor_id, f.verdict),
               count(*) filter (where f.verdict = 'accepted'), count(*) filter (where f.verdict = 'rejected'),
               now() - make_interval(secs => abs(hashtext(f.run_id)) % 100000), now()
          from skill_feedback f where not f.actor_is_bot group by f.workspace_id, f.run_id, f.skill_id;
      insert into skill_acceptance (workspace_id, skill_id, dirty) select workspace_id, id, true from skills;`);
  });
  await admin.unsafe("vacuum analyze");
  console.log(
    `feedback: ${(SKILLS * DECISIONS + SKILLS).toLocaleString()} rows (folded per action) in ${seconds(t1)} s`,
  );

  const ours = () =>
    admin.unsafe<{ decided: string; accepted: string; n: string }[]>(
      `select sum(decided) as decided, sum(accepted) as accepted, count(*) as n from app.acceptance_for(array(select id from skills))`,
    );
  const baseline = () =>
    admin.unsafe<{ decided: string; accepted: string; n: string }[]>(`
      select sum(d) as decided, sum(a) as accepted, count(*) as n
        from (select skill_id, count(*) as d, count(*) filter (where verdict = 'accepted') as a from skill_feedback where not actor_is_bot group by skill_id) g`);
  const [o] = await ours();
  const [b] = await baseline();
  if (!o || !b || o.decided !== b.decided || o.accepted !== b.accepted || o.n !== b.n)
    throw new Error(`results differ: ours ${JSON.stringify(o)} baseline ${JSON.stringify(b)}`);
  console.log(
    `check: both count ${Number(o.decided).toLocaleString()} decisions, ${Number(o.accepted).toLocaleString()} accepted, over ${Number(o.n).toLocaleString()} skills`,
  );

  const time = async (fn: () => Promise<unknown>) => {
    const s = performance.now();
    await fn();
    return performance.now() - s;
  };
  const oursMs: number[] = [];
  const baseMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    baseMs.push(await time(baseline));
    oursMs.push(await time(ours));
  }
  const median = (xs: number[]) => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)] ?? 0;
  const oursMed = median(oursMs);
  const baseMed = median(baseMs);
  console.log(
    `recompute all (median of ${ROUNDS}): ours ${oursMed.toFixed(0)} ms, plain GROUP BY ${baseMed.toFixed(0)} ms; ours/baseline = ${(oursMed / baseMed).toFixed(2)}×`,
  );

  // The monitor's real pass, as praxa_monitor: every Skill marked changed.
  const passMs = await time(() => monitor.unsafe(`select count(*) from public.monitor_acceptance_pass(${SKILLS})`));
  const [samples] = await admin<{ n: string }[]>`select count(*) as n from skill_acceptance_samples`;
  console.log(
    `monitor_acceptance_pass over ${SKILLS.toLocaleString()} changed skills (recompute + ${Number(samples?.n ?? 0).toLocaleString()} samples + state): ${passMs.toFixed(0)} ms`,
  );

  // Write side: feedback inserted with the fold trigger vs the same rows without it.
  const insertMs = async (replica: boolean) =>
    time(() =>
      admin.begin(async (tx) => {
        if (replica) await tx.unsafe("set local session_replication_role = replica");
        await tx.unsafe(`insert into skill_feedback (workspace_id, run_id, skill_id, verdict, source, actor_id, actor_is_bot)
          select r.workspace_id, r.id, r.skill_id, 'rejected', 'slack', 'U${replica ? "PLAIN" : "FOLD"}', false from agent_runs r order by r.id limit ${WRITE_ROWS}`);
      }),
    );
  const plainWrite = await insertMs(true);
  const foldWrite = await insertMs(false);
  console.log(
    `write side, ${WRITE_ROWS.toLocaleString()} verdicts in one statement: with the fold trigger ${foldWrite.toFixed(0)} ms (${((WRITE_ROWS / foldWrite) * 1000).toFixed(0)}/s), without ${plainWrite.toFixed(0)} ms`,
  );

  console.log(
    JSON.stringify({
      bench: "monitor",
      ratio: Number((baseMed / oursMed).toFixed(3)),
      unit: "ms to recompute every Skill (baseline/ours, higher is better)",
      ours: Number(oursMed.toFixed(0)),
      baseline: Number(baseMed.toFixed(0)),
      skills: SKILLS,
      decisions: DECISIONS,
      pass_ms: Number(passMs.toFixed(0)),
      fold_write_ms: Number(foldWrite.toFixed(0)),
      plain_write_ms: Number(plainWrite.toFixed(0)),
    }),
  );
} finally {
  await monitor.end({ timeout: 5 });
  await admin.end({ timeout: 5 });
  await tdb.drop();
}

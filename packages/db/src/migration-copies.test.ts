/**
 * 0028 re-creates `ingest_create_runs` with one more parameter (the traceparent). Its body must stay 0027's — the
 * fleet-control logic lives there — with exactly the traceparent added: this compares the two definitions as text.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS_DIR } from "./migrate.js";

function definition(file: string): string {
  const sql = readFileSync(join(MIGRATIONS_DIR, file), "utf8");
  const start = sql.indexOf("CREATE FUNCTION public.ingest_create_runs(");
  const end = sql.indexOf("END $$;", start);
  expect(start).toBeGreaterThanOrEqual(0);
  return sql.slice(start, end + "END $$;".length);
}

describe("0028's copy of ingest_create_runs", () => {
  it("is 0027's body with the traceparent parameter and column added, nothing else", () => {
    const copied = definition("0028_traces_ingest_one_trip.sql")
      .replace(
        "p_integration_id text DEFAULT NULL,\n    p_traceparent text DEFAULT NULL)",
        "p_integration_id text DEFAULT NULL)",
      )
      .replace(
        "dispatched_at, dispatch_seq,\n                                   traceparent)",
        "dispatched_at, dispatch_seq)",
      )
      .replace(
        "CASE WHEN v_dispatch THEN 1 ELSE 0 END,\n            p_traceparent);",
        "CASE WHEN v_dispatch THEN 1 ELSE 0 END);",
      );
    expect(copied).toBe(definition("0027_fleet_control.sql"));
  });
});

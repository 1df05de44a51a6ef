/** Benches' CPU accounting of other processes (the database's backends), read from Linux's /proc. */
import { readFileSync } from "node:fs";

/** CPU ms (utime + stime) of one Linux process, or null where /proc does not show it. */
export function procCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // fields 14, 15 in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/**
 * The entry-point frame every app shares: start, then on SIGTERM or SIGINT close gracefully (stop taking work, finish
 * what is in flight, close pools) within a bound, and exit. A start-up failure prints the error's safe message only.
 */
export interface RunningApp {
  close(): Promise<void>;
}

export function runProcess(
  name: string,
  start: () => Promise<RunningApp>,
  options: { closeTimeoutMs?: number } = {},
): void {
  start().then(
    (running) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        const timer = setTimeout(() => {
          process.stderr.write(`${name}: did not close within ${options.closeTimeoutMs ?? 25_000} ms; exiting\n`);
          process.exit(1);
        }, options.closeTimeoutMs ?? 25_000);
        timer.unref();
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : "failed to start"}\n`);
      process.exit(1);
    },
  );
}

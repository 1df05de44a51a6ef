/** Live updates: the api's server-sent events (/console/events) invalidate the runs queries when a run changes. */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

export function useLiveRuns(): "live" | "connecting" | "offline" {
  const client = useQueryClient();
  const [state, setState] = useState<"live" | "connecting" | "offline">("connecting");
  useEffect(() => {
    const source = new EventSource("/console/events");
    let first = true;
    source.addEventListener("open", () => setState("live"));
    source.addEventListener("error", () =>
      setState(source.readyState === EventSource.CLOSED ? "offline" : "connecting"),
    );
    source.addEventListener("runs", () => {
      // The first event is the current state, already loaded.
      if (!first) void client.invalidateQueries({ queryKey: ["runs"] });
      void client.invalidateQueries({ queryKey: ["run"] });
      first = false;
    });
    source.addEventListener("signed-out", () => {
      source.close();
      void client.invalidateQueries({ queryKey: ["session"] });
    });
    return () => source.close();
  }, [client]);
  return state;
}

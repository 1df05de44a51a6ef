/**
 * The console's routes (TanStack Router, typed): every filter lives in the URL (validated by zod), so a view can be
 * bookmarked, shared and reloaded. To add a page: a component in pages/, a route here, a link in the nav.
 */
import { useQuery } from "@tanstack/react-query";
import {
  createRootRouteWithContext,
  createRoute,
  createRouter,
  Link,
  Outlet,
  useNavigate,
} from "@tanstack/react-router";
import type { QueryClient } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { z } from "zod";
import { sessionQuery, signOut } from "./api.js";
import { Button, Loading } from "./kit.js";
import { AuditPage } from "./pages/audit.js";
import { RunsPage } from "./pages/runs.js";
import { SettingsPage } from "./pages/settings.js";
import { SignInPage } from "./pages/signin.js";
import { SkillsPage } from "./pages/skills.js";

// The pages with charts load their code (recharts) when first opened: the first page a person sees does not wait for it.
const RunDetailPage = lazy(() => import("./pages/run-detail.js").then((m) => ({ default: m.RunDetailPage })));
const SkillDetailPage = lazy(() => import("./pages/skill-detail.js").then((m) => ({ default: m.SkillDetailPage })));

function Shell() {
  const session = useQuery(sessionQuery);
  const navigate = useNavigate();
  if (session.isPending) return <Loading />;
  if (!session.data) return <SignInPage />;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Praxa</span>
        <nav aria-label="Console">
          <Link to="/runs" activeProps={{ "aria-current": "page" }}>
            Runs
          </Link>
          <Link to="/skills" activeProps={{ "aria-current": "page" }}>
            Skills
          </Link>
          <Link to="/audit" activeProps={{ "aria-current": "page" }}>
            Audit
          </Link>
          <Link to="/settings" activeProps={{ "aria-current": "page" }}>
            Settings
          </Link>
        </nav>
        <span className="who">
          <span className="muted">{session.data.workspaceId}</span> · {session.data.role}
        </span>
        <Button
          onClick={async () => {
            await signOut();
            await session.refetch();
            await navigate({ to: "/" });
          }}
        >
          Sign out
        </Button>
      </header>
      <main id="main">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}

const rootRoute = createRootRouteWithContext<{ queryClient: QueryClient }>()({ component: Shell });

const RunsSearch = z.object({
  status: z.enum(["queued", "running", "succeeded", "failed", "skipped", "cancelled"]).optional().catch(undefined),
  skill: z.string().max(64).optional().catch(undefined),
  trigger: z.string().max(200).optional().catch(undefined),
  from: z.string().max(40).optional().catch(undefined),
  to: z.string().max(40).optional().catch(undefined),
});
export type RunsSearch = z.infer<typeof RunsSearch>;

const AuditSearch = z.object({
  skill: z.string().max(64).optional().catch(undefined),
  run: z.string().max(64).optional().catch(undefined),
  trigger: z.string().max(200).optional().catch(undefined),
  from: z.string().max(40).optional().catch(undefined),
  to: z.string().max(40).optional().catch(undefined),
});
export type AuditSearch = z.infer<typeof AuditSearch>;

const indexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/",
  component: () => <RunsPage search={{}} />,
});
const runsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/runs",
  validateSearch: (s) => RunsSearch.parse(s),
  component: function Runs() {
    return <RunsPage search={runsRoute.useSearch()} />;
  },
});
const runRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/runs/$runId",
  component: function Run() {
    return <RunDetailPage runId={runRoute.useParams().runId} />;
  },
});
const skillsRoute = createRoute({ getParentRoute: () => rootRoute, path: "/skills", component: SkillsPage });
const skillRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/skills/$skillId",
  component: function Skill() {
    return <SkillDetailPage skillId={skillRoute.useParams().skillId} />;
  },
});
const auditRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/audit",
  validateSearch: (s) => AuditSearch.parse(s),
  component: function Audit() {
    return <AuditPage search={auditRoute.useSearch()} />;
  },
});
const settingsRoute = createRoute({ getParentRoute: () => rootRoute, path: "/settings", component: SettingsPage });
const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/signin",
  component: () => <RunsPage search={{}} />,
});

const routeTree = rootRoute.addChildren([
  indexRoute,
  runsRoute,
  runRoute,
  skillsRoute,
  skillRoute,
  auditRoute,
  settingsRoute,
  signInRoute,
]);

export function makeRouter(queryClient: QueryClient) {
  return createRouter({ routeTree, context: { queryClient }, defaultPreload: false });
}

declare module "@tanstack/react-router" {
  interface Register {
    router: ReturnType<typeof makeRouter>;
  }
}

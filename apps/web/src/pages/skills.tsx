/** Skills: which are on, which are paused and why. Open one for its acceptance chart, versions and pause/resume. */
import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { api, isAdmin, sessionQuery, unwrap } from "../api.js";
import { Badge, Empty, ErrorNotice, Loading, Page, Time } from "../kit.js";
import { PublishSkill } from "./skill-publish.js";

export function SkillsPage() {
  const skills = useQuery({ queryKey: ["skills"], queryFn: async () => unwrap(await api.GET("/v1/skills")) });
  const session = useQuery(sessionQuery);
  return (
    <Page title="Skills" lead="Your agents' Skills, their status and why a paused one stopped.">
      {skills.isPending ? (
        <Loading />
      ) : skills.error ? (
        <ErrorNotice error={skills.error} />
      ) : skills.data.skills.length === 0 ? (
        <Empty>No Skill yet.</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">Skills</caption>
          <thead>
            <tr>
              <th scope="col">Skill</th>
              <th scope="col">Status</th>
              <th scope="col">Paused because</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {skills.data.skills.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to="/skills/$skillId" params={{ skillId: s.id }}>
                    {s.name}
                  </Link>{" "}
                  <span className="muted mono small">{s.slug}</span>
                </td>
                <td>
                  <Badge value={s.status} />
                </td>
                <td>{s.pausedReason ?? "—"}</td>
                <td>
                  <Time value={s.pausedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin(session.data) ? <PublishSkill existing={skills.data?.skills ?? []} /> : null}
    </Page>
  );
}

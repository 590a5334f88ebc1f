// The staff flow, typed by the published types (docs/planpulse-api.d.ts): read progress,
// read a deliverable's ETag, change its status with If-Match, a batch, the history.
// The test suite compiles it (tsc --noEmit): a change to the API that breaks it fails there.
import type { components, paths } from "../docs/planpulse-api";

type Progress = components["schemas"]["MandateProgress"];
type Deliverable = components["schemas"]["DeliverablePublic"];
type StatusChange = components["schemas"]["StatusChangeIn"];
type Batch = components["schemas"]["BatchStatusIn"];
type BatchResult = components["schemas"]["BatchResult"];
type History = paths["/api/v1/mandates/{mandate}/deliverables/{code}/history"]["get"]["responses"][200]["content"]["application/json"];
type Stale = components["schemas"]["StaleProblem"];
type StatusHeaders = paths["/api/v1/mandates/{mandate}/deliverables/{code}/status"]["post"]["parameters"]["header"];

async function json<T>(response: Response): Promise<T> {
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function staffFlow(base: string, token: string, mandate: string, code: string) {
  const auth = { Authorization: `Bearer ${token}` };
  const progress = await json<Progress>(await fetch(`${base}/api/v1/mandates/${mandate}/progress`));
  const percent: number | null = progress.totals.progress;

  const read = await fetch(`${base}/api/v1/mandates/${mandate}/deliverables/${code}`);
  const deliverable = await json<Deliverable>(read);
  const etag = read.headers.get("ETag") ?? "";

  const headers: StatusHeaders = { "if-match": etag };
  const change: StatusChange = { status: "completed", note: "Signed off at the Board meeting" };
  const changed = await fetch(`${base}/api/v1/mandates/${mandate}/deliverables/${code}/status`, {
    method: "POST", body: JSON.stringify(change),
    headers: { ...auth, "Content-Type": "application/json", "If-Match": headers["if-match"] },
  });
  if (changed.status === 412) {
    const stale = (await changed.json()) as Stale;
    return { percent, current: stale.current?.status, etag: stale.etag };
  }
  const after = await json<Deliverable>(changed);

  const batch: Batch = { changes: [{ code, if_match: changed.headers.get("ETag") ?? "", status: "in_progress" }] };
  const outcome = await json<BatchResult>(await fetch(
    `${base}/api/v1/mandates/${mandate}/deliverables:batch-status`,
    { method: "POST", body: JSON.stringify(batch), headers: { ...auth, "Content-Type": "application/json" } }));

  const history = await json<History>(await fetch(`${base}/api/v1/mandates/${mandate}/deliverables/${code}/history`));
  return { percent, before: deliverable.status, after: after.status,
           batch: outcome.results.map((item) => item.outcome), changes: history.count };
}

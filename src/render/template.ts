import { Liquid } from "liquidjs";
import { RenderError } from "../errors.js";

/**
 * Templates are Liquid (liquidjs): a template can loop, branch and filter, but never
 * run code, read files or reach the host (includes resolve only in an empty in-memory
 * map), and parse and render are bounded. A variable that is not there is an error,
 * not an empty string: a file rendered from partial data is worse than an old one.
 */
const engine = new Liquid({
  strictVariables: true,
  strictFilters: true,
  ownPropertyOnly: true,
  templates: {},
  parseLimit: 1_000_000,
  renderLimit: 2_000,
  memoryLimit: 64 * 1024 * 1024,
});

export type TemplateData = Record<string, unknown>;

export async function renderTemplate(
  resource: string,
  template: string,
  data: TemplateData,
): Promise<string> {
  try {
    return await engine.parseAndRender(template, data);
  } catch (err) {
    const detail = (err as Error).message.split("\n")[0];
    throw new RenderError(
      "E_RENDER_TEMPLATE",
      resource,
      `render resource ${resource}: the template failed (${detail}); the file stays as it was. Fix the template (key render/${resource}/template) or the data it reads.`,
    );
  }
}

import { isErrno, KeyNotFoundError, RenderError } from "../errors.js";
import type { Store, Tree } from "../store/index.js";
import { forNode, parseSpec, RENDER_DIR, type RenderSpec } from "./spec.js";
import type { TemplateData } from "./template.js";

/** The resources declared in the config fs (the names under `render/`). */
export async function listResources(store: Store): Promise<string[]> {
  try {
    return (await store.ls(RENDER_DIR))
      .filter((k) => k.endsWith("/"))
      .map((k) => k.slice(RENDER_DIR.length + 1, -1));
  } catch (err) {
    if (err instanceof KeyNotFoundError) return [];
    throw err;
  }
}

/** One resource as of one generation: its spec, template and data, read together. */
export interface View {
  generation: number;
  spec: RenderSpec;
  template: string;
  data: TemplateData;
}

/**
 * Reads a resource's spec, template and every key it uses under the store's write
 * lock: one generation's view, never half of one change and half of the next. Through
 * the gluster engine this also goes through the write gate, so a node whose mount is
 * not the current server list (or has no quorum) renders nothing.
 */
export async function readView(store: Store, name: string): Promise<View> {
  return store.underLock(async (ctx) => {
    try {
      return await viewAt(store, name, ctx.head.generation);
    } catch (err) {
      // Which generation's view failed: `wait --applied` reports a failure at it or later only.
      if (err instanceof RenderError) err.generation ??= ctx.head.generation;
      throw err;
    }
  });
}

async function viewAt(store: Store, name: string, generation: number): Promise<View> {
  {
    const spec = forNode(
      parseSpec(name, await resourceText(store, name, `${RENDER_DIR}/${name}/spec`)),
      store.node,
    );
    const template = await resourceText(store, name, `${RENDER_DIR}/${name}/template`);
    const data: TemplateData = {};
    for (const [variable, key] of Object.entries(spec.keys)) {
      const got = await store.get(key).catch((err) => {
        if (err instanceof KeyNotFoundError) throw missing(name, variable, key);
        throw err;
      });
      data[variable] = got.kind === "value" ? got.value.toString("utf8") : strings(await store.readTree(key));
    }
    data.hfs = { node: store.node };
    return { generation, spec, template, data };
  }
}

/** A resource's spec alone (for `--dry-run` and the runner's node filter); undefined when it has none. */
export async function readSpec(store: Store, name: string): Promise<RenderSpec | undefined> {
  try {
    return forNode(
      parseSpec(name, await resourceText(store, name, `${RENDER_DIR}/${name}/spec`)),
      store.node,
    );
  } catch (err) {
    if (err instanceof RenderError && err.code === "E_RENDER_MISSING_KEY") return undefined;
    throw err;
  }
}

async function resourceText(store: Store, resource: string, key: string): Promise<string> {
  try {
    const got = await store.get(key);
    if (got.kind === "value") return got.value.toString("utf8");
  } catch (err) {
    if (!(err instanceof KeyNotFoundError) && !isErrno(err, "ENOENT")) throw err;
  }
  throw new RenderError(
    "E_RENDER_MISSING_KEY",
    resource,
    `render resource ${resource}: ${key} is missing (a resource needs ${RENDER_DIR}/${resource}/spec and ${RENDER_DIR}/${resource}/template); the file stays as it was.`,
  );
}

function missing(resource: string, variable: string, key: string): RenderError {
  return new RenderError(
    "E_RENDER_MISSING_KEY",
    resource,
    `render resource ${resource}: key ${key} (variable ${variable}) does not exist; the file stays as it was. Set it, or drop it from the spec's keys.`,
  );
}

/** A directory as nested objects of strings, entries in name order. */
function strings(tree: Tree): TemplateData {
  const out: TemplateData = {};
  for (const name of Object.keys(tree).sort()) {
    const v = tree[name] as Buffer | Tree;
    out[name] = Buffer.isBuffer(v) ? v.toString("utf8") : strings(v);
  }
  return out;
}

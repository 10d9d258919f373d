import type { Store } from "../../src/store/store.js";
import type { Context } from "../context.js";

export async function runEphemeral(
  _ctx: Context,
  _store: Store,
  _key: string,
  _value: Buffer,
  _ttl: number,
): Promise<void> {
  throw new Error("ephemeral entries are not built yet");
}

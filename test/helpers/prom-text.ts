/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every line is a
 * `# HELP`, a `# TYPE` or a sample `name{label="v",...} value`; anything else throws.
 * Returns the samples as "name{labels}" -> value.
 */
export function parsePromText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const typed = new Set<string>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(meta[3] as string))
          throw new Error(`bad TYPE: ${line}`);
        typed.add(meta[2] as string);
      }
      continue;
    }
    const m = sample.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const base = (m[1] as string).replace(/_(bucket|sum|count)$/, "");
    if (!typed.has(m[1] as string) && !typed.has(base)) throw new Error(`sample without a TYPE: ${line}`);
    out.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return out;
}

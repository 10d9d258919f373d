import { describe, expect, it } from "vitest";
import { parseSpec } from "../../src/render/spec.js";
import { renderTemplate } from "../../src/render/template.js";

describe("parseSpec", () => {
  it("reads a full spec, with defaults for what it leaves out", () => {
    const s = parseSpec(
      "web",
      "dest: /etc/nginx/conf.d/up.conf\nmode: '0640'\nkeys: {servers: app/servers, port: app/port}\ncheck: nginx -t -c {{tmp}}\nreload: nginx -s reload\nnodes: [n2, n1]\nwait: {min: 2, max: 10}\n",
    );
    expect(s).toEqual({
      name: "web",
      dest: "/etc/nginx/conf.d/up.conf",
      mode: 0o640,
      keys: { servers: "app/servers", port: "app/port" },
      check: "nginx -t -c {{tmp}}",
      reload: "nginx -s reload",
      nodes: ["n1", "n2"],
      waitMinMs: 2000,
      waitMaxMs: 10000,
    });
    expect(parseSpec("w", '{"dest": "/tmp/x", "keys": {"a": "k"}}')).toMatchObject({
      mode: 0o644,
      waitMinMs: 1000,
      waitMaxMs: 5000,
    });
  });
  const bad: [string, string, RegExp][] = [
    ["not a mapping", "- a\n- b", /must be a mapping/],
    ["relative dest", "dest: etc/x\nkeys: {a: k}", /dest must be an absolute file path/],
    ["no keys", "dest: /x", /keys must map template variables/],
    ["a bad key", "dest: /x\nkeys: {a: '../etc'}", /keys\.a:/],
    ["a bad variable", "dest: /x\nkeys: {'a-b': k}", /not a variable name/],
    ["a bad mode", "dest: /x\nkeys: {a: k}\nmode: rw", /mode must be octal/],
    ["an unknown field", "dest: /x\nkeys: {a: k}\nreloadd: x", /unknown field "reloadd"/],
    ["max below min", "dest: /x\nkeys: {a: k}\nwait: {min: 5, max: 1}", /wait.max/],
    ["not YAML", "dest: [", /not YAML or JSON/],
  ];
  for (const [what, text, re] of bad) {
    it(`refuses ${what}, naming the resource, the field and the fix`, () => {
      let err: unknown;
      try {
        parseSpec("web", text);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: "E_RENDER_SPEC", exitCode: 2 });
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain("render/web/spec");
    });
  }
  it("refuses a bad resource name", () => {
    expect(() => parseSpec("Web/x", "dest: /x\nkeys: {a: k}")).toThrow(/not a resource name/);
  });
});

describe("templates are safe", () => {
  it("loops over a directory and fills values", async () => {
    const out = await renderTemplate("t", "{% for s in servers %}server {{ s[1] }};\n{% endfor %}", {
      servers: { a: "10.0.0.1:80", b: "10.0.0.2:80" },
    });
    expect(out).toBe("server 10.0.0.1:80;\nserver 10.0.0.2:80;\n");
  });
  const refused: [string, string][] = [
    ["a missing variable (never an empty string)", "{{ nope }}"],
    ["a file include", "{% include '/etc/passwd' %}"],
    ["a relative render", "{% render 'x' %}"],
    ["an unknown filter", "{{ port | shell }}"],
    ["a prototype property", "{{ port.constructor }}"],
  ];
  for (const [what, tpl] of refused) {
    it(`refuses ${what}`, async () => {
      await expect(renderTemplate("t", tpl, { port: "80" })).rejects.toMatchObject({
        code: "E_RENDER_TEMPLATE",
      });
    });
  }
});

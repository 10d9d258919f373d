import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: GlusterFS tests start many processes each; running them side by side only makes both slow.
    maxWorkers: 2,
    reporters: ["default"],
  },
});

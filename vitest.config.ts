import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "fast",
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Each GlusterFS file starts several bricks, mounts and daemons: on a 2-core machine two at once
        // only make both miss their time limits, so they run one file at a time, after the fast ones.
        extends: true,
        test: {
          name: "gluster",
          include: ["test/gluster/**/*.test.ts", "test/faults/**/*.test.ts"],
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

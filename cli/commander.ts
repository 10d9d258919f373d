import { createRequire } from "node:module";

/**
 * commander, loaded as the CommonJS package it is. Through `import`, Node first scans its source
 * for the names it exports (cjs-module-lexer), about 2.5 ms of every command's start.
 */
const commander = createRequire(import.meta.url)("commander") as typeof import("commander");

export const { Command, CommanderError, InvalidArgumentError, Option } = commander;

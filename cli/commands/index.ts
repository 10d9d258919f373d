import type { Command } from "commander";
import { registerCerts } from "./certs.js";
import { registerCluster } from "./cluster.js";
import { registerCoord } from "./coord.js";
import { registerData } from "./data.js";
import { registerMembers } from "./members.js";
import { registerService } from "./service.js";
import { registerSetup } from "./setup.js";
import { registerStatus } from "./status.js";
import { registerTree } from "./tree.js";

export function registerCommands(program: Command): void {
  registerSetup(program);
  registerData(program);
  registerTree(program);
  registerStatus(program);
  registerCluster(program);
  registerCoord(program);
  registerService(program);
  registerMembers(program);
  registerCerts(program);
}

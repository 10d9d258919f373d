/**
 * The systemd unit that runs a node's daemon. Rendered with the paths of this very
 * installation (node, the CLI, the state dir), so it runs what the administrator
 * installed, wherever npm put it.
 */
export interface UnitParams {
  node: string;
  cli: string;
  stateDir: string;
}

/** systemd's quoting for one ExecStart= argument: doubled quotes around anything unusual. */
function quoteArg(arg: string): string {
  if (/^[A-Za-z0-9_./:=@+-]+$/.test(arg)) return arg;
  return `"${arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

export function renderUnit(p: UnitParams): string {
  const exec = [p.node, p.cli, "--state-dir", p.stateDir, "daemon"].map(quoteArg).join(" ");
  return `# Written by 'hfs-config install-service'; run it again to rewrite this file.
[Unit]
Description=hfs-config daemon: this node's config brick, config fs mount and status endpoint
After=network-online.target
Wants=network-online.target

[Service]
# READY=1 once the config fs is mounted and settled (or there is no server to wait for yet);
# 'systemctl status hfs-config' shows the daemon's one-line state.
Type=notify
NotifyAccess=main
ExecStart=${exec}
Restart=on-failure
RestartSec=3
TimeoutStartSec=180
# On SIGTERM the daemon answers the writes it has taken, unmounts and stops its brick itself
# (bounded: about 45 s); only what is left after it exits is killed.
KillMode=mixed
TimeoutStopSec=90
# The brick holds a file descriptor per open file of every client.
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/**
 * Every error code hfs-config reports, with the one exit code it always comes with and what to do
 * about it. Scripts match on the code (`--json` prints it); the message of each error says the same
 * fix for the case at hand. The error classes take only codes from this table, typed by exit code,
 * so a code cannot be raised with two exit codes (test/unit/error-codes.test.ts checks the rest, and
 * that the README lists this table as it is).
 */

export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  unavailable: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

interface CodeInfo {
  readonly exit: ExitCode;
  readonly fix: string;
}

const { error, usage, notFound, conflict, unavailable } = ExitCode;

export const ERROR_CODES = {
  // Bad input: a key, value, flag, file or request. Nothing was changed.
  E_USAGE: { exit: usage, fix: "Correct the command line; every command's --help shows examples." },
  E_KEY_INVALID: { exit: usage, fix: "Use /-separated segments of [A-Za-z0-9_.-], none starting with '.'." },
  E_VALUE_TOO_LARGE: {
    exit: usage,
    fix: "Keep large data elsewhere and store a reference, or raise HFS_MAX_VALUE_BYTES.",
  },
  E_BAD_VERSION: { exit: usage, fix: "Give --if-version a whole number (0: the key must not exist)." },
  E_IS_DIR: { exit: usage, fix: "Pass -r to remove a directory and everything under it." },
  E_BAD_SINCE: { exit: usage, fix: "Give --since a generation, a whole number from 'status --json'." },
  E_BAD_TTL: { exit: usage, fix: "Pass a larger --ttl." },
  E_LOCK_NAME: {
    exit: usage,
    fix: "Name the lock with letters, digits, '_', '.' and '-', not starting with '.'.",
  },
  E_BAD_NAME: {
    exit: usage,
    fix: "Use lower-case letters, digits and '-', starting with a letter or digit.",
  },
  E_BAD_ADDRESS: { exit: usage, fix: "Give an IPv4 or IPv6 address or a host name." },
  E_BAD_PORT: { exit: usage, fix: "Give a TCP port from 1 to 65535." },
  E_BAD_MEMBERS: { exit: usage, fix: "Write one 'NAME ADDRESS[:STATUS_PORT]' a line in the members file." },
  E_BAD_PEER_STATUS: { exit: usage, fix: "Use --members FILE instead of --members-from gluster." },
  E_BAD_SECRET: {
    exit: usage,
    fix: "Give 32 to 512 characters without spaces, e.g. from 'openssl rand -hex 32'.",
  },
  E_BAD_TLS: { exit: usage, fix: "Give the TLS files 'certs' makes: ca.pem, NAME.pem, NAME.key." },
  E_BAD_INIT: {
    exit: usage,
    fix: "Give init a directory, a .json or a .yaml file of keys and string values.",
  },
  E_BAD_BACKUP: { exit: usage, fix: "Give restore a file that 'hfs-config backup' wrote, whole." },
  E_BAD_ENV: { exit: usage, fix: "Correct or unset the environment variable the message names." },
  E_BAD_STATUS_ALLOW: { exit: usage, fix: "Give HFS_STATUS_ALLOW comma-separated IP addresses." },
  E_UNKNOWN_SERVER: { exit: usage, fix: "Name a server of this volume; 'hfs-config status' lists them." },
  E_DIR_ENGINE: {
    exit: usage,
    fix: "The dir engine has no servers or bricks; use the gluster engine for those.",
  },
  E_RENDER_SPEC: { exit: usage, fix: "Correct the render resource's spec (render/NAME/spec)." },
  E_VOLUME_NAME_INVALID: { exit: usage, fix: "Use lower-case letters, digits and '-' for the volume name." },
  E_NODE_NAME_INVALID: {
    exit: usage,
    fix: "Use lower-case letters, digits and '-'; fix it with 'setup --force'.",
  },
  E_VOLUME_ID_INVALID: { exit: usage, fix: "Give the volume id as a UUID." },
  E_PORT_INVALID: { exit: usage, fix: "Give a port from 1 to 65535." },
  E_ADDRESS_INVALID: { exit: usage, fix: "Give an IPv4 or IPv6 address or a host name." },
  E_AUTH_INVALID: { exit: usage, fix: "Use letters, digits, '_', '.' and '-' in volume credentials." },
  E_TLS_PATH_INVALID: { exit: usage, fix: "Use an absolute path without spaces." },
  E_BRICK_DIR_INVALID: { exit: usage, fix: "Use an absolute brick path without spaces." },
  E_DUPLICATE_SERVER: { exit: usage, fix: "Remove the duplicate: each node serves at most one brick." },
  E_TLS_ALLOW_INVALID: { exit: usage, fix: "Give the member names TLS admits, this node's own included." },
  E_NO_ALLOWED_ADDRESSES: {
    exit: usage,
    fix: "Give the member addresses allowed to connect, or volume credentials.",
  },
  E_PING_TIMEOUT_INVALID: { exit: usage, fix: "Use whole seconds from 1 to 1800." },
  E_VOLFILE_NO_SERVERS: {
    exit: usage,
    fix: "Render a volfile for at least one server: 'hfs-config serve' makes one.",
  },
  E_VOLFILE_NOT_A_SERVER: { exit: usage, fix: "Render a brick volfile only for a node in the server list." },
  E_VOLFILE_NO_CLIENT: { exit: usage, fix: "Regenerate the volfile with 'hfs-config volfile'." },
  E_VOLFILE_NO_REPLICATE: { exit: usage, fix: "Regenerate the volfile with 'hfs-config volfile'." },
  E_SPLIT_BRAIN_DUPLICATE_COPY: { exit: usage, fix: "List each brick's copy once." },
  E_SPLIT_BRAIN_NO_COPIES: {
    exit: usage,
    fix: "Bring the entry's servers up and run 'hfs-config repair' again.",
  },
  E_BAD_REQUEST: { exit: usage, fix: "Send the daemon a request of the documented shape." },
  E_BAD_JSON: { exit: usage, fix: "Send the daemon a JSON body." },
  E_TOO_LARGE: { exit: usage, fix: "Send a smaller request; a value is 1 MiB at most by default." },
  E_METHOD: { exit: usage, fix: "Use the method the endpoint names (GET to read, POST to act)." },
  E_NO_ROUTE: {
    exit: usage,
    fix: "Use an endpoint the daemon serves; an older daemon may lack it, restart it.",
  },

  E_NO_FENCING_CHECK: {
    exit: usage,
    fix: "Give the Store a checkFencing (checkFencingToken), or open it with openStore().",
  },

  // Not found.
  E_NOT_FOUND: { exit: notFound, fix: "List what exists with 'hfs-config ls -r'." },
  E_NO_MEMBER: { exit: notFound, fix: "List the members with 'hfs-config members ls'." },

  // A conflict with the state: versions, fencing, locks, the cluster's shape.
  E_VERSION_CONFLICT: {
    exit: conflict,
    fix: "Read the key again and retry with --if-version of what you read.",
  },
  E_FENCED: { exit: conflict, fix: "This holder lost the lock: acquire it again before writing." },
  E_FENCING_UNKNOWN: { exit: conflict, fix: "Pass the token the lock gave (HFS_FENCING_TOKEN)." },
  E_LOCK_TIMEOUT: { exit: conflict, fix: "See 'hfs-config locks'; wait longer with --timeout." },
  E_LOCK_LOST: { exit: conflict, fix: "Stop the protected work and acquire the lock again." },
  E_KEY_IS_DIR: {
    exit: conflict,
    fix: "Set one of the directory's entries, or remove it with 'rm -r' first.",
  },
  E_NOT_A_DIR: { exit: conflict, fix: "Remove the value first to turn it into a directory." },
  E_JOURNAL_GAP: {
    exit: conflict,
    fix: "Re-read the keys you follow, then watch from the generation 'status' shows.",
  },
  E_POPULATED: {
    exit: conflict,
    fix: "Pass --force to replace everything (a backup is saved first), or use 'set'.",
  },
  E_ALREADY_SETUP: { exit: conflict, fix: "Pass --force to change this node's identity." },
  E_ALREADY_RETIRED: { exit: conflict, fix: "Nothing to do; 'hfs-config status' shows the servers." },
  E_RETIRED: {
    exit: conflict,
    fix: "Run 'hfs-config serve' on the node: it sets the old brick aside and starts afresh.",
  },
  E_LAST_SERVER: { exit: conflict, fix: "Serve another node first, or pass --force if you mean to." },
  E_FOREIGN_VOLUME: { exit: conflict, fix: "Mount this node's own volume; check the members and 'status'." },
  E_NO_VOLUME_RECORD: { exit: conflict, fix: "Run 'hfs-config repair' first." },
  E_MEMBER_EXISTS: { exit: conflict, fix: "Remove the member first ('members rm'), then add it again." },
  E_MEMBER_ADDRESS: { exit: conflict, fix: "Give each member its own address or status port." },
  E_MEMBER_SERVES: {
    exit: conflict,
    fix: "Retire the node first ('hfs-config retire NODE'), then remove it.",
  },
  E_RENDER_FAILED: {
    exit: conflict,
    fix: "Fix the failing resource on the nodes named; 'render status' shows why.",
  },

  // Unavailable now: no quorum, no mount, no daemon. Trying again later may work; a write's outcome is unknown.
  E_NO_QUORUM: {
    exit: unavailable,
    fix: "Check 'hfs-config status', bring servers back, then read before retrying.",
  },
  E_NOT_MOUNTED: { exit: unavailable, fix: "Check 'hfs-config status'; the daemon mounts the config fs." },
  E_STALE_MOUNT: { exit: unavailable, fix: "Wait for the daemon to remount the current servers ('status')." },
  E_NO_CONFIG_FS: {
    exit: unavailable,
    fix: "Create the dir engine's directory, or 'setup --force --dir PATH'.",
  },
  E_LOCK_WAIT: { exit: unavailable, fix: "Nothing was written; retry later, and check 'hfs-config status'." },
  E_WRITE_CONTENTION: { exit: unavailable, fix: "Nothing was written; retry later." },
  E_COMMITTED_UNFINISHED: { exit: unavailable, fix: "The next write finishes it; read the key again." },
  E_WRITE_LOCK_LOST: {
    exit: unavailable,
    fix: "Read the key again before retrying: the next write finishes what had committed.",
  },
  E_JOURNAL_UNREADABLE: { exit: unavailable, fix: "Try again; if it lasts, check 'hfs-config status'." },
  E_OUTCOME_UNKNOWN: { exit: unavailable, fix: "Read the key before retrying: the write may have happened." },
  E_DAEMON_UNREACHABLE: { exit: unavailable, fix: "Start the daemon: 'hfs-config daemon' or the service." },
  E_DAEMON_REPLY: { exit: unavailable, fix: "See the daemon's log; restart it if it lasts." },
  E_DAEMON_STOPPING: { exit: unavailable, fix: "Run the command again once the daemon is back." },
  E_STARTING: { exit: unavailable, fix: "Ask again in a second." },
  E_NOT_COMMITTER: {
    exit: unavailable,
    fix: "Nothing: the member commits its writes itself, or hands them to another, soon.",
  },
  E_LEASE_LOST: { exit: unavailable, fix: "The entry is gone; run the command again to hold it anew." },
  E_HEAL_TIMEOUT: {
    exit: unavailable,
    fix: "It goes on healing in the background; follow it with 'status'.",
  },
  E_MOUNT_TIMEOUT: {
    exit: unavailable,
    fix: "Check that a quorum of servers runs ('status'); see the mount log.",
  },
  E_NO_SERVERS: { exit: unavailable, fix: "Serve a node first; 'hfs-config status' shows the markers." },
  E_MARK_BRICK: { exit: unavailable, fix: "See the repair mount's log, then run 'hfs-config repair'." },
  E_SPLIT_BRAIN_SCAN_UNREACHABLE: {
    exit: unavailable,
    fix: "Bring every server up and run 'hfs-config repair' again.",
  },
  E_SPLIT_BRAIN_STATUS: { exit: unavailable, fix: "Resolve through a repair mount with every server up." },
  E_WAIT_TIMEOUT: {
    exit: unavailable,
    fix: "See 'render status' for the lagging nodes; wait longer with --timeout.",
  },

  // Setup or environment: this node's files, binaries, ports, processes.
  E_NO_SETUP: {
    exit: error,
    fix: "Run 'hfs-config setup --name NAME --address ADDR' first, or give --state-dir.",
  },
  E_BAD_NODE_CONFIG: { exit: error, fix: "Correct node.json, or write it again with 'setup ... --force'." },
  E_CORRUPT: { exit: error, fix: "Run 'hfs-config repair', or restore from a backup." },
  E_PERMISSION: {
    exit: error,
    fix: "Run as root; reads also work for the node's read group ('setup --group').",
  },
  E_NO_XATTR: { exit: error, fix: "Put the dir engine on a filesystem with user xattrs (ext4, xfs, btrfs)." },
  E_GLUSTER_MISSING: { exit: error, fix: "apt-get install -y glusterfs-server glusterfs-client." },
  E_GLUSTER_PEERS: { exit: error, fix: "Start glusterd, or use --members FILE." },
  E_VOLFILE_TEMPLATES_MISSING: { exit: error, fix: "Reinstall hfs-config: the package ships volfiles/." },
  E_ADDRESS_NOT_LOCAL: { exit: error, fix: "Give an address of this machine: 'setup --address A --force'." },
  E_PORT_IN_USE: {
    exit: error,
    fix: "Stop what holds the port, or choose another ('setup --status-port P --force').",
  },
  E_DAEMON_RUNNING: { exit: error, fix: "Stop the running daemon first, or use another --state-dir." },
  E_DAEMON_NO_REASON: { exit: error, fix: "See the daemon's log." },
  E_READ_DIR: { exit: error, fix: "Remove the read dir; the daemon makes it afresh, root's." },
  E_FORBIDDEN: {
    exit: error,
    fix: "Add a monitor's address to HFS_STATUS_ALLOW in the daemon's environment.",
  },
  E_NOT_A_SERVER: { exit: error, fix: "Run 'hfs-config serve' first." },
  E_PEER_SEAL: {
    exit: error,
    fix: "Run NTP on every node; another cluster's members, or copied requests, are refused.",
  },
  E_BRICK_DIR_MISSING: { exit: error, fix: "Run 'hfs-config serve' to create the brick." },
  E_BRICK_DIR_NOT_EMPTY: { exit: error, fix: "Use an empty brick directory; set the old one aside by hand." },
  E_BRICK_START_FAILED: {
    exit: error,
    fix: "Fix the cause the brick log names, then 'hfs-config serve' again.",
  },
  E_BRICK_VOLUME_ID_DAMAGED: {
    exit: error,
    fix: "Check the brick directory; remove its volume-id xattr only if it is the right one.",
  },
  E_BRICK_VOLUME_MISMATCH: {
    exit: error,
    fix: "Use an empty directory, or retire and remove the old brick on purpose.",
  },
  E_BRICK_XATTR_FAILED: { exit: error, fix: "Run as root, on a filesystem with trusted xattrs." },
  E_XATTR_UNSUPPORTED: { exit: error, fix: "Put the brick on ext4 or xfs, and run as root." },
  E_STOP_FAILED: {
    exit: error,
    fix: "The process is stuck on I/O: check /proc/PID/stack, 'umount -l' stale mounts.",
  },
  E_MOUNT_BUSY: { exit: error, fix: "Unmount what is there ('umount', or 'umount -l' if busy) and retry." },
  E_MOUNT_FAILED: {
    exit: error,
    fix: "Check that the servers run and allow this node (the mount log says), then retry.",
  },
  E_UNMOUNT_FAILED: { exit: error, fix: "Run 'umount -l MOUNTPOINT' as root." },
  E_TLS_STATE: {
    exit: error,
    fix: "Give setup --tls-dir again with ca.pem, NAME.pem and NAME.key, or --no-tls.",
  },
  E_OPENSSL_MISSING: { exit: error, fix: "apt-get install -y openssl." },
  E_OPENSSL_FAILED: { exit: error, fix: "Read openssl's message; check the certs dir is writable." },
  E_SYSTEMCTL: { exit: error, fix: "Run 'systemctl daemon-reload' by hand." },
  E_SPLIT_BRAIN_NEEDS_VOLFILE: {
    exit: error,
    fix: "Resolve with the repair volfile and glfsheal ('hfs-config repair').",
  },
  E_SPLIT_BRAIN_NOT_RESOLVED: {
    exit: error,
    fix: "Bring every server up and run 'hfs-config repair' again; see the mount log.",
  },
  E_SPLIT_BRAIN_AMBIGUOUS_BRICK: { exit: error, fix: "Give each server its own address and brick path." },
  E_SPLIT_BRAIN_BRICK_UNKNOWN: {
    exit: error,
    fix: "Regenerate the repair volfile with every server listed.",
  },
  E_SPLIT_BRAIN_PATH: { exit: error, fix: "Name an entry inside the config fs." },
  E_SPLIT_BRAIN_STATUS_UNKNOWN: { exit: error, fix: "Resolve the entry by hand with glfsheal." },
  E_RENDER: { exit: error, fix: "See the resource's error in 'render status'." },
  E_RENDER_TEMPLATE: { exit: error, fix: "Fix the template (render/NAME/template) or the data it reads." },
  E_RENDER_MISSING_KEY: { exit: error, fix: "Set the key the template reads, or give it a default." },
  E_RENDER_CHECK: { exit: error, fix: "Fix what the check command reports; the old file stays in place." },
  E_RENDER_INSTALL: { exit: error, fix: "Make the destination writable, or fix its path in the spec." },
  E_INTERNAL: { exit: error, fix: "A bug: report it with the command you ran and the daemon's log." },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes that come with exit code `E`: what each error class may be given. */
export type CodeWith<E extends ExitCode> = {
  [K in ErrorCode]: (typeof ERROR_CODES)[K]["exit"] extends E ? K : never;
}[ErrorCode];

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

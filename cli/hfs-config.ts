#!/usr/bin/env node
// Before anything touches the file system: the store runs up to 16 file operations at
// once (staging, renames) and 64 for a directory read whole, each a round trip to the
// bricks, and the default pool of 4 worker threads would queue them. The pool is
// created on first use, so this must come first.
process.env.UV_THREADPOOL_SIZE ??= "64";
// The one place that ends the process: everything else calls exit() in ./exit.js.
const { setExit } = await import("./exit.js");
setExit((code) => process.exit(code));
await import("./main.js");

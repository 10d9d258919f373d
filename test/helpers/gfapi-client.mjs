// A libgfapi client, as an intruder with a volfile would write one: no FUSE, no store, no daemon.
// Usage: node gfapi-client.mjs VOLFILE LOGFILE PATH CONTENT
// Exit 0: written. 10: glfs_init failed. 11: the create or the write failed. Prints what failed.
import koffi from "koffi";

const [volfile, logfile, path, content] = process.argv.slice(2);
const lib = koffi.load("libgfapi.so.0");
const glfs_new = lib.func("void *glfs_new(const char *volname)");
const glfs_set_volfile = lib.func("int glfs_set_volfile(void *fs, const char *volfile)");
const glfs_set_logging = lib.func("int glfs_set_logging(void *fs, const char *logfile, int loglevel)");
const glfs_init = lib.func("int glfs_init(void *fs)");
const glfs_creat = lib.func("void *glfs_creat(void *fs, const char *path, int flags, uint32_t mode)");
const glfs_write = lib.func("long glfs_write(void *fd, const void *buf, size_t count, int flags)");
const glfs_close = lib.func("int glfs_close(void *fd)");
const glfs_fini = lib.func("int glfs_fini(void *fs)");

const fs = glfs_new("hfs-config");
glfs_set_volfile(fs, volfile);
glfs_set_logging(fs, logfile, 7);
if (glfs_init(fs) !== 0) {
  console.log(`glfs_init failed: errno ${koffi.errno()}`);
  process.exit(10);
}
const O_WRONLY = 1;
const O_TRUNC = 0o1000;
const fd = glfs_creat(fs, path, O_WRONLY | O_TRUNC, 0o600);
if (fd === null) {
  console.log(`glfs_creat ${path} failed: errno ${koffi.errno()}`);
  glfs_fini(fs);
  process.exit(11);
}
const buf = Buffer.from(content);
const n = glfs_write(fd, buf, buf.length, 0);
glfs_close(fd);
glfs_fini(fs);
if (n !== buf.length) {
  console.log(`glfs_write ${path} wrote ${n}: errno ${koffi.errno()}`);
  process.exit(11);
}
console.log(`wrote ${path}`);

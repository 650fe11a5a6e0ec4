/* photon.h — Photon's own host calls for C guests (the "photon" import module; src/Photon.Sandbox/HostImports.cs).
 *
 * A guest reaches the kernel only through handles in its own process's table. It gets them by opening names bound in
 * its namespace (what it was granted: a channel end bound as "chan" is opened as "/chan"). Every call returns a
 * non-negative value on success and a negated Photon error code (PHOTON_E*) on failure; no call traps on bad input.
 * Build with: clang --target=wasm32-wasi --sysroot=/usr -O2 -I examples/sdk prog.c -o prog.wasm
 */
#ifndef PHOTON_H
#define PHOTON_H

#include <stdint.h>

#define PHOTON_IMPORT(name) __attribute__((import_module("photon"), import_name(name)))

/* Rights (src/Photon.Kernel/Capabilities/Rights.cs). */
#define PHOTON_RIGHT_READ     (1 << 0)
#define PHOTON_RIGHT_WRITE    (1 << 1)
#define PHOTON_RIGHT_EXECUTE  (1 << 2)
#define PHOTON_RIGHT_DELEGATE (1 << 4)
#define PHOTON_RIGHT_CONNECT  (1 << 9)

/* Error codes (src/Photon.Kernel/KernelError.cs, ErrorCode); calls return them negated. */
#define PHOTON_EINVALIDARGUMENT 1
#define PHOTON_EINVALIDHANDLE   2
#define PHOTON_EREVOKED         5
#define PHOTON_EACCESSDENIED    6
#define PHOTON_EWRONGOBJECTTYPE 7
#define PHOTON_EOUTOFRANGE      10
#define PHOTON_ENOTFOUND        11
#define PHOTON_EQUOTAEXCEEDED   15
#define PHOTON_EWOULDBLOCK      18
#define PHOTON_ECLOSED          19

/* Largest IPC message (IpcManager.MaxMessageBytes). */
#define PHOTON_MAX_MESSAGE 65536

/* Appends a line to the instance's log (at most 4096 bytes). */
PHOTON_IMPORT("log") int32_t photon_log(const char *text, int32_t len);
/* Monotonic time since boot in nanoseconds. */
PHOTON_IMPORT("clock_now") int64_t photon_clock_now(void);
/* Opens a name in the guest's namespace with at most `rights`; returns a handle. */
PHOTON_IMPORT("open") int32_t photon_open(const char *path, int32_t len, int32_t rights);

/* A memory region granted to the guest: copy bytes out of / into it at `offset`. */
PHOTON_IMPORT("region_read") int32_t photon_region_read(int32_t handle, int32_t offset, void *buf, int32_t len);
PHOTON_IMPORT("region_write") int32_t photon_region_write(int32_t handle, int32_t offset, const void *buf, int32_t len);

/* IPC on a channel end: send a message; take one without blocking (-PHOTON_EWOULDBLOCK when none is waiting; a
 * message longer than `cap` is dropped with -PHOTON_EOUTOFRANGE). Returns the byte count. */
PHOTON_IMPORT("ipc_send") int32_t photon_ipc_send(int32_t handle, const void *buf, int32_t len);
PHOTON_IMPORT("ipc_recv") int32_t photon_ipc_recv(int32_t handle, void *buf, int32_t cap);

/* Handles from photon_open may be closed through the file call for files; other handles live as long as the guest. */
PHOTON_IMPORT("file_close") int32_t photon_file_close(int32_t handle);

#endif

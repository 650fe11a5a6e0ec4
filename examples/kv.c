/* kv: a small key-value service over Photon IPC. It serves the channel end granted to it as "chan":
 *   "set KEY VALUE" -> "ok"      "get KEY" -> the value, or "(none)"      "del KEY" -> "ok" or "(none)"
 *   "count" -> the number of keys    "quit" -> "bye", and the program exits 0
 * Anything else is answered "error: ...". Waiting for the next request sleeps through WASI (poll_oneoff), so the
 * service uses both Photon's own calls (photon.h) and wasi-libc. Exit code 1: the channel could not be opened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "photon.h"

#define MAX_KEYS 256

static char *keys[MAX_KEYS], *values[MAX_KEYS];
static int count;

static int find(const char *k) {
    for (int i = 0; i < count; i++) if (!strcmp(keys[i], k)) return i;
    return -1;
}

static void reply(int32_t h, const char *text) { photon_ipc_send(h, text, (int32_t)strlen(text)); }

int main(void) {
    int32_t chan = photon_open("/chan", 5, PHOTON_RIGHT_READ | PHOTON_RIGHT_WRITE);
    if (chan < 0) { fprintf(stderr, "kv: cannot open /chan: error %d\n", -chan); return 1; }
    static char msg[PHOTON_MAX_MESSAGE + 1];
    char out[64];
    for (;;) {
        int32_t n = photon_ipc_recv(chan, msg, PHOTON_MAX_MESSAGE);
        if (n == -PHOTON_EWOULDBLOCK) {
            struct timespec ts = {0, 1000000}; /* 1 ms */
            nanosleep(&ts, NULL);
            continue;
        }
        if (n < 0) { fprintf(stderr, "kv: receive failed: error %d\n", -n); return 2; }
        msg[n] = 0;
        char *cmd = strtok(msg, " "), *k = strtok(NULL, " "), *v = strtok(NULL, "");
        if (!cmd) { reply(chan, "error: empty request"); continue; }
        if (!strcmp(cmd, "quit")) { reply(chan, "bye"); return 0; }
        if (!strcmp(cmd, "count")) { snprintf(out, sizeof out, "%d", count); reply(chan, out); continue; }
        if (!k) { reply(chan, "error: missing key"); continue; }
        int at = find(k);
        if (!strcmp(cmd, "get")) reply(chan, at < 0 ? "(none)" : values[at]);
        else if (!strcmp(cmd, "set") && v) {
            if (at < 0) {
                if (count == MAX_KEYS) { reply(chan, "error: full"); continue; }
                at = count++;
                keys[at] = strdup(k);
            } else free(values[at]);
            values[at] = strdup(v);
            reply(chan, "ok");
        } else if (!strcmp(cmd, "del")) {
            if (at < 0) { reply(chan, "(none)"); continue; }
            free(keys[at]); free(values[at]);
            keys[at] = keys[count - 1]; values[at] = values[count - 1];
            count--;
            reply(chan, "ok");
        } else reply(chan, "error: unknown request");
    }
}

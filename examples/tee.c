/* tee: copies stdin to stdout and to each FILE (created or truncated; appended with -a). Exit 1 if a file cannot be
 * opened or written — e.g. through a read-only grant. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_FILES 16

int main(int argc, char **argv) {
    const char *mode = "wb";
    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "-a")) { mode = "ab"; first = 2; }
    FILE *out[MAX_FILES];
    int n = 0, status = 0;
    for (int i = first; i < argc && n < MAX_FILES; i++) {
        FILE *f = fopen(argv[i], mode);
        if (!f) { fprintf(stderr, "tee: %s: %s\n", argv[i], strerror(errno)); status = 1; continue; }
        out[n++] = f;
    }
    static char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, stdin)) > 0) {
        fwrite(buf, 1, got, stdout);
        for (int i = 0; i < n; i++)
            if (fwrite(buf, 1, got, out[i]) != got) { fprintf(stderr, "tee: write: %s\n", strerror(errno)); status = 1; }
    }
    for (int i = 0; i < n; i++) if (fclose(out[i]) != 0) { fprintf(stderr, "tee: close: %s\n", strerror(errno)); status = 1; }
    return status;
}

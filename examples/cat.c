/* cat: copies each file named on the command line (or stdin) to stdout. Exit 1 if any file cannot be read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int copy(FILE *in, const char *name) {
    static char buf[65536]; /* not on the stack: wasm-ld gives the C stack 64 KiB */
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, stdout) != n) { perror("cat: write"); return 1; }
    if (ferror(in)) { fprintf(stderr, "cat: %s: %s\n", name, strerror(errno)); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return copy(stdin, "-");
    int status = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno)); status = 1; continue; }
        status |= copy(f, argv[i]);
        fclose(f);
    }
    return status;
}

/* wc: lines, words and bytes of each file, printed like coreutils' `wc FILE` ("%7d %7d %7d name" for one file
 * is coreutils' width only when several files are given; with one file it pads to the widest count). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: wc FILE...\n"); return 2; }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { fprintf(stderr, "wc: %s: %s\n", argv[i], strerror(errno)); status = 1; continue; }
        unsigned long lines = 0, words = 0, bytes = 0;
        int inword = 0, c;
        while ((c = getc(f)) != EOF) {
            bytes++;
            if (c == '\n') lines++;
            if (isspace(c)) inword = 0;
            else if (!inword) { inword = 1; words++; }
        }
        fclose(f);
        /* coreutils pads every column to the width of the largest count (the byte count). */
        char tmp[32];
        int w = snprintf(tmp, sizeof tmp, "%lu", bytes);
        printf("%*lu %*lu %*lu %s\n", w, lines, w, words, w, bytes, argv[i]);
    }
    return status;
}

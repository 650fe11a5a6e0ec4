/* ls: lists each directory named (default "."), one entry per line, sorted; directories get a trailing '/'. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list(const char *path) {
    DIR *d = opendir(path);
    if (!d) { fprintf(stderr, "ls: %s: %s\n", path, strerror(errno)); return 1; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) { cap = cap ? cap * 2 : 64; names = realloc(names, cap * sizeof *names); if (!names) return 1; }
        size_t len = strlen(e->d_name);
        names[n] = malloc(len + 2);
        memcpy(names[n], e->d_name, len + 1);
        if (e->d_type == DT_DIR) strcat(names[n], "/");
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    for (size_t i = 0; i < n; i++) { puts(names[i]); free(names[i]); }
    free(names);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return list(".");
    int status = 0;
    for (int i = 1; i < argc; i++) status |= list(argv[i]);
    return status;
}

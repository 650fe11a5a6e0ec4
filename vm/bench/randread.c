/* randread — Linux's side of `vm/bench.sh`: 4 KiB random reads with O_DIRECT on a block device through Linux's own
 * driver, at queue depth QD (QD threads, each with one pread in flight, so the device sees up to QD commands), for
 * SECONDS. Prints one line the guest bench parses:  randread qd=QD ios=N seconds=S iops=X mean_us=Y
 * Built static (gcc -static) so the busybox initramfs needs nothing else.  Usage: randread DEVICE QD SECONDS */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static int fd;
static uint64_t blocks4k;
static double deadline;
static volatile int failed;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

struct worker { pthread_t thread; unsigned seed; uint64_t ios; double busy; };
/* Every worker is created before the clock starts: under TCG creating 32 threads takes tens of ms, which a short
 * slice (vm/bench.sh's paired comparison, 0.5 s) would otherwise count against Linux. */
static pthread_barrier_t started;

static void *run(void *arg) {
    struct worker *w = arg;
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, 4096)) failed = 1;
    pthread_barrier_wait(&started);
    while (!failed) {
        double t0 = now();
        if (t0 >= deadline) break;
        uint64_t block = ((uint64_t)rand_r(&w->seed) << 31 | (uint64_t)rand_r(&w->seed)) % blocks4k;
        if (pread(fd, buf, 4096, (off_t)(block * 4096)) != 4096) { perror("randread: pread"); failed = 1; break; }
        w->busy += now() - t0;
        w->ios++;
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: randread DEVICE QD SECONDS\n"); return 2; }
    int qd = atoi(argv[2]);
    double seconds = atof(argv[3]);
    if (qd < 1 || qd > 256 || seconds <= 0 || seconds > 3600) { fprintf(stderr, "randread: QD 1..256, SECONDS 0..3600\n"); return 2; }
    fd = open(argv[1], O_RDONLY | O_DIRECT);
    if (fd < 0) { perror("randread: open"); return 1; }
    uint64_t bytes = 0;
    struct stat st;
    if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0; /* a plain file */
    if (bytes < 4096) { fprintf(stderr, "randread: %s is smaller than 4 KiB\n", argv[1]); return 1; }
    blocks4k = bytes / 4096;
    struct worker *ws = calloc((size_t)qd, sizeof *ws);
    pthread_barrier_init(&started, NULL, (unsigned)qd + 1);
    for (int i = 0; i < qd; i++) {
        ws[i].seed = 0x9e3779b9u * (unsigned)(i + 1);
        if (pthread_create(&ws[i].thread, NULL, run, &ws[i])) { perror("randread: pthread_create"); return 1; }
    }
    double start = now();
    deadline = start + seconds;
    pthread_barrier_wait(&started);
    uint64_t ios = 0; double busy = 0;
    for (int i = 0; i < qd; i++) { pthread_join(ws[i].thread, NULL); ios += ws[i].ios; busy += ws[i].busy; }
    double elapsed = now() - start;
    if (failed || ios == 0) return 1;
    printf("randread qd=%d ios=%llu seconds=%.3f iops=%.1f mean_us=%.1f\n", qd, (unsigned long long)ios, elapsed, ios / elapsed,
           busy / ios * 1e6);
    return 0;
}

/* od_metrics_proc.c - process figures read at scrape time: memory, open
 * descriptors, CPU time. Names are the Prometheus client libraries'
 * standard process_* names, which every dashboard already knows. */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "od_metrics_int.h"

static int read_statm(long long *vsz_pages, long long *rss_pages)
{
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return -1;
    int n = fscanf(f, "%lld %lld", vsz_pages, rss_pages);
    fclose(f);
    return n == 2 ? 0 : -1;
}

static long long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long long n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

void od_mproc_render(od_mtext_t *t)
{
    long long vsz, rss;
    long page = sysconf(_SC_PAGESIZE);
    if (read_statm(&vsz, &rss) == 0 && page > 0) {
        od_expo_family(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        od_expo_int(t, "process_resident_memory_bytes", NULL, 0, rss * page);
        od_expo_family(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        od_expo_int(t, "process_virtual_memory_bytes", NULL, 0, vsz * page);
    }
    /* The allocator's view: what the broker holds on the heap, which RSS
     * hides behind freed-but-kept pages. */
    struct mallinfo2 mi = mallinfo2();
    od_expo_family(t, "odradek_memory_heap_allocated_bytes", "gauge",
                   "Bytes allocated with malloc and not freed (glibc mallinfo2).");
    od_expo_int(t, "odradek_memory_heap_allocated_bytes", NULL, 0,
                (int64_t)(mi.uordblks + mi.hblkhd));
    long long fds = count_fds();
    if (fds >= 0) {
        od_expo_family(t, "process_open_fds", "gauge", "Number of open file descriptors.");
        od_expo_int(t, "process_open_fds", NULL, 0, fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        od_expo_family(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        od_expo_int(t, "process_max_fds", NULL, 0,
                    rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        od_expo_family(t, "process_cpu_seconds_total", "counter",
                       "Total user and system CPU time spent in seconds.");
        od_expo_double(t, "process_cpu_seconds_total", NULL, 0, cpu);
    }
    od_expo_family(t, "process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.");
    od_expo_double(t, "process_start_time_seconds", NULL, 0, od_mstate.start_time);
}

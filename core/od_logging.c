/* od_logging.c - timestamped log lines on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "od_core.h"

static int log_level = OD_LOG_INFO;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void od_logging_set_level(int level) { log_level = level; }

int od_logging_level_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcasecmp(name, level_names[i]) == 0)
            return i;
    if (name && strcasecmp(name, "warning") == 0)
        return OD_LOG_WARN;
    return -1;
}

void od_logf(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so lines from a crash are not interleaved. */
    fprintf(stderr, "%s\n", line);
}

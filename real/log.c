/* Leveled logging to stderr. */
#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum real_log_level log_level = REAL_LOG_INFO;

void real_log_set_level(enum real_log_level level)
{
    log_level = level;
}

int real_log_parse_level(const char *word)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(word, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void real_log(enum real_log_level level, const char *fmt, ...)
{
    static const char *const words[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    if (level > log_level) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ld %s %s\n", stamp, ts.tv_nsec / 1000000, words[level], line);
}

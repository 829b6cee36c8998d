/* Logging for the real build: leveled lines on stderr, each with a UTC
 * timestamp and a level word, so a supervisor's journal reads well. */
#ifndef COORD_REAL_LOG_H
#define COORD_REAL_LOG_H

enum real_log_level {
    REAL_LOG_ERROR = 0,
    REAL_LOG_WARN = 1,
    REAL_LOG_INFO = 2,
    REAL_LOG_DEBUG = 3,
};

void real_log_set_level(enum real_log_level level);
/* "error", "warn", "info", "debug"; returns -1 for anything else. */
int real_log_parse_level(const char *word);
void real_log(enum real_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define REAL_ERROR(...) real_log(REAL_LOG_ERROR, __VA_ARGS__)
#define REAL_WARN(...) real_log(REAL_LOG_WARN, __VA_ARGS__)
#define REAL_INFO(...) real_log(REAL_LOG_INFO, __VA_ARGS__)
#define REAL_DEBUG(...) real_log(REAL_LOG_DEBUG, __VA_ARGS__)

#endif /* COORD_REAL_LOG_H */

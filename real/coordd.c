/* coordd: the coord server, deployable for real.
 *
 *   coordd CONFIG
 *
 * Reads a zoo.cfg-style configuration (the same file an Apache ZooKeeper
 * operator already has), recovers its state from dataDir (newest valid
 * snapshot plus the transaction log after it), and serves ZooKeeper clients on
 * clientPort. With server.N lines (and dataDir/myid) it joins an ensemble:
 * it connects to the other servers on their peer ports, takes part in leader
 * election, and replicates writes with ZAB (protocol/zab.c); clients may use
 * any member. Runs in the foreground; SIGTERM or SIGINT shut it down cleanly.
 * Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 for a bad
 * command line or configuration. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "disk.h"
#include "log.h"
#include "loop.h"

_Noreturn void coord_panic(const char *file, int line, const char *expr)
{
    REAL_ERROR("internal error: assertion failed at %s:%d: %s", file, line, expr);
    abort();
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed) {
            seed = 0;
        }
        close(fd);
    }
    return seed ^ (uint64_t)real_wall_ms() ^ ((uint64_t)getpid() << 32);
}

static void disk_warning(void *arg, const char *msg)
{
    (void)arg;
    REAL_WARN("storage: %s", msg);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: coordd CONFIG\n"
            "\n"
            "Runs a coord server in the foreground with a zoo.cfg-style CONFIG\n"
            "(tickTime, dataDir, dataLogDir, clientPort, clientPortAddress,\n"
            "maxClientCnxns, minSessionTimeout, maxSessionTimeout,\n"
            "4lw.commands.whitelist, ...). With server.N=host:peerport:electionport\n"
            "lines, initLimit, syncLimit and a dataDir/myid file it runs as one\n"
            "member of an ensemble. Speaks Apache ZooKeeper's client protocol.\n"
            "SIGTERM stops it cleanly.\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    static struct real_config cfg;
    char err[512];
    if (real_config_load(&cfg, argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "coordd: %s\n", err);
        return 2;
    }
    if (cfg.log_level[0] != '\0') {
        int level = real_log_parse_level(cfg.log_level);
        if (level >= 0) {
            real_log_set_level((enum real_log_level)level);
        }
    }
    for (size_t i = 0; i < cfg.warning_count; i++) {
        REAL_WARN("%s", cfg.warnings[i]);
    }
    if (cfg.standalone) {
        REAL_INFO("standalone mode");
    } else {
        REAL_INFO("quorum mode: server %u, in an ensemble of %zu participants and %zu observers%s",
                  cfg.server_id, cfg.core.voter_count, cfg.core.observer_count,
                  cfg.core.read_only_enabled ? ", read-only mode enabled" : "");
    }
    /* Block the stop signals before any thread starts, so only the event
     * loop's signalfd receives them and shutdown is always the clean path. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    static struct real_disk disk;
    if (real_disk_open(&disk, cfg.data_dir, cfg.data_log_dir[0] ? cfg.data_log_dir : NULL, err,
                       sizeof err) != 0) {
        REAL_ERROR("%s", err);
        return 1;
    }
    real_disk_set_warn(&disk, disk_warning, NULL);
    struct coord_storage storage;
    if (real_disk_recover(&disk, &storage, err, sizeof err) != 0) {
        REAL_ERROR("%s", err);
        real_disk_close(&disk);
        return 1;
    }
    static struct real_loop loop;
    int code;
    int init = real_loop_init(&loop, &cfg, &disk, &storage, random_seed());
    real_disk_release_recovery(&disk); /* The server holds its own copy now. */
    if (init != 0) {
        REAL_ERROR("%s", loop.errmsg);
        code = 1;
    } else {
        code = real_loop_run(&loop);
    }
    real_loop_close(&loop);
    real_disk_close(&disk);
    REAL_INFO("stopped");
    return code;
}
